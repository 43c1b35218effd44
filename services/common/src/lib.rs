//! Shared pieces of every mesos-rs role.
//!
//! - [`auth`]: credential files, HTTP Basic authentication and redaction of secrets.
//! - [`config`]: flags from the command line, `MESOS_*`/`MARATHON_*` environment and packaged config files.
//! - [`zk`]: ZooKeeper URLs, sessions, master election and leader detection.
//! - [`mesos`]: Mesos v1 wire types (JSON) shared by master, agent and frameworks.
//! - [`resources`]: resources and attributes: text/JSON parsing and arithmetic.
//! - [`recordio`]: the RecordIO framing of streaming Mesos APIs.
//! - [`metrics`]: Prometheus registry and process metrics.
//! - [`http`]: small HTTP helpers (JSON/JSONP replies).
//! - [`agent_link`]: the internal agent ↔ master protocol.
//! - [`net`]: local addresses and hostnames.
//! - [`logging`]: tracing setup.
//! - [`shutdown`]: SIGTERM/Ctrl-C handling shared by the HTTP server and the ZooKeeper election.

pub mod agent_link;
pub mod auth;
pub mod config;
pub mod http;
pub mod logging;
pub mod mesos;
pub mod metrics;
pub mod net;
pub mod recordio;
pub mod resources;
pub mod shutdown;
pub mod zk;
