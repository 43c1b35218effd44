//! `marathon`: the Marathon framework (REST API v2). See ARCHITECTURE.md for how the modules fit together.

#![recursion_limit = "256"]

mod api;
use marathon::app;
mod core;
mod driver;
mod flags;
mod health;
mod metrics;
mod persister;
mod scheduler;
mod scheduling;

mod store;
mod ui;

use common::zk::{Election, MemberKind, ZkUrl};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, watch, Notify};

/// The Marathon version whose API this implements.
pub const VERSION: &str = "1.4.13";

#[tokio::main]
async fn main() {
    let loaded = common::config::load_or_exit::<flags::Config>(&flags::SCHEMA);
    let config = loaded.config;
    if let Err(message) = config.validate() {
        eprintln!("{message}");
        std::process::exit(1);
    }
    common::logging::init_or_exit("marathon", &config.logging_level, &config.log_format, config.log_dir.as_deref());
    // With credentials, Marathon's znodes are readable only with them (upstream's CREATOR_ALL_ACL).
    let zk_url = ZkUrl::parse(&config.zk).expect("checked by the flag loader").creator_only();
    let hostname = config.hostname.clone().unwrap_or_else(common::net::hostname);
    let address = format!("{hostname}:{}", config.http_port);
    let session_timeout = Duration::from_millis(config.zk_session_timeout);

    let store = Arc::new(store::Store::new(zk_url.clone(), session_timeout));
    let persister = persister::Persister::start(store.clone());
    let (events, _) = broadcast::channel(config.event_stream_max_outstanding_messages.max(16));
    let config = Arc::new(config);
    let metrics = Arc::new(metrics::Metrics::new());
    let scheduler = Arc::new(scheduler::Scheduler {
        core: Mutex::new(core::Core::new(
            (config.local_port_min as u32, config.local_port_max as u32),
            config.zk_max_versions,
        )),
        driver: driver::Driver::new(config.mesos_credential().expect("checked by validate")),
        store,
        persister,
        events,
        config: config.clone(),
        wake: Notify::new(),
        framework_id: Mutex::new(None),
        agent_attributes: Mutex::new(Default::default()),
        metrics: metrics.clone(),
    });
    let election = if config.ha {
        let group = format!("{}/leader-curator", zk_url.path);
        common::zk::contend(
            zk_url.clone(),
            group,
            MemberKind::CuratorLatch,
            address.clone().into_bytes(),
            session_timeout,
        )
    } else {
        let (tx, rx) = watch::channel(Election::Leading);
        std::mem::forget(tx);
        rx
    };
    let node = Arc::new(api::Node {
        scheduler: scheduler.clone(),
        election: election.clone(),
        ready: AtomicBool::new(false),
        address,
        client: reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(config.leader_proxy_connection_timeout))
            .timeout(Duration::from_millis(config.leader_proxy_read_timeout))
            .build()
            .expect("HTTP client"),
        metrics,
        http_credential: config.http_credential(),
        http_realm: config.http_realm.clone(),
    });
    tokio::spawn(lead_when_elected(node.clone(), election));

    let ip: IpAddr =
        config.http_address.as_deref().and_then(|a| a.parse().ok()).unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let addr = SocketAddr::new(ip, config.http_port);
    common::http::serve(api::routes(node), addr, "marathon", VERSION).await;
}

/// Once elected: recover the state from ZooKeeper, start serving, and run the scheduler.
async fn lead_when_elected(node: Arc<api::Node>, mut election: watch::Receiver<Election>) {
    while !election.borrow_and_update().is_leading() {
        if election.changed().await.is_err() {
            return;
        }
    }
    tracing::info!("elected leader; recovering state");
    let mut backoff = Duration::from_millis(200);
    while let Err(e) = node.scheduler.recover().await {
        tracing::error!(error = %e, "cannot recover state from ZooKeeper; retrying");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
    node.ready.store(true, Ordering::SeqCst);
    node.scheduler.clone().run().await;
}
