//! The tiny labelled image both Marathon's Docker tasks and the Swarm services run, built locally (there is
//! no registry): `FROM scratch` plus Debian's static busybox.

use std::process::Command;

/// The image's name.
pub const IMAGE: &str = "mesos-rs-bench/tiny:latest";

/// The label on everything the bench creates in Docker.
pub const LABEL: &str = "mesos-rs.test=bench";

/// Builds the image (idempotent; Docker's cache makes repeats instant) and returns its name.
pub fn tiny_image() -> Result<String, String> {
    let busybox = std::path::Path::new("/bin/busybox");
    if !busybox.exists() {
        return Err("busybox-static is not installed".into());
    }
    let dir = std::env::temp_dir().join(format!("mesos-bench-image-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("bin")).map_err(|e| e.to_string())?;
    std::fs::copy(busybox, dir.join("bin/busybox")).map_err(|e| e.to_string())?;
    for applet in ["sh", "sleep", "true"] {
        let link = dir.join("bin").join(applet);
        if !link.exists() {
            std::os::unix::fs::symlink("busybox", link).map_err(|e| e.to_string())?;
        }
    }
    let dockerfile = "FROM scratch\nCOPY bin/ /bin/\nENV PATH=/bin\nCMD [\"sleep\", \"3600\"]\n";
    std::fs::write(dir.join("Dockerfile"), dockerfile).map_err(|e| e.to_string())?;
    let result = run("docker", &["build", "-q", "--label", LABEL, "-t", IMAGE, &dir.display().to_string()]);
    let _ = std::fs::remove_dir_all(&dir);
    result.map(|_| IMAGE.to_string())
}

/// Ids of the containers carrying the bench label: running ones, or all (`all`).
pub fn labelled_containers(all: bool) -> Vec<String> {
    let filter = format!("label={LABEL}");
    let args = if all { vec!["ps", "-aq", "--filter", &filter] } else { vec!["ps", "-q", "--filter", &filter] };
    run("docker", &args).map(|o| o.lines().map(str::to_string).collect()).unwrap_or_default()
}

/// Removes every labelled container, running or stopped: Marathon's Docker tasks stay behind stopped once the
/// bench's agent is gone, since it never reaches its garbage collection.
pub fn remove_labelled_containers() {
    let ids = labelled_containers(true);
    if !ids.is_empty() {
        let mut args = vec!["rm", "-f"];
        args.extend(ids.iter().map(String::as_str));
        if let Err(e) = run("docker", &args) {
            eprintln!("warning: {e}");
        }
    }
}

/// Runs a command; its stdout, or an error with its stderr.
pub fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program).args(args).output().map_err(|e| format!("{program}: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    } else {
        Err(format!("{program} {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim()))
    }
}
