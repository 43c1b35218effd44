//! The durable registry (`--registry=replicated_log`): admitted agents, unreachable agents and frameworks,
//! recovered by a newly elected leader before it serves.
//!
//! [`Master`](crate::state::Master) records which entries changed ([`Key`]s); [`Registrar::sync`] turns them
//! into [`Change`]s and writes them:
//! - with `--zk`: one znode per entry, `<zk path>/registry/{agents,unreachable,frameworks}/<id>` holding the
//!   entry's JSON, so a write costs one ZooKeeper operation per changed entry however large the cluster;
//! - without: `<work_dir>/registry.json`, the whole registry as one JSON object, replaced atomically
//!   (written to a temporary file, synced, renamed);
//! - with `--registry=in_memory`: nowhere (recovery finds nothing).
//!
//! Upstream keeps a replicated log instead; the masters' ZooKeeper ensemble gives the same durability here.

use common::agent_link::AgentInfo;
use common::mesos::{FrameworkInfo, Id};
use common::zk::{self, ZkUrl};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use zookeeper_client as zkc;

/// The kinds of registry entries, each a directory (znode or JSON object) of entries by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Admitted agents: [`AgentEntry`].
    Agents,
    /// Agents marked unreachable: [`UnreachableEntry`].
    Unreachable,
    /// Frameworks: [`FrameworkEntry`].
    Frameworks,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 3] = [Kind::Agents, Kind::Unreachable, Kind::Frameworks];

    /// The directory name.
    pub fn dir(self) -> &'static str {
        match self {
            Kind::Agents => "agents",
            Kind::Unreachable => "unreachable",
            Kind::Frameworks => "frameworks",
        }
    }
}

/// One registry entry's identity.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// Which directory.
    pub kind: Kind,
    /// The agent or framework id.
    pub id: Id,
}

impl Key {
    /// A key.
    pub fn new(kind: Kind, id: &Id) -> Key {
        Key { kind, id: id.clone() }
    }
}

/// An entry's new value (`None`: delete it).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The entry.
    pub key: Key,
    /// Its JSON, or `None` to remove it.
    pub value: Option<Value>,
}

/// An admitted agent.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct AgentEntry {
    /// Its id.
    pub id: Id,
    /// What it said about itself when it last registered.
    pub info: AgentInfo,
}

/// An agent marked unreachable.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct UnreachableEntry {
    /// Its id.
    pub id: Id,
    /// When it was marked unreachable (seconds since the epoch).
    pub timestamp: f64,
}

/// A framework the master knows (not torn down).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct FrameworkEntry {
    /// Its id.
    pub id: Id,
    /// FrameworkInfo as last subscribed.
    pub info: FrameworkInfo,
}

/// Everything a newly elected master recovers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Registry {
    /// Admitted agents.
    pub agents: Vec<AgentEntry>,
    /// Unreachable agents.
    pub unreachable: Vec<UnreachableEntry>,
    /// Frameworks.
    pub frameworks: Vec<FrameworkEntry>,
}

impl Registry {
    /// Adds one stored entry of `kind`; entries that do not parse are skipped with a warning.
    fn add(&mut self, kind: Kind, value: Value) {
        let parsed = match kind {
            Kind::Agents => serde_json::from_value(value).map(|e| self.agents.push(e)),
            Kind::Unreachable => serde_json::from_value(value).map(|e| self.unreachable.push(e)),
            Kind::Frameworks => serde_json::from_value(value).map(|e| self.frameworks.push(e)),
        };
        if let Err(e) = parsed {
            tracing::warn!(kind = kind.dir(), error = %e, "skipping a registry entry that does not parse");
        }
    }
}

/// The registry as one JSON document: `{"agents": {id: entry}, "unreachable": {…}, "frameworks": {…}}`.
type Document = BTreeMap<String, BTreeMap<String, Value>>;

/// Applies changes to a whole-registry document.
fn apply(document: &mut Document, changes: &[Change]) {
    for change in changes {
        let dir = document.entry(change.key.kind.dir().to_string()).or_default();
        match &change.value {
            Some(value) => {
                dir.insert(change.key.id.value.clone(), value.clone());
            }
            None => {
                dir.remove(&change.key.id.value);
            }
        }
    }
}

/// Reads a whole-registry document into a [`Registry`].
fn from_document(document: &Document) -> Registry {
    let mut registry = Registry::default();
    for kind in Kind::ALL {
        for value in document.get(kind.dir()).into_iter().flat_map(BTreeMap::values) {
            registry.add(kind, value.clone());
        }
    }
    registry
}

/// An id as a znode name: letters, digits, `-` and `_` stay, anything else becomes `%XX`, so ids chosen by
/// frameworks cannot escape their directory (`/`) or be `.`/`..`.
pub fn znode_name(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Where the registry lives.
enum Backend {
    /// Nowhere (`--registry=in_memory`).
    Memory,
    /// `<work_dir>/registry.json`, with the document as last written.
    File { path: PathBuf, document: Document },
    /// Per-entry znodes under `<zk path>/registry`, on a session of our own (opened on first use).
    Zk { url: ZkUrl, session_timeout: Duration, client: Option<zkc::Client> },
}

/// The backend and the changes not yet written.
struct Store {
    backend: Backend,
    pending: BTreeMap<Key, Option<Value>>,
}

/// Reads and writes the registry. Writes are serialized, so a caller of [`Registrar::sync`] knows that every
/// change recorded before the call is durable when it returns `Ok`.
pub struct Registrar {
    store: tokio::sync::Mutex<Store>,
}

/// ZooKeeper writes in flight at once.
const ZK_BATCH: usize = 512;

impl Registrar {
    /// A registrar that keeps nothing (`--registry=in_memory`).
    pub fn in_memory() -> Registrar {
        Registrar::with(Backend::Memory)
    }

    /// A registrar writing `<work_dir>/registry.json`.
    pub fn file(work_dir: &str) -> Registrar {
        Registrar::with(Backend::File {
            path: PathBuf::from(work_dir).join("registry.json"),
            document: Document::new(),
        })
    }

    /// A registrar writing znodes under `<url.path>/registry`.
    pub fn zookeeper(url: ZkUrl, session_timeout: Duration) -> Registrar {
        Registrar::with(Backend::Zk { url, session_timeout, client: None })
    }

    fn with(backend: Backend) -> Registrar {
        Registrar { store: tokio::sync::Mutex::new(Store { backend, pending: BTreeMap::new() }) }
    }

    /// Waits until at least `quorum` masters are members of the ZooKeeper election group (no-op for the other
    /// backends). Logs while waiting.
    pub async fn wait_for_quorum(&self, quorum: u32) {
        let mut logged = false;
        loop {
            let members = {
                let mut store = self.store.lock().await;
                match &mut store.backend {
                    Backend::Zk { url, session_timeout, client } => {
                        let group = url.path.clone();
                        match session(client, url, *session_timeout).await {
                            Ok(c) => match c.list_children(&group).await {
                                Ok(children) => children
                                    .iter()
                                    .filter(|c| zk::MemberKind::MesosMaster.sequence(c).is_some())
                                    .count(),
                                Err(e) => {
                                    *client = None;
                                    tracing::warn!(error = %e, "cannot list the election group");
                                    0
                                }
                            },
                            Err(e) => {
                                tracing::warn!(error = %e, "cannot connect to ZooKeeper for the registry");
                                0
                            }
                        }
                    }
                    Backend::Memory | Backend::File { .. } => return,
                }
            };
            if members >= quorum as usize {
                tracing::info!(members, quorum, "quorum of masters present");
                return;
            }
            if !logged {
                tracing::warn!(
                    members,
                    quorum,
                    "waiting for a quorum of masters to join the ZooKeeper group before recovering"
                );
                logged = true;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Reads the registry. What was read becomes the base later changes apply to.
    pub async fn recover(&self) -> Result<Registry, String> {
        let mut store = self.store.lock().await;
        store.pending.clear();
        match &mut store.backend {
            Backend::Memory => Ok(Registry::default()),
            Backend::File { path, document } => {
                *document = match tokio::fs::read(&*path).await {
                    Ok(bytes) => serde_json::from_slice(&bytes)
                        .map_err(|e| format!("{} is not a registry: {e}", path.display()))?,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Document::new(),
                    Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
                };
                Ok(from_document(document))
            }
            Backend::Zk { url, session_timeout, client } => {
                let root = registry_root(url);
                let result = async {
                    let c = session(client, url, *session_timeout).await?;
                    let mut registry = Registry::default();
                    for kind in Kind::ALL {
                        let dir = format!("{root}/{}", kind.dir());
                        zk::ensure_path(c, url, &dir).await?;
                        let names = c.list_children(&dir).await?;
                        for chunk in names.chunks(ZK_BATCH) {
                            let reads = chunk.iter().map(|name| {
                                let path = format!("{dir}/{name}");
                                async move { c.get_data(&path).await }
                            });
                            for result in futures::future::join_all(reads).await {
                                match result {
                                    Ok((bytes, _)) => match serde_json::from_slice::<Value>(&bytes) {
                                        Ok(value) => registry.add(kind, value),
                                        Err(e) => {
                                            tracing::warn!(error = %e, "skipping a registry znode that is not JSON")
                                        }
                                    },
                                    Err(zkc::Error::NoNode) => {}
                                    Err(e) => return Err(e),
                                }
                            }
                        }
                    }
                    Ok::<_, zkc::Error>(registry)
                }
                .await;
                result.map_err(|e| {
                    *client = None;
                    format!("cannot read the registry from ZooKeeper: {e}")
                })
            }
        }
    }

    /// Writes every change the master recorded (`take` drains them, called under the store lock so writes
    /// stay in order). Changes that could not be written are kept and retried by the next call.
    pub async fn sync(&self, take: impl FnOnce() -> Vec<Change>) -> Result<(), String> {
        let mut store = self.store.lock().await;
        for change in take() {
            store.pending.insert(change.key, change.value);
        }
        if store.pending.is_empty() {
            return Ok(());
        }
        let changes: Vec<Change> =
            store.pending.iter().map(|(key, value)| Change { key: key.clone(), value: value.clone() }).collect();
        let written = match &mut store.backend {
            Backend::Memory => Ok(()),
            Backend::File { path, document } => {
                let mut next = document.clone();
                apply(&mut next, &changes);
                let written = write_atomically(path, &next).await;
                if written.is_ok() {
                    *document = next;
                }
                written
            }
            Backend::Zk { url, session_timeout, client } => {
                let written = write_znodes(client, url, *session_timeout, &changes).await;
                if written.is_err() {
                    *client = None;
                }
                written
            }
        };
        if written.is_ok() {
            store.pending.clear();
        }
        written
    }
}

/// `<zk path>/registry`.
fn registry_root(url: &ZkUrl) -> String {
    format!("{}/registry", url.path.trim_end_matches('/'))
}

/// The registry's ZooKeeper session, opened if there is none.
async fn session<'a>(
    client: &'a mut Option<zkc::Client>,
    url: &ZkUrl,
    timeout: Duration,
) -> Result<&'a zkc::Client, zkc::Error> {
    if client.as_ref().is_some_and(|c| c.state().is_terminated()) {
        *client = None;
    }
    if client.is_none() {
        *client = Some(zk::connect(url, timeout).await?);
    }
    client.as_ref().ok_or(zkc::Error::ConnectionLoss)
}

/// Writes changes as per-entry znodes, many in flight at once.
async fn write_znodes(
    client: &mut Option<zkc::Client>,
    url: &ZkUrl,
    timeout: Duration,
    changes: &[Change],
) -> Result<(), String> {
    let c = session(client, url, timeout).await.map_err(|e| format!("cannot connect to ZooKeeper: {e}"))?;
    let root = registry_root(url);
    for kind in Kind::ALL {
        zk::ensure_path(c, url, &format!("{root}/{}", kind.dir())).await.map_err(|e| e.to_string())?;
    }
    for chunk in changes.chunks(ZK_BATCH) {
        let writes = chunk.iter().map(|change| {
            let path = format!("{root}/{}/{}", change.key.kind.dir(), znode_name(&change.key.id.value));
            async move { write_znode(c, url, &path, change.value.as_ref()).await }
        });
        for result in futures::future::join_all(writes).await {
            result.map_err(|e| format!("cannot write the registry to ZooKeeper: {e}"))?;
        }
    }
    Ok(())
}

/// Sets, creates or deletes one entry's znode.
async fn write_znode(client: &zkc::Client, url: &ZkUrl, path: &str, value: Option<&Value>) -> Result<(), zkc::Error> {
    match value {
        None => match client.delete(path, None).await {
            Ok(()) | Err(zkc::Error::NoNode) => Ok(()),
            Err(e) => Err(e),
        },
        Some(value) => {
            let data =
                serde_json::to_vec(value).map_err(|_| zkc::Error::BadArguments(&"unserializable registry entry"))?;
            match client.set_data(path, &data, None).await {
                Ok(_) => Ok(()),
                Err(zkc::Error::NoNode) => {
                    let options = zkc::CreateMode::Persistent.with_acls(url.acls());
                    match client.create(path, &data, &options).await {
                        Ok(_) => Ok(()),
                        // Created concurrently: set it.
                        Err(zkc::Error::NodeExists) => client.set_data(path, &data, None).await.map(|_| ()),
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            }
        }
    }
}

/// Replaces `path` with the document: write a temporary file, sync it, rename it over, sync the directory.
async fn write_atomically(path: &std::path::Path, document: &Document) -> Result<(), String> {
    let bytes = serde_json::to_vec(document).map_err(|e| format!("cannot serialize the registry: {e}"))?;
    let target = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let path = target;
        use std::io::Write;
        let dir = path.parent().map(std::path::Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        std::fs::create_dir_all(&dir)?;
        let tmp = path.with_extension("json.tmp");
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(&dir)?.sync_all()
    })
    .await
    .map_err(|e| format!("registry writer failed: {e}"))?
    .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::resources::Resources;

    fn agent(id: &str) -> Change {
        let info = AgentInfo {
            hostname: "h".into(),
            ip: "127.0.0.1".into(),
            port: 5051,
            resources: Resources::parse_text("cpus:1;mem:128")
                .unwrap()
                .to_v1(common::resources::ReservationFormat::PreRefinement),
            attributes: vec![],
            version: "1.11.0".into(),
        };
        let id = Id::new(id);
        Change { key: Key::new(Kind::Agents, &id), value: Some(serde_json::to_value(AgentEntry { id, info }).unwrap()) }
    }

    #[test]
    fn znode_names_are_safe() {
        assert_eq!(znode_name("abc-S1_x"), "abc-S1_x");
        assert_eq!(znode_name("a/b"), "a%2Fb");
        assert_eq!(znode_name(".."), "%2E%2E");
    }

    #[tokio::test]
    async fn file_registry_round_trips_and_deletes() {
        let dir = std::env::temp_dir().join(format!("mesos-master-registry-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let registrar = Registrar::file(dir.to_str().unwrap());
        assert_eq!(registrar.recover().await.unwrap(), Registry::default());
        registrar.sync(|| vec![agent("a1"), agent("a2")]).await.unwrap();
        let gone = Id::new("a1");
        let unreachable = UnreachableEntry { id: gone.clone(), timestamp: 5.0 };
        registrar
            .sync(|| {
                vec![
                    Change { key: Key::new(Kind::Agents, &gone), value: None },
                    Change {
                        key: Key::new(Kind::Unreachable, &gone),
                        value: Some(serde_json::to_value(&unreachable).unwrap()),
                    },
                ]
            })
            .await
            .unwrap();
        let again = Registrar::file(dir.to_str().unwrap());
        let registry = again.recover().await.unwrap();
        assert_eq!(registry.agents.iter().map(|a| a.id.value.as_str()).collect::<Vec<_>>(), vec!["a2"]);
        assert_eq!(registry.unreachable, vec![unreachable]);
        assert!(!dir.join("registry.json.tmp").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
