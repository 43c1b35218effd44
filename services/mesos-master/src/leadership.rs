//! Who leads: standalone masters lead at once; with `--zk`, masters contend in ZooKeeper.
//!
//! Each master creates an EPHEMERAL_SEQUENTIAL `json.info_` member holding its MasterInfo JSON; the lowest
//! sequence leads. Losing the session while leading ends the process, as upstream does (see [`zk::contend`]).

use common::mesos::MasterInfo;
use common::zk::{self, Election, MemberKind, ZkUrl};
use std::time::Duration;
use tokio::sync::watch;

/// The current view of leadership.
#[derive(Debug, Clone, PartialEq)]
pub enum Leadership {
    /// This master leads.
    Leading(MasterInfo),
    /// Another master leads, or nobody (`None`) is known to.
    Following(Option<MasterInfo>),
}

impl Leadership {
    /// Whether this master leads.
    pub fn is_leading(&self) -> bool {
        matches!(self, Leadership::Leading(_))
    }

    /// The leader's MasterInfo, if known.
    pub fn leader(&self) -> Option<MasterInfo> {
        match self {
            Leadership::Leading(info) => Some(info.clone()),
            Leadership::Following(info) => info.clone(),
        }
    }

    /// `host:port` of the leader, if known.
    pub fn leader_address(&self) -> Option<String> {
        self.leader().map(|l| l.http_address())
    }
}

/// A standalone master leads from the start.
pub fn standalone(info: MasterInfo) -> watch::Receiver<Leadership> {
    let (tx, rx) = watch::channel(Leadership::Leading(info));
    // Keep the sender alive for the life of the process so receivers never see a closed channel.
    std::mem::forget(tx);
    rx
}

/// Contends for leadership under the URL's path (see [`zk::contend`]) and follows the result.
pub fn contend(url: ZkUrl, info: MasterInfo, session_timeout: Duration) -> watch::Receiver<Leadership> {
    let data = serde_json::to_vec(&info).expect("MasterInfo serializes");
    let mut election = zk::contend(url.clone(), url.path.clone(), MemberKind::MesosMaster, data, session_timeout);
    let (tx, rx) = watch::channel(Leadership::Following(None));
    tokio::spawn(async move {
        loop {
            let view = match &*election.borrow_and_update() {
                Election::Leading => Leadership::Leading(info.clone()),
                Election::Following(data) => {
                    Leadership::Following(data.as_deref().and_then(|d| serde_json::from_slice::<MasterInfo>(d).ok()))
                }
            };
            tx.send_replace(view);
            if election.changed().await.is_err() {
                return;
            }
        }
    });
    rx
}
