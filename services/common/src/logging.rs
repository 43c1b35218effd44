//! Logging setup: `tracing` to stderr, and also to `<log_dir>/<program>.log` when a log directory is given;
//! plain text or JSON lines; the level from the Mesos-style flag (INFO/WARNING/ERROR) unless `RUST_LOG` is set.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (`timestamp`, `level`, `fields`, `target`, `span`s).
    Json,
}

/// The values `--log_format` accepts.
pub const FORMATS: &[&str] = &["text", "json"];

/// Parses `--log_format` (`text` or `json`, any case).
pub fn parse_format(text: &str) -> Result<Format, String> {
    match text.to_ascii_lowercase().as_str() {
        "text" => Ok(Format::Text),
        "json" => Ok(Format::Json),
        _ => Err(format!("unknown log format '{text}': expected text or json")),
    }
}

/// The `tracing` filter directive for a Mesos/Marathon-style level (`INFO`, `WARNING`, `ERROR`, also `WARN`,
/// `DEBUG`, any case); unknown text means `info`, as the flag loader has already checked the value.
pub fn level_directive(level: &str) -> &'static str {
    match level.to_ascii_uppercase().as_str() {
        "ERROR" => "error",
        "WARNING" | "WARN" => "warn",
        "DEBUG" => "debug",
        "TRACE" => "trace",
        _ => "info",
    }
}

/// The log file of `program` in `dir`: `<dir>/<program>.log` (e.g. `/var/log/mesos/mesos-master.log`).
pub fn log_file(dir: &Path, program: &str) -> PathBuf {
    dir.join(format!("{program}.log"))
}

/// Installs the global subscriber: stderr, plus `log_dir`'s file (created with the directory, appended to)
/// when given. `RUST_LOG` overrides `level` when set. Errors name the file that cannot be opened.
pub fn init(program: &str, level: &str, format: Format, log_dir: Option<&Path>) -> Result<(), String> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level_directive(level)));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = vec![layer(format, ansi, std::io::stderr)];
    if let Some(dir) = log_dir {
        let path = log_file(dir, program);
        let file = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::OpenOptions::new().create(true).append(true).open(&path))
            .map_err(|e| format!("{program}: cannot open the log file '{}': {e}", path.display()))?;
        layers.push(layer(format, false, Arc::new(file)));
    }
    let _ = tracing_subscriber::registry().with(layers).with(filter).try_init();
    Ok(())
}

/// [`init`], or one line on stderr and exit status 1 when the log file cannot be opened.
pub fn init_or_exit(program: &str, level: &str, format: &str, log_dir: Option<&str>) {
    let result = parse_format(format).and_then(|format| init(program, level, format, log_dir.map(Path::new)));
    if let Err(message) = result {
        eprintln!("{message}");
        std::process::exit(1);
    }
}

/// One output: a formatting layer in `format` writing to `writer`.
fn layer<W>(format: Format, ansi: bool, writer: W) -> Box<dyn Layer<Registry> + Send + Sync>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let fmt = tracing_subscriber::fmt::layer().with_writer(writer);
    match format {
        Format::Text => fmt.with_ansi(ansi).boxed(),
        Format::Json => fmt.json().with_ansi(false).boxed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mesos_levels_map_to_tracing_directives() {
        assert_eq!(level_directive("INFO"), "info");
        assert_eq!(level_directive("WARNING"), "warn");
        assert_eq!(level_directive("warn"), "warn");
        assert_eq!(level_directive("ERROR"), "error");
        assert_eq!(level_directive("debug"), "debug");
        assert_eq!(level_directive("anything else"), "info");
    }

    #[test]
    fn formats_parse_in_any_case_and_reject_others() {
        assert_eq!(parse_format("text"), Ok(Format::Text));
        assert_eq!(parse_format("JSON"), Ok(Format::Json));
        assert_eq!(parse_format("xml"), Err("unknown log format 'xml': expected text or json".to_string()));
        for name in FORMATS {
            assert!(parse_format(name).is_ok());
        }
    }

    #[test]
    fn each_program_logs_to_its_own_file() {
        assert_eq!(log_file(Path::new("/var/log/mesos"), "mesos-master"), Path::new("/var/log/mesos/mesos-master.log"));
    }
}
