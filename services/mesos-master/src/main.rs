//! `mesos-master`: the Mesos master. See ARCHITECTURE.md for how the modules fit together.

mod allocator;
mod api;
mod flags;
mod leadership;
mod metrics;
mod state;
mod ui;

use common::config;
use common::mesos::{ip_to_u32, Address, Capability, MasterInfo, VERSION};
use state::{now_secs, Master};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// Seconds between HEARTBEAT events on scheduler streams (upstream: 15).
pub const HEARTBEAT_SECONDS: f64 = 15.0;

#[tokio::main]
async fn main() {
    let loaded = config::load_or_exit::<flags::Config>(&flags::SCHEMA);
    let config = loaded.config;
    if let Err(message) = config.validate() {
        eprintln!("{message}");
        std::process::exit(1);
    }
    common::logging::init(&config.logging_level);

    let bind_ip: Ipv4Addr = config.ip.as_deref().and_then(|ip| ip.parse().ok()).unwrap_or(Ipv4Addr::UNSPECIFIED);
    let advertise_ip: Ipv4Addr = config
        .advertise_ip
        .as_deref()
        .and_then(|ip| ip.parse().ok())
        .or((!bind_ip.is_unspecified()).then_some(bind_ip))
        .unwrap_or_else(common::net::default_advertise_ip);
    let advertise_port = config.advertise_port.unwrap_or(config.port);
    let hostname = config.hostname.clone().unwrap_or_else(|| {
        if config.hostname_lookup {
            common::net::hostname()
        } else {
            advertise_ip.to_string()
        }
    });
    let info = MasterInfo {
        id: uuid::Uuid::new_v4().to_string(),
        ip: ip_to_u32(advertise_ip),
        port: advertise_port as u32,
        pid: Some(format!("master@{advertise_ip}:{advertise_port}")),
        hostname: Some(hostname.clone()),
        version: Some(VERSION.to_string()),
        address: Some(Address { hostname: Some(hostname), ip: Some(advertise_ip.to_string()), port: advertise_port as u32 }),
        capabilities: ["AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"].into_iter().map(|k| Capability { kind: k.into() }).collect(),
    };
    if config.registry == "replicated_log" {
        tracing::warn!("registry=replicated_log: admitted agents are re-admitted when they re-register after a failover; the durable registry store is not implemented yet");
    }

    let leadership = match &config.zk {
        Some(url) => {
            let url = common::zk::ZkUrl::parse(url).expect("checked by the flag loader");
            tracing::info!(zk = %url, "contending for leadership");
            leadership::contend(url, info.clone(), config.zk_session_timeout.0)
        }
        None => {
            tracing::info!("no --zk given: running standalone as the leader");
            leadership::standalone(info.clone())
        }
    };

    let mut master = Master::new(info, config.cluster.clone());
    master.max_completed_frameworks = config.max_completed_frameworks;
    master.max_completed_tasks_per_framework = config.max_completed_tasks_per_framework;
    let ctx = api::Context {
        master: Arc::new(Mutex::new(master)),
        leadership,
        flags: Arc::new(loaded.flags),
        config: Arc::new(config.clone()),
        allocate_now: Arc::new(Notify::new()),
        metrics: Arc::new(metrics::Metrics::new()),
    };
    spawn_timers(&ctx);

    let addr = SocketAddr::from((bind_ip, config.port));
    let server = match warp::serve(api::routes(ctx)).try_bind_with_graceful_shutdown(addr, shutdown_signal()) {
        Ok((bound, server)) => {
            tracing::info!(%bound, version = VERSION, "mesos-master listening");
            server
        }
        Err(e) => {
            eprintln!("mesos-master: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    server.await;
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutting down");
}

/// Background work of the leading master: allocation, agent pings, framework heartbeats and failover timeouts,
/// offer timeouts.
fn spawn_timers(ctx: &api::Context) {
    let c = ctx.clone();
    tokio::spawn(async move {
        let interval = c.config.allocation_interval.0.max(Duration::from_millis(10));
        let mut was_leading = false;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = c.allocate_now.notified() => {
                    // Let a burst of calls land before allocating once for all of them.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            let leading = c.leadership.borrow().is_leading();
            let mut master = c.master.lock().expect("master lock");
            if leading && !was_leading {
                master.elected_time = Some(now_secs());
            }
            was_leading = leading;
            if !leading {
                continue;
            }
            let timer = c.metrics.allocation_seconds.start_timer();
            let offers = master.allocate(now_secs());
            timer.observe_duration();
            c.metrics.offers_made.inc_by(offers as u64);
            if let Some(timeout) = c.config.offer_timeout {
                master.expire_offers(now_secs(), timeout.0.as_secs_f64());
            }
        }
    });
    let c = ctx.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(c.config.agent_ping_timeout.0.max(Duration::from_millis(100)));
        loop {
            tick.tick().await;
            if !c.leadership.borrow().is_leading() {
                continue;
            }
            let mut master = c.master.lock().expect("master lock");
            for agent_id in master.ping_agents(c.config.max_agent_ping_timeouts) {
                master.mark_agent_unreachable(&agent_id);
            }
        }
    });
    let c = ctx.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut seconds = 0u64;
        loop {
            tick.tick().await;
            seconds += 1;
            let mut master = c.master.lock().expect("master lock");
            master.expire_frameworks(now_secs());
            if seconds % HEARTBEAT_SECONDS as u64 == 0 {
                master.heartbeat_frameworks();
            }
        }
    });
}
