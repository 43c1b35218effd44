//! Small helpers over `/proc` and process bookkeeping: process identity (pid +
//! start time), session scans, waiting for a pid that may not be our child,
//! and Mesos-style descriptions of wait(2) statuses.

use std::fs;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// The fields of `/proc/<pid>/stat` the containerizers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// Process id.
    pub pid: i32,
    /// One-letter state (`R`, `S`, `Z`, ...).
    pub state: char,
    /// Parent pid.
    pub ppid: i32,
    /// Process group id.
    pub pgrp: i32,
    /// Session id.
    pub session: i32,
    /// User time in clock ticks.
    pub utime: u64,
    /// System time in clock ticks.
    pub stime: u64,
    /// User time of reaped children in clock ticks.
    pub cutime: u64,
    /// System time of reaped children in clock ticks.
    pub cstime: u64,
    /// Start time in clock ticks after boot (identity check against pid reuse).
    pub starttime: u64,
    /// Resident set size in pages.
    pub rss_pages: u64,
}

impl ProcStat {
    /// Whether the process has terminated (zombie or dead) but is still listed.
    pub fn is_defunct(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Parses the text of a `/proc/<pid>/stat` file.
pub(crate) fn parse_stat(text: &str) -> Option<ProcStat> {
    // The command name is in parentheses and may itself contain spaces or ')'.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let pid = text.get(..open)?.trim().parse().ok()?;
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // `rest[0]` is field 3 (state); field N is at index N - 3.
    let field = |n: usize| rest.get(n - 3).copied();
    let num = |n: usize| field(n).and_then(|s| s.parse::<i64>().ok());
    Some(ProcStat {
        pid,
        state: field(3)?.chars().next()?,
        ppid: num(4)? as i32,
        pgrp: num(5)? as i32,
        session: num(6)? as i32,
        utime: num(14)?.max(0) as u64,
        stime: num(15)?.max(0) as u64,
        cutime: num(16)?.max(0) as u64,
        cstime: num(17)?.max(0) as u64,
        starttime: num(22)?.max(0) as u64,
        rss_pages: num(24)?.max(0) as u64,
    })
}

/// Reads `/proc/<pid>/stat`; `None` when the process does not exist.
pub(crate) fn read_stat(pid: i32) -> Option<ProcStat> {
    if pid <= 0 {
        return None;
    }
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// Start time (clock ticks after boot) of a live process.
pub(crate) fn start_time(pid: i32) -> Option<u64> {
    read_stat(pid).map(|s| s.starttime)
}

/// Whether `pid` is a live (non-zombie) process, and, when `start` is given,
/// the same process that had that start time (guards against pid reuse).
pub(crate) fn is_alive(pid: i32, start: Option<u64>) -> bool {
    match read_stat(pid) {
        Some(stat) => !stat.is_defunct() && start.is_none_or(|s| s == stat.starttime),
        None => false,
    }
}

/// The kernel's boot id, used to tell whether checkpointed pids are still meaningful.
pub(crate) fn boot_id() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/random/boot_id").ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Stats of every process currently listed in `/proc`.
pub(crate) fn all_processes() -> Vec<ProcStat> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter_map(read_stat)
        .collect()
}

/// Live processes whose session id is `sid`.
pub(crate) fn session_members(sid: i32) -> Vec<ProcStat> {
    all_processes().into_iter().filter(|p| p.session == sid && !p.is_defunct()).collect()
}

/// Sends `sig` to every live process of session `sid` except `exclude`.
/// Returns how many processes were signalled.
pub(crate) fn signal_session(sid: i32, exclude: i32, sig: i32) -> usize {
    if sid <= 1 {
        return 0;
    }
    let mut n = 0;
    for p in session_members(sid) {
        if p.pid != exclude && p.pid > 1 {
            // SAFETY: plain kill(2) on a pid we just read from /proc.
            if unsafe { libc::kill(p.pid, sig) } == 0 {
                n += 1;
            }
        }
    }
    n
}

/// Sends `sig` to process group `pgid` (ignoring "no such process").
pub(crate) fn signal_group(pgid: i32, sig: i32) {
    if pgid > 1 {
        // SAFETY: killpg(2) with a validated, positive group id.
        unsafe {
            libc::killpg(pgid, sig);
        }
    }
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
pub(crate) fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// Memory page size in bytes.
pub(crate) fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

/// Reaps `pid` if it is our child and has exited (never blocks; errors ignored).
pub(crate) fn try_reap(pid: i32) {
    if pid <= 0 {
        return;
    }
    let mut status = 0;
    // SAFETY: non-blocking waitpid on a specific pid; ECHILD is fine.
    unsafe {
        libc::waitpid(pid, &mut status, libc::WNOHANG);
    }
}

/// Opens a pidfd for `pid` (Linux 5.3+).
fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: raw syscall with a pid and zero flags; on success the kernel
    // returns a new fd we take ownership of.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Waits until `pid` (identified by its start time) has terminated. Works for
/// processes that are not our children: uses a pidfd when available, else
/// polls `/proc`. Reaps the process afterwards if it happens to be our child.
pub(crate) async fn wait_for_exit(pid: i32, start: Option<u64>) {
    if let Some(fd) = pidfd_open(pid) {
        // Re-check identity after opening, so the pidfd refers to our process.
        if is_alive(pid, start) {
            let raw = fd.as_raw_fd();
            // SAFETY: `fd` is an open pidfd owned by the AsyncFd for its whole lifetime.
            match unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) } {
                Ok(afd) => {
                    let _ = afd.readable().await;
                }
                Err(e) => {
                    tracing::debug!(pid, raw, error = %e, "pidfd not pollable, polling /proc");
                    poll_until_dead(pid, start).await;
                }
            }
        }
    } else {
        poll_until_dead(pid, start).await;
    }
    try_reap(pid);
}

async fn poll_until_dead(pid: i32, start: Option<u64>) {
    while is_alive(pid, start) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// glibc's `strsignal` text for a signal number (C locale).
pub(crate) fn signal_name(sig: i32) -> String {
    let name = match sig {
        1 => "Hangup",
        2 => "Interrupt",
        3 => "Quit",
        4 => "Illegal instruction",
        5 => "Trace/breakpoint trap",
        6 => "Aborted",
        7 => "Bus error",
        8 => "Floating point exception",
        9 => "Killed",
        10 => "User defined signal 1",
        11 => "Segmentation fault",
        12 => "User defined signal 2",
        13 => "Broken pipe",
        14 => "Alarm clock",
        15 => "Terminated",
        16 => "Stack fault",
        17 => "Child exited",
        18 => "Continued",
        19 => "Stopped (signal)",
        20 => "Stopped",
        21 => "Stopped (tty input)",
        22 => "Stopped (tty output)",
        23 => "Urgent I/O condition",
        24 => "CPU time limit exceeded",
        25 => "File size limit exceeded",
        26 => "Virtual timer expired",
        27 => "Profiling timer expired",
        28 => "Window changed",
        29 => "I/O possible",
        30 => "Power failure",
        31 => "Bad system call",
        32..=64 => return format!("Real-time signal {}", sig - 34),
        _ => return format!("Unknown signal {sig}"),
    };
    name.to_string()
}

/// A decoded wait(2) status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WaitStatus {
    /// Exit code when the process exited normally.
    pub code: Option<i32>,
    /// Terminating signal when it was killed by one.
    pub signal: Option<i32>,
    /// Whether a core was dumped.
    pub core_dumped: bool,
}

impl WaitStatus {
    /// Decodes a raw wait(2) status.
    pub fn from_raw(status: i32) -> Self {
        if libc::WIFEXITED(status) {
            WaitStatus { code: Some(libc::WEXITSTATUS(status)), signal: None, core_dumped: false }
        } else if libc::WIFSIGNALED(status) {
            WaitStatus { code: None, signal: Some(libc::WTERMSIG(status)), core_dumped: libc::WCOREDUMP(status) }
        } else {
            WaitStatus { code: None, signal: None, core_dumped: false }
        }
    }

    /// Whether this is a successful exit (code 0).
    pub fn succeeded(&self) -> bool {
        self.code == Some(0)
    }

    /// Mesos' `WSTRINGIFY`: `exited with status N` / `terminated with signal <Name>`.
    pub fn describe(&self) -> String {
        match (self.code, self.signal) {
            (Some(c), _) => format!("exited with status {c}"),
            (None, Some(s)) => {
                let mut m = format!("terminated with signal {}", signal_name(s));
                if self.core_dumped {
                    m.push_str(" (core dumped)");
                }
                m
            }
            _ => "exited with unknown status".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_comm() {
        let text =
            "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 7 3 1 2 20 0 1 0 555 1000 42 18446744073709551615";
        let s = parse_stat(text).expect("parse");
        assert_eq!(s.pid, 1234);
        assert_eq!(s.state, 'S');
        assert_eq!((s.ppid, s.pgrp, s.session), (1, 1234, 1234));
        assert_eq!((s.utime, s.stime, s.cutime, s.cstime), (7, 3, 1, 2));
        assert_eq!(s.starttime, 555);
        assert_eq!(s.rss_pages, 42);
    }

    #[test]
    fn own_process_is_alive_with_start_time() {
        let me = std::process::id() as i32;
        let st = start_time(me).expect("own stat");
        assert!(is_alive(me, Some(st)));
        assert!(!is_alive(me, Some(st + 1)));
    }

    #[test]
    fn describes_wait_statuses() {
        assert_eq!(WaitStatus::from_raw(3 << 8).describe(), "exited with status 3");
        assert_eq!(WaitStatus::from_raw(9).describe(), "terminated with signal Killed");
        assert_eq!(WaitStatus::from_raw(15).describe(), "terminated with signal Terminated");
        assert!(WaitStatus::from_raw(0).succeeded());
    }
}
