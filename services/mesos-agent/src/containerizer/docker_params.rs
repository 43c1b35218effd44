//! Translation of a launch spec into a Docker Engine API container-create body,
//! following Mesos' `docker run` options (`src/docker/docker.cpp`):
//!
//! * shell commands: entrypoint `/bin/sh`, cmd `["-c", value]` (MESOS-1770);
//!   non-shell: cmd = `value` (if any) followed by `arguments`, image entrypoint kept;
//!   no command at all (or `shell` without a value — upstream rejects this,
//!   we fall back to the image default) → the image's entrypoint and cmd;
//! * env: the spec env (later wins), then `MESOS_SANDBOX=/mnt/mesos/sandbox`
//!   and `MESOS_CONTAINER_NAME=<name>`;
//! * volumes: relative container paths are below the mapped sandbox, relative
//!   host paths below the host sandbox; the sandbox is bind-mounted at
//!   `/mnt/mesos/sandbox`;
//! * `--cpu-shares = max(cpus*1024, 2)`, `--memory = max(mem, 32 MB)`;
//! * network host/bridge/none/user; port mappings bind `0.0.0.0:host -> container/proto`
//!   and are refused with host/none networking (the lead checks port resources);
//! * `parameters` (`--key=value`) are applied last and so win; the supported keys
//!   are listed in [`apply_parameter`]; anything else fails the launch.

use std::collections::HashMap;
use std::path::Path;

use bollard::models::{
    ContainerCreateBody, DeviceMapping, HostConfig, HostConfigLogConfig, PortBinding, ResourcesUlimits,
};

use super::cgroups::{cpu_shares, memory_limit};
use super::types::{DockerNetwork, DockerSpec, LaunchSpec, VolumeMode};

/// Where the sandbox appears inside Docker containers.
pub(crate) const MAPPED_SANDBOX: &str = "/mnt/mesos/sandbox";
/// Label carrying the agent id.
pub(crate) const LABEL_AGENT: &str = "mesos-rs.agent";
/// Label carrying the task id.
pub(crate) const LABEL_TASK: &str = "mesos-rs.task";
/// Label carrying the container id.
pub(crate) const LABEL_CONTAINER: &str = "mesos-rs.container";

/// Image reference with `:latest` added when it has neither tag nor digest.
pub(crate) fn normalize_image(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || last.contains('@') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

/// Builds the create body for `spec` (whose `docker` is `docker`).
pub(crate) fn build(
    spec: &LaunchSpec,
    docker: &DockerSpec,
    name: &str,
    sandbox: &Path,
) -> Result<ContainerCreateBody, String> {
    if docker.image.trim().is_empty() {
        return Err("No image specified".into());
    }
    let sandbox_str = sandbox.to_string_lossy().to_string();

    let mut env: Vec<(String, String)> = Vec::new();
    fn set_env(env: &mut Vec<(String, String)>, k: &str, v: &str) {
        match env.iter_mut().find(|(n, _)| n == k) {
            Some(slot) => slot.1 = v.to_string(),
            None => env.push((k.to_string(), v.to_string())),
        }
    }
    for (k, v) in &spec.command.env {
        if k.is_empty() || k.contains('=') {
            return Err(format!("Invalid environment variable name '{k}'"));
        }
        set_env(&mut env, k, v);
    }
    set_env(&mut env, "MESOS_SANDBOX", MAPPED_SANDBOX);
    set_env(&mut env, "MESOS_CONTAINER_NAME", name);

    let mut binds = Vec::new();
    for v in &docker.volumes {
        if v.host_path.is_empty() {
            return Err("Host path or volume source is required".into());
        }
        let c_abs = v.container_path.starts_with('/');
        let h_abs = v.host_path.starts_with('/');
        if !c_abs && !h_abs {
            return Err(format!(
                "Both host_path '{}' and container_path '{}' of a volume are relative",
                v.host_path, v.container_path
            ));
        }
        let container = if c_abs { v.container_path.clone() } else { format!("{MAPPED_SANDBOX}/{}", v.container_path) };
        let host = if h_abs { v.host_path.clone() } else { format!("{sandbox_str}/{}", v.host_path) };
        let mode = match v.mode {
            VolumeMode::Rw => "rw",
            VolumeMode::Ro => "ro",
        };
        binds.push(format!("{host}:{container}:{mode}"));
    }
    binds.push(format!("{sandbox_str}:{MAPPED_SANDBOX}"));

    let network = match &docker.network {
        DockerNetwork::Host => "host".to_string(),
        DockerNetwork::Bridge => "bridge".to_string(),
        DockerNetwork::None => "none".to_string(),
        DockerNetwork::User(n) if n.is_empty() => return Err("No network name found in network info".into()),
        DockerNetwork::User(n) => n.clone(),
    };
    if docker.hostname.is_some() && network == "host" {
        return Err("Unable to set hostname with host network mode".into());
    }

    let mut exposed: HashMap<String, HashMap<(), ()>> = HashMap::new();
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    if !docker.port_mappings.is_empty() && (network == "host" || network == "none") {
        return Err("Port mappings are only supported for bridge and user-defined networks".into());
    }
    for m in &docker.port_mappings {
        let protocols = m.protocol.clone().unwrap_or_else(|| "tcp".into()).to_lowercase();
        for proto in protocols.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if !matches!(proto, "tcp" | "udp" | "sctp") {
                return Err(format!("Unsupported port mapping protocol '{proto}'"));
            }
            let key = format!("{}/{proto}", m.container_port);
            exposed.insert(key.clone(), HashMap::new());
            bindings
                .entry(key)
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(PortBinding { host_ip: Some("0.0.0.0".into()), host_port: Some(m.host_port.to_string()) });
        }
    }

    let mut labels: HashMap<String, String> = spec.labels.iter().cloned().collect();
    labels.insert(LABEL_AGENT.into(), spec.agent_id.clone());
    labels.insert(LABEL_TASK.into(), spec.task_id.clone());
    labels.insert(LABEL_CONTAINER.into(), spec.container_id.clone());

    let value = spec.command.value.clone().filter(|v| !v.is_empty());
    let (entrypoint, cmd) = if spec.command.shell {
        match value {
            Some(v) => (Some(vec!["/bin/sh".to_string()]), Some(vec!["-c".to_string(), v])),
            None => (None, None),
        }
    } else {
        let cmd: Vec<String> = value.into_iter().chain(spec.command.arguments.iter().cloned()).collect();
        (None, (!cmd.is_empty()).then_some(cmd))
    };

    let host = HostConfig {
        binds: Some(binds),
        network_mode: Some(network),
        port_bindings: (!bindings.is_empty()).then_some(bindings),
        privileged: Some(docker.privileged),
        cpu_shares: Some(cpu_shares(spec.cpus) as i64),
        memory: memory_limit(spec.mem_mb).map(|m| m as i64),
        ..Default::default()
    };
    let mut body = ContainerCreateBody {
        image: Some(normalize_image(&docker.image)),
        hostname: docker.hostname.clone(),
        env: None,
        cmd,
        entrypoint,
        labels: Some(labels),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        attach_stdin: Some(false),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        tty: Some(false),
        open_stdin: Some(false),
        host_config: Some(host),
        ..Default::default()
    };
    let mut extra_env = Vec::new();
    for (k, v) in &docker.parameters {
        apply_parameter(&mut body, &mut extra_env, k, v)
            .map_err(|e| format!("Failed to create docker run options: {e}"))?;
    }
    for kv in extra_env {
        let (k, v) = split_kv(&kv);
        set_env(&mut env, &k, &v);
    }
    body.env = Some(env.into_iter().map(|(k, v)| format!("{k}={v}")).collect());
    Ok(body)
}

/// Parses a Docker size such as `512m`, `1g`, `1.5GB`, `1024` (binary units).
pub(crate) fn parse_size(s: &str) -> Result<i64, String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        Some('p') => (&t[..t.len() - 1], 1 << 50),
        _ => (t, 1),
    };
    let n: f64 = num.trim().parse().map_err(|_| format!("invalid size '{s}'"))?;
    if n < 0.0 || !n.is_finite() {
        return Err(format!("invalid size '{s}'"));
    }
    Ok((n * mult as f64) as i64)
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" | "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!("invalid boolean '{s}'")),
    }
}

fn parse_int(s: &str) -> Result<i64, String> {
    s.trim().parse().map_err(|_| format!("invalid number '{s}'"))
}

fn split_kv(s: &str) -> (String, String) {
    match s.split_once('=') {
        Some((k, v)) => (k.to_string(), v.to_string()),
        None => (s.to_string(), String::new()),
    }
}

/// Applies one `docker run --key=value` option. Supported keys (long and short
/// forms): env/e, label/l, volume/v, volumes-from, volume-driver, add-host,
/// cap-add, cap-drop, memory/m, memory-reservation, memory-swap, memory-swappiness,
/// shm-size, cpu-shares/c, cpus, cpu-period, cpu-quota, cpuset-cpus, cpuset-mems,
/// user/u, workdir/w, entrypoint, hostname/h, dns, dns-search, dns-opt,
/// dns-option, network/net, privileged, read-only, init, log-driver, log-opt,
/// security-opt, ulimit, sysctl, tmpfs, device, pids-limit, oom-score-adj,
/// oom-kill-disable, stop-signal, stop-timeout, ipc, pid, uts, userns,
/// group-add, expose, publish/p, mac-address, link, runtime, cgroup-parent,
/// domainname. Others are rejected.
pub(crate) fn apply_parameter(
    body: &mut ContainerCreateBody,
    extra_env: &mut Vec<String>,
    key: &str,
    value: &str,
) -> Result<(), String> {
    let key = key.trim_start_matches('-');
    let host = body.host_config.get_or_insert_with(HostConfig::default);
    let bad = |e: String| format!("invalid value '{value}' for docker parameter '{key}': {e}");
    fn push(v: &mut Option<Vec<String>>, s: &str) {
        v.get_or_insert_with(Vec::new).push(s.to_string());
    }
    match key {
        "env" | "e" => {
            if !value.contains('=') || value.starts_with('=') {
                return Err(bad("expected NAME=VALUE".into()));
            }
            extra_env.push(value.to_string());
        }
        "label" | "l" => {
            let (k, v) = split_kv(value);
            body.labels.get_or_insert_with(HashMap::new).insert(k, v);
        }
        "volume" | "v" => push(&mut host.binds, value),
        "volumes-from" => push(&mut host.volumes_from, value),
        "volume-driver" => host.volume_driver = Some(value.to_string()),
        "add-host" => push(&mut host.extra_hosts, value),
        "cap-add" => push(&mut host.cap_add, value),
        "cap-drop" => push(&mut host.cap_drop, value),
        "memory" | "m" => host.memory = Some(parse_size(value).map_err(bad)?),
        "memory-reservation" => host.memory_reservation = Some(parse_size(value).map_err(bad)?),
        "memory-swap" => {
            host.memory_swap = Some(if value.trim() == "-1" { -1 } else { parse_size(value).map_err(bad)? })
        }
        "memory-swappiness" => host.memory_swappiness = Some(parse_int(value).map_err(bad)?),
        "shm-size" => host.shm_size = Some(parse_size(value).map_err(bad)?),
        "cpu-shares" | "c" => host.cpu_shares = Some(parse_int(value).map_err(bad)?),
        "cpus" => {
            let c: f64 = value.trim().parse().map_err(|_| bad("not a number".into()))?;
            host.nano_cpus = Some((c * 1e9) as i64);
        }
        "cpu-period" => host.cpu_period = Some(parse_int(value).map_err(bad)?),
        "cpu-quota" => host.cpu_quota = Some(parse_int(value).map_err(bad)?),
        "cpuset-cpus" => host.cpuset_cpus = Some(value.to_string()),
        "cpuset-mems" => host.cpuset_mems = Some(value.to_string()),
        "user" | "u" => body.user = Some(value.to_string()),
        "workdir" | "w" => body.working_dir = Some(value.to_string()),
        "entrypoint" => body.entrypoint = Some(vec![value.to_string()]),
        "hostname" | "h" => body.hostname = Some(value.to_string()),
        "domainname" => body.domainname = Some(value.to_string()),
        "dns" => push(&mut host.dns, value),
        "dns-search" => push(&mut host.dns_search, value),
        "dns-opt" | "dns-option" => push(&mut host.dns_options, value),
        "network" | "net" => host.network_mode = Some(value.to_string()),
        "privileged" => host.privileged = Some(parse_bool(value).map_err(bad)?),
        "read-only" => host.readonly_rootfs = Some(parse_bool(value).map_err(bad)?),
        "init" => host.init = Some(parse_bool(value).map_err(bad)?),
        "oom-kill-disable" => host.oom_kill_disable = Some(parse_bool(value).map_err(bad)?),
        "log-driver" => host.log_config.get_or_insert_with(HostConfigLogConfig::default).typ = Some(value.to_string()),
        "log-opt" => {
            let (k, v) = split_kv(value);
            host.log_config
                .get_or_insert_with(HostConfigLogConfig::default)
                .config
                .get_or_insert_with(HashMap::new)
                .insert(k, v);
        }
        "security-opt" => push(&mut host.security_opt, value),
        "ulimit" => {
            let (name, limits) = value.split_once('=').ok_or_else(|| bad("expected name=soft[:hard]".into()))?;
            let (soft, hard) = match limits.split_once(':') {
                Some((s, h)) => (parse_int(s).map_err(bad)?, parse_int(h).map_err(bad)?),
                None => {
                    let v = parse_int(limits).map_err(bad)?;
                    (v, v)
                }
            };
            host.ulimits.get_or_insert_with(Vec::new).push(ResourcesUlimits {
                name: Some(name.to_string()),
                soft: Some(soft),
                hard: Some(hard),
            });
        }
        "sysctl" => {
            let (k, v) = split_kv(value);
            host.sysctls.get_or_insert_with(HashMap::new).insert(k, v);
        }
        "tmpfs" => {
            let (path, opts) = value.split_once(':').unwrap_or((value, ""));
            host.tmpfs.get_or_insert_with(HashMap::new).insert(path.to_string(), opts.to_string());
        }
        "device" => {
            let parts: Vec<&str> = value.split(':').collect();
            let (on_host, in_container, perms) = match parts.as_slice() {
                [h] => (*h, *h, "rwm"),
                [h, c] if c.starts_with('/') => (*h, *c, "rwm"),
                [h, p] => (*h, *h, *p),
                [h, c, p] => (*h, *c, *p),
                _ => return Err(bad("expected host[:container][:permissions]".into())),
            };
            host.devices.get_or_insert_with(Vec::new).push(DeviceMapping {
                path_on_host: Some(on_host.to_string()),
                path_in_container: Some(in_container.to_string()),
                cgroup_permissions: Some(perms.to_string()),
            });
        }
        "pids-limit" => host.pids_limit = Some(parse_int(value).map_err(bad)?),
        "oom-score-adj" => host.oom_score_adj = Some(parse_int(value).map_err(bad)?),
        "stop-signal" => body.stop_signal = Some(value.to_string()),
        "stop-timeout" => body.stop_timeout = Some(parse_int(value).map_err(bad)?),
        "ipc" => host.ipc_mode = Some(value.to_string()),
        "pid" => host.pid_mode = Some(value.to_string()),
        "uts" => host.uts_mode = Some(value.to_string()),
        "userns" => host.userns_mode = Some(value.to_string()),
        "group-add" => push(&mut host.group_add, value),
        "link" => push(&mut host.links, value),
        "runtime" => host.runtime = Some(value.to_string()),
        "cgroup-parent" => host.cgroup_parent = Some(value.to_string()),
        "mac-address" => body.mac_address = Some(value.to_string()),
        "expose" => {
            let port = if value.contains('/') { value.to_string() } else { format!("{value}/tcp") };
            body.exposed_ports.get_or_insert_with(HashMap::new).insert(port, HashMap::new());
        }
        "publish" | "p" => {
            // [ip:]hostPort:containerPort[/proto]
            let (spec, proto) = value.split_once('/').unwrap_or((value, "tcp"));
            let parts: Vec<&str> = spec.split(':').collect();
            let (ip, hp, cp) = match parts.as_slice() {
                [h, c] => ("0.0.0.0", *h, *c),
                [i, h, c] => (*i, *h, *c),
                _ => return Err(bad("expected [ip:]hostPort:containerPort[/protocol]".into())),
            };
            cp.parse::<u16>().map_err(|_| bad("invalid container port".into()))?;
            let key = format!("{cp}/{proto}");
            body.exposed_ports.get_or_insert_with(HashMap::new).insert(key.clone(), HashMap::new());
            host.port_bindings
                .get_or_insert_with(HashMap::new)
                .entry(key)
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_with(Vec::new)
                .push(PortBinding { host_ip: Some(ip.to_string()), host_port: Some(hp.to_string()) });
        }
        _ => return Err(format!("Unsupported docker parameter '{key}'")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containerizer::types::{CommandSpec, PortMapping, Volume};
    use std::time::Duration;

    fn spec(docker: DockerSpec, command: CommandSpec) -> LaunchSpec {
        LaunchSpec {
            task_id: "t".into(),
            framework_id: "f".into(),
            executor_id: "t".into(),
            container_id: "c".into(),
            agent_id: "a".into(),
            sandbox_dir: None,
            command,
            docker: Some(docker),
            cpus: 0.5,
            mem_mb: 64.0,
            kill_grace: Duration::from_secs(1),
            labels: vec![("x".into(), "y".into())],
            killing_state: false,
        }
    }

    #[test]
    fn shell_command_overrides_entrypoint() {
        let d = DockerSpec { image: "busybox".into(), ..Default::default() };
        let s = spec(d.clone(), CommandSpec { shell: true, value: Some("echo hi".into()), ..Default::default() });
        let b = build(&s, &d, "mesos-a.c", Path::new("/sb")).expect("build");
        assert_eq!(b.image.as_deref(), Some("busybox:latest"));
        assert_eq!(b.entrypoint, Some(vec!["/bin/sh".to_string()]));
        assert_eq!(b.cmd, Some(vec!["-c".to_string(), "echo hi".into()]));
        let env = b.env.expect("env");
        assert!(env.contains(&"MESOS_SANDBOX=/mnt/mesos/sandbox".to_string()));
        assert!(env.contains(&"MESOS_CONTAINER_NAME=mesos-a.c".to_string()));
        let h = b.host_config.expect("host");
        assert_eq!(h.cpu_shares, Some(512));
        assert_eq!(h.memory, Some(64 << 20));
        assert_eq!(h.network_mode.as_deref(), Some("host"));
        assert_eq!(h.binds, Some(vec!["/sb:/mnt/mesos/sandbox".to_string()]));
        let labels = b.labels.expect("labels");
        assert_eq!(labels.get("x").map(String::as_str), Some("y"));
        assert_eq!(labels.get(LABEL_AGENT).map(String::as_str), Some("a"));
    }

    #[test]
    fn image_default_command_and_args() {
        let d = DockerSpec { image: "reg:5000/img@sha256:abc".into(), ..Default::default() };
        let s = spec(d.clone(), CommandSpec { shell: false, arguments: vec!["-x".into()], ..Default::default() });
        let b = build(&s, &d, "n", Path::new("/sb")).expect("build");
        assert_eq!(b.image.as_deref(), Some("reg:5000/img@sha256:abc"));
        assert_eq!(b.entrypoint, None);
        assert_eq!(b.cmd, Some(vec!["-x".to_string()]));
        assert_eq!(normalize_image("reg:5000/img"), "reg:5000/img:latest");
    }

    #[test]
    fn ports_volumes_and_validation() {
        let d = DockerSpec {
            image: "i".into(),
            network: DockerNetwork::Bridge,
            port_mappings: vec![PortMapping { host_port: 31000, container_port: 80, protocol: Some("udp,tcp".into()) }],
            volumes: vec![Volume { container_path: "data".into(), host_path: "/h".into(), mode: VolumeMode::Ro }],
            ..Default::default()
        };
        let s = spec(d.clone(), CommandSpec::default());
        let b = build(&s, &d, "n", Path::new("/sb")).expect("build");
        let h = b.host_config.expect("host");
        assert_eq!(h.binds, Some(vec!["/h:/mnt/mesos/sandbox/data:ro".to_string(), "/sb:/mnt/mesos/sandbox".into()]));
        let pb = h.port_bindings.expect("ports");
        assert_eq!(pb.len(), 2);
        assert!(pb.contains_key("80/udp") && pb.contains_key("80/tcp"));

        let host_net = DockerSpec { network: DockerNetwork::Host, ..d.clone() };
        let e = build(&spec(host_net.clone(), CommandSpec::default()), &host_net, "n", Path::new("/sb"));
        assert!(e.expect_err("host ports").contains("Port mappings are only supported"));

        let bad = DockerSpec { parameters: vec![("rm".into(), "true".into())], ..d.clone() };
        let e = build(&spec(bad.clone(), CommandSpec::default()), &bad, "n", Path::new("/sb"));
        assert!(e.expect_err("unsupported").contains("Unsupported docker parameter 'rm'"));
    }

    #[test]
    fn parameters_map_onto_api() {
        let d = DockerSpec {
            image: "i".into(),
            network: DockerNetwork::Bridge,
            parameters: vec![
                ("env".into(), "A=1".into()),
                ("env".into(), "MESOS_SANDBOX=/override".into()),
                ("label".into(), "k=v".into()),
                ("memory".into(), "1g".into()),
                ("add-host".into(), "h:1.2.3.4".into()),
                ("cap-add".into(), "NET_ADMIN".into()),
                ("user".into(), "nobody".into()),
                ("workdir".into(), "/w".into()),
                ("entrypoint".into(), "/e".into()),
                ("hostname".into(), "hn".into()),
                ("dns".into(), "8.8.8.8".into()),
                ("ulimit".into(), "nofile=10:20".into()),
            ],
            ..Default::default()
        };
        let b = build(&spec(d.clone(), CommandSpec::default()), &d, "n", Path::new("/sb")).expect("build");
        let env = b.env.as_ref().expect("env");
        assert!(env.contains(&"A=1".to_string()));
        assert!(env.contains(&"MESOS_SANDBOX=/override".to_string()));
        assert_eq!(env.iter().filter(|e| e.starts_with("MESOS_SANDBOX=")).count(), 1);
        assert_eq!(b.labels.as_ref().and_then(|l| l.get("k")).map(String::as_str), Some("v"));
        assert_eq!(b.user.as_deref(), Some("nobody"));
        assert_eq!(b.working_dir.as_deref(), Some("/w"));
        assert_eq!(b.entrypoint, Some(vec!["/e".to_string()]));
        assert_eq!(b.hostname.as_deref(), Some("hn"));
        let h = b.host_config.expect("host");
        assert_eq!(h.memory, Some(1 << 30));
        assert_eq!(h.extra_hosts, Some(vec!["h:1.2.3.4".to_string()]));
        assert_eq!(h.cap_add, Some(vec!["NET_ADMIN".to_string()]));
        assert_eq!(h.dns, Some(vec!["8.8.8.8".to_string()]));
        assert_eq!(h.ulimits.expect("ulimits")[0].hard, Some(20));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("1.5GB"), Ok(3 << 29));
        assert!(parse_size("lots").is_err());
    }
}
