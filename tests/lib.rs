//! Test harness for integration tests: a real ZooKeeper (Debian's `zookeeper` package) and the real role
//! binaries, all on loopback with free ports, killed and cleaned up when dropped, pass or fail.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// A scratch directory removed on drop.
pub struct ScratchDir(pub PathBuf);

impl ScratchDir {
    /// Creates a fresh directory under the system temp dir.
    pub fn new(name: &str) -> ScratchDir {
        let dir = std::env::temp_dir().join(format!("mesos-rs-test-{name}-{}-{}", std::process::id(), free_port()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        ScratchDir(dir)
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed (SIGKILL) on drop; its output goes to a log file shown on failure.
pub struct Process {
    /// The child.
    pub child: Child,
    /// Name for messages.
    pub name: String,
    /// Combined stdout/stderr.
    pub log: PathBuf,
}

impl Process {
    /// Starts `program` with `args` and `env` (the parent's environment is not inherited except PATH/HOME).
    pub fn start(name: &str, program: &Path, args: &[&str], env: &[(&str, &str)], log_dir: &Path) -> Process {
        let log = log_dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let mut command = Command::new(program);
        command.args(args).env_clear().stdin(Stdio::null()).stdout(out).stderr(err);
        for var in ["PATH", "HOME"] {
            if let Ok(v) = std::env::var(var) {
                command.env(var, v);
            }
        }
        command.envs(env.iter().copied());
        // SAFETY: prctl is async-signal-safe; it makes the child die if the test process dies first.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        Process { child, name: name.to_string(), log }
    }

    /// The log so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills with SIGKILL and waits.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("----- {} log -----\n{}", self.name, self.output());
        }
    }
}

/// Path of a role binary built in the same profile as the running test.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target profile dir");
    let path = dir.join(name);
    assert!(path.exists(), "{} is not built; run `cargo build --workspace --bins` (scripts/test.sh does)", path.display());
    path
}

/// Runs a binary to completion and returns (exit code, stdout+stderr).
pub fn run_to_exit(program: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let output = Command::new(program).args(args).env_clear().envs(env.iter().copied()).output().expect("run");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap_or(-1), text)
}

/// Polls `check` until it returns `Some` or `timeout` passes.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A standalone ZooKeeper server on loopback, from Debian's `zookeeper` package.
pub struct ZooKeeper {
    /// Client port.
    pub port: u16,
    process: Process,
    _dir: ScratchDir,
}

impl ZooKeeper {
    /// Starts a server (tick 500 ms, so session timeouts of 1-10 s are allowed) and waits until it answers.
    pub async fn start() -> ZooKeeper {
        let dir = ScratchDir::new("zk");
        let port = free_port();
        let cfg = dir.path().join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "tickTime=500\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=ruok,srvr\n",
                dir.path().display()
            ),
        )
        .expect("zoo.cfg");
        let classpath = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar";
        assert!(Path::new("/usr/share/java/zookeeper.jar").exists(), "Debian's zookeeper package is not installed");
        let cfg_text = cfg.display().to_string();
        let process = Process::start(
            "zookeeper",
            Path::new("/usr/bin/java"),
            &["-Xmx128m", "-cp", classpath, "org.apache.zookeeper.server.ZooKeeperServerMain", &cfg_text],
            &[],
            dir.path(),
        );
        let zk = ZooKeeper { port, process, _dir: dir };
        wait_for(Duration::from_secs(30), "ZooKeeper to answer ruok", || async move { zk_ruok(port).then_some(()) }).await;
        zk
    }

    /// `zk://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("zk://127.0.0.1:{}{path}", self.port)
    }

    /// Stops the server (SIGKILL).
    pub fn stop(&mut self) {
        self.process.kill();
    }
}

fn zk_ruok(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return false };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"ruok").is_err() {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf == "imok"
}

/// GET a URL and parse JSON, or `None` on any failure.
pub async fn get_json(url: &str) -> Option<serde_json::Value> {
    let response = reqwest::Client::new().get(url).timeout(Duration::from_secs(5)).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}
