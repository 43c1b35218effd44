//! Double-fork launcher for command tasks.
//!
//! The agent forks a tiny *supervisor* process which calls `setsid()`, forks the
//! task (which becomes leader of its own process group, `pgid == task pid`,
//! with `PR_SET_PDEATHSIG=SIGKILL` towards the supervisor), waits for it,
//! SIGKILLs what is left of the task's process group (while the exited leader
//! still reserves the group id), writes the raw wait(2) status to a file and
//! exits. Because the supervisor is not the agent, the task survives agent
//! restarts, and a restarted agent can still learn the exact exit status from
//! that file. The supervisor is named `mesos-task-sup` (comm) and ignores
//! SIGTERM/SIGINT/SIGHUP/SIGQUIT, so stopping the agent by name or signal does
//! not take its tasks down. It closes every inherited descriptor (agent sockets
//! must not outlive the agent); the task gets stdin = `/dev/null`, its
//! stdout/stderr files, and nothing else (everything else is close-on-exec).
//!
//! Everything the children need (paths, argv, envp, file descriptors) is prepared
//! before `fork()`; between `fork()` and `execve()`/`_exit()` only
//! async-signal-safe system calls are made (no allocation, no locks).
//!
//! The children report back over a close-on-exec pipe with fixed 12-byte
//! records `[tag, a, b]` (native-endian `i32`s): `TAG_PID` (a = task pid),
//! `TAG_CHILD_ERROR` (a = stage, b = errno) and `TAG_FORK_ERROR` (b = errno).
//! End-of-file without an error record means the task was exec'ed.

use std::ffi::CString;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Record tag: the supervisor reports the task pid.
const TAG_PID: i32 = 1;
/// Record tag: the task child failed before or at `execve`.
const TAG_CHILD_ERROR: i32 = 2;
/// Record tag: the supervisor could not fork the task.
const TAG_FORK_ERROR: i32 = 3;

/// Exit code of the task child when its setup or exec failed (like a shell's 127).
const EXEC_FAILED_CODE: i32 = 127;

/// Steps of the task child's setup, reported with errno on failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Redirecting stdin/stdout/stderr.
    Stdio,
    /// Changing into the sandbox directory.
    Chdir,
    /// Switching to the task user.
    SwitchUser,
    /// Executing the command.
    Exec,
    /// Forking the task from the supervisor.
    Fork,
}

impl Stage {
    fn code(self) -> i32 {
        match self {
            Stage::Stdio => 1,
            Stage::Chdir => 2,
            Stage::SwitchUser => 3,
            Stage::Exec => 4,
            Stage::Fork => 5,
        }
    }

    fn from_code(code: i32) -> Stage {
        match code {
            1 => Stage::Stdio,
            2 => Stage::Chdir,
            3 => Stage::SwitchUser,
            5 => Stage::Fork,
            _ => Stage::Exec,
        }
    }
}

/// Credentials to switch to in the task child (only used when running as root).
#[derive(Debug, Clone)]
pub(crate) struct Credentials {
    /// Target user id.
    pub uid: libc::uid_t,
    /// Target primary group id.
    pub gid: libc::gid_t,
    /// Supplementary groups.
    pub groups: Vec<libc::gid_t>,
}

/// Everything needed to start a command task; built before forking.
pub(crate) struct SpawnRequest {
    /// Candidate executable paths, tried in order (PATH search done up front).
    pub programs: Vec<CString>,
    /// Full argv, including argv\[0\].
    pub argv: Vec<CString>,
    /// Environment as `KEY=VALUE` strings.
    pub envp: Vec<CString>,
    /// Working directory (the sandbox).
    pub cwd: CString,
    /// File opened for the task's stdout (append mode).
    pub stdout: OwnedFd,
    /// File opened for the task's stderr (append mode).
    pub stderr: OwnedFd,
    /// `/dev/null` opened for reading, used as stdin.
    pub stdin: OwnedFd,
    /// Where the supervisor writes the wait status.
    pub status_path: CString,
    /// Temporary file renamed onto `status_path`.
    pub status_tmp: CString,
    /// Open `cgroup.procs` of the task's cgroup, if any.
    pub cgroup_procs: Option<OwnedFd>,
    /// User to switch to, if any.
    pub credentials: Option<Credentials>,
}

/// A started supervisor.
pub(crate) struct Spawned {
    /// Pid of the supervisor (also the session id of the task's processes).
    pub supervisor_pid: i32,
    /// Read end of the report pipe.
    pub report: OwnedFd,
}

/// What the children reported over the pipe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LaunchReport {
    /// The task's pid (== its process group id).
    pub task_pid: Option<i32>,
    /// A setup/exec failure: stage and errno.
    pub error: Option<(Stage, i32)>,
}

impl LaunchReport {
    /// Human-readable description of a launch failure.
    pub fn error_message(&self, program: &str) -> Option<String> {
        let (stage, errno) = self.error?;
        let err = io::Error::from_raw_os_error(errno);
        Some(match stage {
            Stage::Stdio => format!("Failed to redirect stdio: {err}"),
            Stage::Chdir => format!("Failed to change into the sandbox directory: {err}"),
            Stage::SwitchUser => format!("Failed to switch user: {err}"),
            Stage::Exec => format!("Failed to execute '{program}': {err}"),
            Stage::Fork => format!("Failed to fork the task: {err}"),
        })
    }
}

/// Converts a string to a `CString`, rejecting interior NUL bytes.
pub(crate) fn cstring(what: &str, s: &str) -> Result<CString, String> {
    CString::new(s).map_err(|_| format!("{what} contains a NUL byte"))
}

fn errno() -> i32 {
    // SAFETY: reading the thread-local errno is async-signal-safe.
    unsafe { *libc::__errno_location() }
}

/// Writes one report record; async-signal-safe.
fn report(fd: i32, tag: i32, a: i32, b: i32) {
    let mut buf = [0u8; 12];
    buf[..4].copy_from_slice(&tag.to_ne_bytes());
    buf[4..8].copy_from_slice(&a.to_ne_bytes());
    buf[8..].copy_from_slice(&b.to_ne_bytes());
    // SAFETY: writing a stack buffer to a pipe; a 12-byte write is atomic.
    unsafe {
        libc::write(fd, buf.as_ptr().cast(), buf.len());
    }
}

/// Marks every descriptor from `from` upwards close-on-exec (or closes them).
fn close_from(from: u32, cloexec_only: bool) {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    let flags = if cloexec_only { CLOSE_RANGE_CLOEXEC } else { 0 };
    // SAFETY: close_range(2) is a plain syscall; fall back to a bounded loop.
    let r = unsafe { libc::syscall(libc::SYS_close_range, from, u32::MAX, flags) };
    if r != 0 {
        for fd in from as i32..4096 {
            // SAFETY: operating on descriptor numbers only.
            unsafe {
                if cloexec_only {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                } else {
                    libc::close(fd);
                }
            }
        }
    }
}

/// dup2 that also clears close-on-exec when source and target coincide.
fn dup_onto(fd: i32, target: i32) -> bool {
    // SAFETY: descriptor manipulation only.
    unsafe {
        if fd == target {
            libc::fcntl(fd, libc::F_SETFD, 0) == 0
        } else {
            libc::dup2(fd, target) == target
        }
    }
}

/// Starts the supervisor and, through it, the task. Returns once the
/// supervisor is forked; read the pipe with [`read_report`] to learn the
/// outcome of the exec.
pub(crate) fn spawn(req: &SpawnRequest) -> io::Result<Spawned> {
    if req.programs.is_empty() || req.argv.is_empty() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty command"));
    }

    // Pointer arrays for execve, built before fork (no allocation afterwards).
    let mut argv: Vec<*const libc::c_char> = req.argv.iter().map(|s| s.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = req.envp.iter().map(|s| s.as_ptr()).collect();
    envp.push(std::ptr::null());
    let programs: Vec<*const libc::c_char> = req.programs.iter().map(|s| s.as_ptr()).collect();

    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned here.
    let (read_end, write_end) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };

    let w = write_end.as_raw_fd();
    let stdin = req.stdin.as_raw_fd();
    let stdout = req.stdout.as_raw_fd();
    let stderr = req.stderr.as_raw_fd();
    let cgroup = req.cgroup_procs.as_ref().map(|f| f.as_raw_fd()).unwrap_or(-1);
    let creds = req.credentials.as_ref();

    // SAFETY: see the module documentation. The child branches only call
    // async-signal-safe functions on data prepared above and never return.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // ---- supervisor ----
        unsafe {
            libc::setsid();
            let mut empty: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut empty);
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
            for sig in 1..65 {
                if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                    libc::signal(sig, libc::SIG_DFL);
                }
            }
            let supervisor = libc::getpid();
            let task = libc::fork();
            if task < 0 {
                report(w, TAG_FORK_ERROR, 0, errno());
                libc::_exit(1);
            }
            if task == 0 {
                // ---- task ----
                libc::setpgid(0, 0);
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0);
                if libc::getppid() != supervisor {
                    libc::_exit(EXEC_FAILED_CODE);
                }
                if cgroup >= 0 {
                    // Writing "0" moves the calling process.
                    libc::write(cgroup, b"0".as_ptr().cast(), 1);
                }
                if !dup_onto(stdin, 0) || !dup_onto(stdout, 1) || !dup_onto(stderr, 2) {
                    report(w, TAG_CHILD_ERROR, Stage::Stdio.code(), errno());
                    libc::_exit(EXEC_FAILED_CODE);
                }
                close_from(3, true);
                if libc::chdir(req.cwd.as_ptr()) != 0 {
                    report(w, TAG_CHILD_ERROR, Stage::Chdir.code(), errno());
                    libc::_exit(EXEC_FAILED_CODE);
                }
                if let Some(c) = creds {
                    if libc::setgroups(c.groups.len(), c.groups.as_ptr()) != 0
                        || libc::setgid(c.gid) != 0
                        || libc::setuid(c.uid) != 0
                    {
                        report(w, TAG_CHILD_ERROR, Stage::SwitchUser.code(), errno());
                        libc::_exit(EXEC_FAILED_CODE);
                    }
                }
                let mut err = libc::ENOENT;
                for &prog in &programs {
                    libc::execve(prog, argv.as_ptr(), envp.as_ptr());
                    let e = errno();
                    // Like execvp: remember permission problems, keep searching.
                    if e != libc::ENOENT && e != libc::ENOTDIR || err == libc::ENOENT {
                        err = e;
                    }
                }
                report(w, TAG_CHILD_ERROR, Stage::Exec.code(), err);
                libc::_exit(EXEC_FAILED_CODE);
            }
            // Not the agent: a different name, and deaf to the signals an
            // operator would use to stop the agent (`killall mesos-agent`).
            libc::prctl(libc::PR_SET_NAME, c"mesos-task-sup".as_ptr() as libc::c_ulong, 0, 0, 0);
            for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT] {
                libc::signal(sig, libc::SIG_IGN);
            }
            report(w, TAG_PID, task, 0);
            // Drop every inherited descriptor (agent sockets, the pipe, files).
            close_from(0, false);
            libc::chdir(c"/".as_ptr());
            // Wait without reaping, so the task's pid (and thus its process
            // group id) stays reserved while stragglers of the group are killed.
            let mut info: libc::siginfo_t = std::mem::zeroed();
            loop {
                let r = libc::waitid(libc::P_PID, task as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT);
                if r == 0 {
                    break;
                }
                if errno() != libc::EINTR {
                    break;
                }
            }
            libc::kill(-task, libc::SIGKILL);
            let mut status: libc::c_int = 0;
            loop {
                let r = libc::waitpid(task, &mut status, 0);
                if r == task {
                    break;
                }
                if r < 0 && errno() == libc::EINTR {
                    continue;
                }
                libc::_exit(2);
            }
            write_status(&req.status_tmp, &req.status_path, status);
            libc::_exit(0);
        }
    }

    drop(write_end);
    Ok(Spawned { supervisor_pid: pid, report: read_end })
}

/// Writes `status` as decimal text to `tmp` and renames it onto `path`;
/// async-signal-safe (no allocation).
fn write_status(tmp: &CString, path: &CString, status: i32) {
    let mut buf = [0u8; 16];
    let mut i = buf.len();
    buf[i - 1] = b'\n';
    i -= 1;
    let negative = status < 0;
    let mut v = (status as i64).unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if negative {
        i -= 1;
        buf[i] = b'-';
    }
    // SAFETY: plain file syscalls on prepared C strings and a stack buffer.
    unsafe {
        let fd = libc::open(tmp.as_ptr(), libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC, 0o644);
        if fd >= 0 {
            libc::write(fd, buf[i..].as_ptr().cast(), buf.len() - i);
            libc::fsync(fd);
            libc::close(fd);
            libc::rename(tmp.as_ptr(), path.as_ptr());
        }
    }
}

/// Reads the report pipe to end-of-file (blocking; call from a blocking thread).
pub(crate) fn read_report(fd: OwnedFd) -> LaunchReport {
    let mut file = std::fs::File::from(fd);
    let mut data = Vec::new();
    let _ = file.read_to_end(&mut data);
    let mut out = LaunchReport::default();
    for rec in data.chunks_exact(12) {
        let word = |i: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&rec[i * 4..i * 4 + 4]);
            i32::from_ne_bytes(b)
        };
        match word(0) {
            TAG_PID => out.task_pid = Some(word(1)),
            TAG_CHILD_ERROR => out.error = Some((Stage::from_code(word(1)), word(2))),
            TAG_FORK_ERROR => out.error = Some((Stage::Fork, word(2))),
            _ => {}
        }
    }
    out
}
