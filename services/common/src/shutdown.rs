//! Process-wide shutdown: SIGTERM or Ctrl-C, observed by the HTTP server (which stops accepting) and by the
//! ZooKeeper election (which leaves the group at once, so a standby takes over without waiting for this
//! process's session to expire).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Once, OnceLock};
use std::time::Duration;
use tokio::sync::watch;

/// Work that must finish before the process may end after a shutdown request (see [`hold`]).
static HOLDS: AtomicUsize = AtomicUsize::new(0);

fn flag() -> &'static watch::Sender<bool> {
    static FLAG: OnceLock<watch::Sender<bool>> = OnceLock::new();
    FLAG.get_or_init(|| watch::channel(false).0)
}

/// Completes once SIGTERM or Ctrl-C has arrived (signals are listened for from the first call on).
pub async fn requested() {
    static LISTEN: Once = Once::new();
    LISTEN.call_once(|| {
        tokio::spawn(async {
            wait_for_signal().await;
            tracing::info!("shutting down");
            flag().send_replace(true);
        });
    });
    let mut requested = flag().subscribe();
    let _ = requested.wait_for(|done| *done).await;
}

async fn wait_for_signal() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Keeps the process alive after a shutdown request until dropped (the election holds one while it is a member,
/// and ends the process itself once it has left).
pub struct Hold(());

/// Takes a [`Hold`].
pub fn hold() -> Hold {
    HOLDS.fetch_add(1, Ordering::SeqCst);
    Hold(())
}

impl Drop for Hold {
    fn drop(&mut self) {
        HOLDS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Waits until no [`Hold`] is left, for at most `timeout`.
pub async fn settled(timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    while HOLDS.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
