//! `mesos-agent` (also installed as `mesos-slave`): the Mesos agent. See ARCHITECTURE.md for how the
//! modules fit together.

mod api;
mod containerizer;
mod flags;
mod gc;
mod link;
mod metrics;
mod records;
mod runtime;
mod updates;

use common::agent_link::AgentInfo;
use common::mesos::VERSION;
use common::resources::{
    default_agent_resources, merge_agent_resources, parse_attributes, ReservationFormat, Resources,
};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

#[tokio::main]
async fn main() {
    let loaded = common::config::load_or_exit::<flags::Config>(&flags::SCHEMA);
    let config = loaded.config;
    if let Err(message) = config.validate() {
        eprintln!("{message}");
        std::process::exit(1);
    }
    common::logging::init_or_exit("mesos-agent", &config.logging_level, &config.log_format, config.log_dir.as_deref());
    if let Err(e) = std::fs::create_dir_all(&config.work_dir) {
        eprintln!("mesos-agent: cannot create --work_dir '{}': {e}", config.work_dir);
        std::process::exit(1);
    }

    let explicit =
        config.resources.as_deref().map(Resources::parse_text).transpose().expect("checked by the flag loader");
    let detected = default_agent_resources(
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        total_memory_mb(),
        disk_size_mb(&config.work_dir),
    );
    let resources = match explicit {
        Some(explicit) => merge_agent_resources(&explicit, &detected),
        None => detected,
    };
    let attributes = config
        .attributes
        .as_deref()
        .map(parse_attributes)
        .transpose()
        .expect("checked by the flag loader")
        .unwrap_or_default();
    let bind_ip: Ipv4Addr = config.ip.as_deref().and_then(|ip| ip.parse().ok()).unwrap_or(Ipv4Addr::UNSPECIFIED);
    let advertise_ip = config
        .advertise_ip
        .clone()
        .or_else(|| (!bind_ip.is_unspecified()).then(|| bind_ip.to_string()))
        .unwrap_or_else(|| common::net::default_advertise_ip().to_string());
    let hostname = config.hostname.clone().unwrap_or_else(|| {
        if config.hostname_lookup {
            common::net::hostname()
        } else {
            advertise_ip.clone()
        }
    });
    let info = AgentInfo {
        hostname,
        ip: advertise_ip,
        port: config.advertise_port.unwrap_or(config.port) as u32,
        resources: resources.to_v1(ReservationFormat::PreRefinement),
        attributes,
        version: VERSION.to_string(),
    };
    tracing::info!(resources = %resources, "agent resources");

    let mut containerizer_config = containerizer::Config::new(&config.work_dir);
    containerizer_config.docker_socket = Some(PathBuf::from(&config.docker_socket));
    containerizer_config.switch_user = config.switch_user;
    containerizer_config.cgroup_root = config.cgroups_root.as_ref().map(PathBuf::from);
    containerizer_config.containerizers = config
        .containerizers
        .split(',')
        .map(|name| {
            if name.trim() == "docker" {
                containerizer::ContainerizerKind::Docker
            } else {
                containerizer::ContainerizerKind::Mesos
            }
        })
        .collect();
    let (containers, events) = containerizer::Containerizers::new(containerizer_config);
    let agent = match runtime::Agent::recover(config.clone(), info, containers) {
        Ok(agent) => Arc::new(agent),
        Err(e) => {
            eprintln!("mesos-agent: cannot recover from --work_dir '{}': {e}", config.work_dir);
            std::process::exit(1);
        }
    };
    let a = agent.clone();
    tokio::spawn(async move { a.consume_events(events).await });
    if let Err(e) = agent.recover_containers().await {
        eprintln!("mesos-agent: recovery failed: {e}. Restart with --no-strict to report such tasks as failed instead, or remove '{}' to start as a new agent", config.work_dir.clone() + "/meta/slaves/latest");
        std::process::exit(1);
    }
    if config.recover == "cleanup" {
        // Upstream's --recover=cleanup: kill what the previous agent ran, forget the agent id and exit.
        agent.finish_cleanup().await;
        tracing::info!("started with --recover=cleanup: every recovered task was killed; exiting");
        return;
    }
    let a = agent.clone();
    tokio::spawn(async move { a.send_updates().await });
    let a = agent.clone();
    tokio::spawn(async move { a.gc.run().await });
    let a = agent.clone();
    let master = config.master.clone().expect("validated");
    let (zk_timeout, backoff) = (config.zk_session_timeout.0, config.registration_backoff_factor.0);
    tokio::spawn(async move { a.link.run(master, zk_timeout, backoff, &*a).await });

    let ctx = Arc::new(api::Context { agent, flags: loaded.flags });
    let addr = SocketAddr::from((bind_ip, config.port));
    common::http::serve(api::routes(ctx), addr, "mesos-agent", VERSION).await;
}

/// Total memory in MB from `/proc/meminfo`.
fn total_memory_mb() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kb| kb / 1024)
        .unwrap_or(1024)
}

/// Size of the filesystem holding `path`, in MB.
fn disk_size_mb(path: &str) -> u64 {
    let Ok(c_path) = std::ffi::CString::new(path) else { return 0 };
    // SAFETY: statvfs writes into the zeroed struct; the path is a valid NUL-terminated string.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 {
        return 0;
    }
    (stat.f_blocks as u64).saturating_mul(stat.f_frsize as u64) / (1024 * 1024)
}
