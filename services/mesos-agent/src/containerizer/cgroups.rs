//! Optional cgroup v2 limits for command tasks.
//!
//! Used only when `Config::cgroup_root` names a writable cgroup v2 directory
//! (it is created if its parent is cgroup v2). Each task gets
//! `<root>/<containerId>`; `cpu.weight` is set from `max(cpus*1024, 2)` shares
//! when the `cpu` controller is available and `memory.max` to `max(mem, 32 MB)`
//! when `memory` is. The task joins the cgroup before exec. Without a usable
//! root, limits are skipped (logged once at debug level) and usage comes from
//! `/proc`. The directory is removed when the task ends.

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// Minimum memory limit, as in Mesos.
pub(crate) const MIN_MEMORY_BYTES: u64 = 32 * 1024 * 1024;
/// Minimum CPU shares, as in Mesos.
pub(crate) const MIN_CPU_SHARES: u64 = 2;

/// A usable cgroup v2 root.
#[derive(Debug, Clone)]
pub(crate) struct CgroupV2 {
    root: PathBuf,
    cpu: bool,
    memory: bool,
}

/// CPU shares for a CPU allocation (`max(cpus*1024, 2)`).
pub(crate) fn cpu_shares(cpus: f64) -> u64 {
    ((cpus.max(0.0) * 1024.0) as u64).max(MIN_CPU_SHARES)
}

/// Memory limit in bytes for an allocation in MB; `None` when `mem_mb <= 0`.
pub(crate) fn memory_limit(mem_mb: f64) -> Option<u64> {
    (mem_mb > 0.0).then(|| ((mem_mb * 1024.0 * 1024.0) as u64).max(MIN_MEMORY_BYTES))
}

impl CgroupV2 {
    /// Checks `root`; `None` (with a single debug log) when it is unusable.
    pub fn detect(root: Option<&Path>) -> Option<CgroupV2> {
        let Some(root) = root else {
            tracing::debug!("no cgroup root configured: command tasks run without cgroup limits");
            return None;
        };
        match Self::try_detect(root) {
            Ok(cg) => {
                tracing::info!(root = %root.display(), cpu = cg.cpu, memory = cg.memory, "cgroup v2 limits enabled");
                Some(cg)
            }
            Err(e) => {
                tracing::debug!(root = %root.display(), error = %e, "cgroup v2 root unusable: command tasks run without cgroup limits");
                None
            }
        }
    }

    fn try_detect(root: &Path) -> io::Result<CgroupV2> {
        if !root.exists() {
            let parent_is_v2 = root.parent().is_some_and(|p| p.join("cgroup.controllers").exists());
            if !parent_is_v2 {
                return Err(io::Error::new(io::ErrorKind::NotFound, "not a cgroup v2 directory"));
            }
            fs::create_dir(root)?;
        }
        let controllers = fs::read_to_string(root.join("cgroup.controllers"))?;
        let c_root = std::ffi::CString::new(root.as_os_str().as_encoded_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))?;
        // SAFETY: access(2) on a valid C string.
        if unsafe { libc::access(c_root.as_ptr(), libc::W_OK) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let available: Vec<&str> = controllers.split_whitespace().collect();
        for c in ["cpu", "memory"] {
            if available.contains(&c) {
                let _ = fs::write(root.join("cgroup.subtree_control"), format!("+{c}"));
            }
        }
        let enabled = fs::read_to_string(root.join("cgroup.subtree_control")).unwrap_or_default();
        let enabled: Vec<&str> = enabled.split_whitespace().collect();
        Ok(CgroupV2 { root: root.to_path_buf(), cpu: enabled.contains(&"cpu"), memory: enabled.contains(&"memory") })
    }

    /// Creates the task's cgroup, applies limits and opens its `cgroup.procs`.
    pub fn create(&self, container_id: &str, cpus: f64, mem_mb: f64) -> io::Result<(PathBuf, OwnedFd)> {
        let dir = self.root.join(container_id);
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        if self.cpu {
            let shares = cpu_shares(cpus);
            let weight = (1 + (shares.saturating_sub(2) * 9999) / 262_142).clamp(1, 10_000);
            fs::write(dir.join("cpu.weight"), weight.to_string())?;
        }
        if self.memory {
            if let Some(limit) = memory_limit(mem_mb) {
                fs::write(dir.join("memory.max"), limit.to_string())?;
            }
        }
        let procs = fs::OpenOptions::new().write(true).open(dir.join("cgroup.procs"))?;
        Ok((dir, procs.into()))
    }
}

/// Removes a task cgroup (after its processes are gone; errors are logged).
pub(crate) fn remove(dir: &Path) {
    if let Err(e) = fs::remove_dir(dir) {
        if e.kind() != io::ErrorKind::NotFound {
            tracing::debug!(dir = %dir.display(), error = %e, "failed to remove task cgroup");
        }
    }
}

/// Usage from a cgroup v2 directory: (user secs, system secs, memory bytes).
pub(crate) fn stats(dir: &Path) -> (Option<f64>, Option<f64>, Option<u64>) {
    let kv = |file: &str, key: &str| -> Option<u64> {
        let text = fs::read_to_string(dir.join(file)).ok()?;
        text.lines().find_map(|l| {
            let mut it = l.split_whitespace();
            (it.next()? == key).then(|| it.next()?.parse().ok()).flatten()
        })
    };
    let user = kv("cpu.stat", "user_usec").map(|u| u as f64 / 1e6);
    let system = kv("cpu.stat", "system_usec").map(|u| u as f64 / 1e6);
    let mem =
        kv("memory.stat", "anon").or_else(|| fs::read_to_string(dir.join("memory.current")).ok()?.trim().parse().ok());
    (user, system, mem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_mesos_minimums() {
        assert_eq!(cpu_shares(0.0), 2);
        assert_eq!(cpu_shares(0.5), 512);
        assert_eq!(memory_limit(0.0), None);
        assert_eq!(memory_limit(16.0), Some(MIN_MEMORY_BYTES));
        assert_eq!(memory_limit(128.0), Some(128 * 1024 * 1024));
    }

    #[test]
    fn unusable_roots_are_skipped() {
        assert!(CgroupV2::detect(None).is_none());
        let tmp = std::env::temp_dir().join(format!("cz-cg-{}", uuid::Uuid::new_v4()));
        assert!(CgroupV2::detect(Some(&tmp)).is_none());
        assert!(!tmp.exists());
    }
}
