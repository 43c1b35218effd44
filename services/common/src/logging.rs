//! Logging setup: `tracing` to stderr, level from `RUST_LOG` or the Mesos-style level (INFO/WARNING/ERROR).

/// Installs the global subscriber. `level` is `MESOS_LOGGING_LEVEL`-style text; `RUST_LOG` wins when set.
pub fn init(level: &str) {
    let default = match level.to_ascii_uppercase().as_str() {
        "ERROR" => "error",
        "WARNING" | "WARN" => "warn",
        "DEBUG" => "debug",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).try_init();
}
