//! `mesos-master`: the Mesos master. See ARCHITECTURE.md for how the modules fit together.

mod api;
mod flags;
mod leadership;
mod metrics;
mod registry;
mod state;
mod ui;

use common::config;
use common::mesos::{ip_to_u32, Address, Capability, MasterInfo, VERSION};
use mesos_master::allocator::AllocatorState;
use registry::Registrar;
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
    common::logging::init_or_exit("mesos-master", &config.logging_level, &config.log_format, config.log_dir.as_deref());

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
        address: Some(Address {
            hostname: Some(hostname),
            ip: Some(advertise_ip.to_string()),
            port: advertise_port as u32,
        }),
        capabilities: ["AGENT_UPDATE", "AGENT_DRAINING", "QUOTA_V2"]
            .into_iter()
            .map(|k| Capability { kind: k.into() })
            .collect(),
    };
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

    let registrar = match (config.registry.as_str(), &config.zk, &config.work_dir) {
        ("replicated_log", Some(url), _) => Registrar::zookeeper(
            common::zk::ZkUrl::parse(url).expect("checked by the flag loader"),
            config.zk_session_timeout.0,
        ),
        ("replicated_log", None, Some(dir)) => Registrar::file(dir),
        _ => Registrar::in_memory(),
    };
    let authentication = api::Authentication::from_config(&config).unwrap_or_else(|e| {
        eprintln!("mesos-master: {e}");
        std::process::exit(1);
    });
    let mut allocator = AllocatorState::new(config.min_allocatable());
    for (role, weight) in config.role_weights() {
        allocator.set_weight(&role, weight);
    }
    let mut master = Master::new(info, config.cluster.clone(), allocator);
    master.max_completed_frameworks = config.max_completed_frameworks;
    master.max_completed_tasks_per_framework = config.max_completed_tasks_per_framework;
    let ctx = api::Context {
        master: Arc::new(Mutex::new(master)),
        leadership,
        flags: Arc::new(loaded.flags),
        config: Arc::new(config.clone()),
        allocate_now: Arc::new(Notify::new()),
        metrics: Arc::new(metrics::Metrics::new()),
        registrar: Arc::new(registrar),
        authentication: Arc::new(authentication),
    };
    tokio::spawn(recover_when_elected(ctx.clone()));
    spawn_timers(&ctx);

    let addr = SocketAddr::from((bind_ip, config.port));
    common::http::serve(api::routes(ctx), addr, "mesos-master", VERSION).await;
}

/// Waits until this master leads, then (with `--quorum`) for a quorum of masters, then recovers the registry;
/// scheduler and agent calls get 503 until it is done. A leader never steps down (it exits), so this runs once.
async fn recover_when_elected(ctx: api::Context) {
    let mut leadership = ctx.leadership.clone();
    while !leadership.borrow_and_update().is_leading() {
        if leadership.changed().await.is_err() {
            return;
        }
    }
    ctx.master.lock().expect("master lock").elected_time = Some(now_secs());
    tracing::info!("elected leader; recovering the registry");
    if let (Some(quorum), Some(_), "replicated_log") = (ctx.config.quorum, &ctx.config.zk, ctx.config.registry.as_str())
    {
        ctx.registrar.wait_for_quorum(quorum).await;
    }
    let registry = loop {
        match ctx.registrar.recover().await {
            Ok(registry) => break registry,
            Err(e) => {
                tracing::error!(error = %e, "cannot recover the registry; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    let timeout = ctx.config.agent_reregister_timeout.0.as_secs_f64();
    ctx.master.lock().expect("master lock").recover(registry, now_secs(), timeout);
    ctx.allocate_now.notify_one();
}

/// Background work of the recovered leader: allocation and offer timeouts, agent pings, framework heartbeats
/// and failover timeouts, the agent re-registration timeout, and writing registry changes.
fn spawn_timers(ctx: &api::Context) {
    let c = ctx.clone();
    tokio::spawn(async move {
        let interval = c.config.allocation_interval.0.max(Duration::from_millis(10));
        loop {
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = c.allocate_now.notified() => {
                    // Let a burst of calls land before allocating once for all of them.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            let mut master = c.master.lock().expect("master lock");
            if !master.is_recovered() {
                continue;
            }
            if let Some(timeout) = c.config.offer_timeout {
                master.expire_offers(now_secs(), timeout.0.as_secs_f64());
            }
            let timer = c.metrics.allocation_seconds.start_timer();
            let offers = master.allocate(now_secs());
            timer.observe_duration();
            c.metrics.offers_made.inc_by(offers as u64);
        }
    });
    let c = ctx.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(c.config.agent_ping_timeout.0.max(Duration::from_millis(100)));
        loop {
            tick.tick().await;
            let mut master = c.master.lock().expect("master lock");
            if !master.is_recovered() {
                continue;
            }
            for agent_id in master.ping_agents(c.config.max_agent_ping_timeouts) {
                master.mark_agent_unreachable(&agent_id, now_secs());
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
            if !master.is_recovered() {
                continue;
            }
            master.expire_frameworks(now_secs());
            master.expire_recovered_agents(now_secs());
            if seconds.is_multiple_of(HEARTBEAT_SECONDS as u64) {
                master.heartbeat_frameworks();
            }
        }
    });
    let c = ctx.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if let Err(e) = api::persist(&c).await {
                tracing::error!(error = %e, "cannot write the registry; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    });
}
