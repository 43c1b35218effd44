//! Marathon's persistent state in ZooKeeper, laid out like Marathon 1.4's store:
//! `<zk path>/state/<category>/<bucket>/<id>` holds the latest JSON of an entity and its children
//! `<version>` hold older versions (apps keep `--zk_max_versions`). The bucket is one hex digit of a hash of
//! the id, so no znode gets too many children; every entity is its own znode, far below the 1 MB limit.

use common::zk::{self, ZkUrl};
use serde::de::DeserializeOwned;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::sync::Mutex;
use zookeeper_client as zkc;

/// Most bytes of paths and data in one multi-op (ZooKeeper refuses requests over `jute.maxbuffer`, 1 MiB).
const MULTI_BYTES: usize = 256 * 1024;

/// One node write for [`Store::put_all`]: an entity's latest value, or one of its versions; `data: None`
/// deletes the node (only for nodes without versions under them).
#[derive(Debug)]
pub struct NodeWrite {
    /// The entity's kind.
    pub category: Category,
    /// The entity's id.
    pub id: String,
    /// The version's name, for a version node.
    pub version: Option<String>,
    /// The JSON to store, or `None` to delete.
    pub data: Option<Vec<u8>>,
}

/// A znode path and its new data (`None`: delete it).
type PathWrite = (String, Option<Vec<u8>>);

/// Entity kinds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Category {
    /// App definitions (with versions).
    Apps,
    /// Task/instance records.
    Instances,
    /// Running deployment plans.
    Deployments,
    /// Last task failure per app.
    TaskFailures,
}

impl Category {
    fn name(self) -> &'static str {
        match self {
            Category::Apps => "apps",
            Category::Instances => "instance",
            Category::Deployments => "deployment",
            Category::TaskFailures => "taskFailures",
        }
    }
}

/// A store error (ZooKeeper failure or bad data).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// ZooKeeper refused or failed.
    #[error("ZooKeeper: {0}")]
    Zk(#[from] zkc::Error),
    /// Stored JSON does not parse.
    #[error("corrupt record at {0}: {1}")]
    Corrupt(String, serde_json::Error),
}

/// The ZooKeeper-backed store; reconnects when its session is lost.
pub struct Store {
    url: ZkUrl,
    session_timeout: Duration,
    client: Mutex<Option<zkc::Client>>,
    /// Znodes this store has seen exist (entities and their bucket directories): a hint that picks the first
    /// call of a write, `set` for a known node and `create` for a new one, instead of a failing `set` and a
    /// `mkdir` of every parent each time. Each failed write costs ZooKeeper a logged transaction (an fsync), and
    /// a wrong hint only costs the fallback call.
    known: std::sync::Mutex<HashSet<String>>,
}

impl Store {
    /// A store under `url.path` (nothing is contacted until first use).
    pub fn new(url: ZkUrl, session_timeout: Duration) -> Store {
        Store { url, session_timeout, client: Mutex::new(None), known: Default::default() }
    }

    async fn client(&self) -> Result<zkc::Client, StoreError> {
        let mut guard = self.client.lock().await;
        if let Some(client) = guard.as_ref() {
            if !client.state().is_terminated() {
                return Ok(client.clone());
            }
        }
        let client = zk::connect(&self.url, self.session_timeout).await?;
        zk::ensure_path(&client, &self.url, &format!("{}/state", self.url.path)).await?;
        *guard = Some(client.clone());
        Ok(client)
    }

    fn dir(&self, category: Category, id: &str) -> String {
        format!("{}/state/{}/{:x}", self.url.path, category.name(), bucket(id))
    }

    fn path(&self, category: Category, id: &str) -> String {
        format!("{}/{}", self.dir(category, id), escape(id))
    }

    /// The names (version timestamps) of an entity's stored versions, oldest first.
    pub async fn version_names(&self, category: Category, id: &str) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        let mut names = match client.list_children(&self.path(category, id)).await {
            Ok(n) => n,
            Err(zkc::Error::NoNode) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        names.sort();
        Ok(names)
    }

    /// The stored versions of an entity (oldest first).
    pub async fn versions<T: DeserializeOwned>(&self, category: Category, id: &str) -> Result<Vec<T>, StoreError> {
        let names = self.version_names(category, id).await?;
        let client = self.client().await?;
        let base = self.path(category, id);
        let mut out = Vec::new();
        for name in names {
            let path = format!("{base}/{name}");
            match client.get_data(&path).await {
                Ok((data, _)) => out.push(serde_json::from_slice(&data).map_err(|e| StoreError::Corrupt(path, e))?),
                Err(zkc::Error::NoNode) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }

    /// Deletes an entity and its versions.
    pub async fn delete(&self, category: Category, id: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        let base = self.path(category, id);
        self.forget(&base);
        let children = match client.list_children(&base).await {
            Ok(c) => c,
            Err(zkc::Error::NoNode) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        for child in children {
            self.delete_node(&client, &format!("{base}/{child}")).await?;
        }
        self.delete_node(&client, &base).await
    }

    /// Deletes one znode (gone already is fine) and forgets it.
    async fn delete_node(&self, client: &zkc::Client, path: &str) -> Result<(), StoreError> {
        self.forget(path);
        match client.delete(path, None).await {
            Ok(()) | Err(zkc::Error::NoNode) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every entity of a category (latest values).
    pub async fn list<T: DeserializeOwned>(&self, category: Category) -> Result<Vec<T>, StoreError> {
        let client = self.client().await?;
        let root = format!("{}/state/{}", self.url.path, category.name());
        let buckets = match client.list_children(&root).await {
            Ok(b) => b,
            Err(zkc::Error::NoNode) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for bucket in buckets {
            let dir = format!("{root}/{bucket}");
            for name in client.list_children(&dir).await? {
                let path = format!("{dir}/{name}");
                match client.get_data(&path).await {
                    Ok((data, _)) => {
                        out.push(serde_json::from_slice(&data).map_err(|e| StoreError::Corrupt(path.clone(), e))?);
                        self.remember(&path);
                    }
                    Err(zkc::Error::NoNode) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(out)
    }

    /// The stored framework id, if any.
    pub async fn framework_id(&self) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        match client.get_data(&format!("{}/state/framework-id", self.url.path)).await {
            Ok((data, _)) => Ok(String::from_utf8(data).ok().filter(|s| !s.is_empty())),
            Err(zkc::Error::NoNode) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Applies many node writes at once, in ZooKeeper multi-ops of at most [`MULTI_BYTES`]: one request and one
    /// logged transaction per chunk instead of one per node. Later writes of the same node replace earlier ones
    /// (its first position is kept, so an entity is created before its versions). A chunk ZooKeeper refuses
    /// (the existence hint was wrong for one of its nodes) is redone one node at a time.
    pub async fn put_all(&self, writes: Vec<NodeWrite>) -> Result<(), StoreError> {
        let client = self.client().await?;
        let mut nodes: Vec<PathWrite> = Vec::new();
        let mut position = HashMap::new();
        for write in writes {
            let path = match &write.version {
                Some(version) => format!("{}/{}", self.path(write.category, &write.id), escape(version)),
                None => self.path(write.category, &write.id),
            };
            match position.get(&path) {
                Some(&at) => nodes[at] = (path, write.data),
                None => {
                    position.insert(path.clone(), nodes.len());
                    nodes.push((path, write.data));
                }
            }
        }
        for (path, data) in &nodes {
            let parent = parent(path);
            if data.is_some() && !self.is_known(parent) && !position.contains_key(parent) {
                zk::ensure_path(&client, &self.url, parent).await?;
                self.remember(parent);
            }
        }
        let mut chunks: Vec<&[PathWrite]> = Vec::new();
        let (mut from, mut bytes) = (0, 0);
        for (i, (path, data)) in nodes.iter().enumerate() {
            let size = path.len() + data.as_ref().map_or(0, Vec::len);
            if bytes + size > MULTI_BYTES && i > from {
                chunks.push(&nodes[from..i]);
                (from, bytes) = (i, 0);
            }
            bytes += size;
        }
        if from < nodes.len() {
            chunks.push(&nodes[from..]);
        }
        let options = zkc::CreateMode::Persistent.with_acls(self.url.acls());
        let commits = chunks.into_iter().map(|chunk| {
            let mut writer = client.new_multi_writer();
            let built = chunk.iter().try_for_each(|(path, data)| match data {
                Some(data) if self.is_known(path) => writer.add_set_data(path, data, None),
                Some(data) => writer.add_create(path, data, &options),
                None => writer.add_delete(path, None),
            });
            let commit = built.map(|()| writer.commit());
            async move {
                match commit {
                    Ok(commit) => (chunk, commit.await.is_ok()),
                    Err(_) => (chunk, false),
                }
            }
        });
        for (chunk, committed) in futures::future::join_all(commits).await {
            for (path, data) in chunk {
                match (committed, data) {
                    (true, Some(_)) => self.remember(path),
                    (true, None) => self.forget(path),
                    (false, Some(data)) => self.write(path, data).await?,
                    (false, None) => self.delete_node(&client, path).await?,
                }
            }
        }
        Ok(())
    }

    /// Stores the framework id.
    pub async fn set_framework_id(&self, id: &str) -> Result<(), StoreError> {
        self.write(&format!("{}/state/framework-id", self.url.path), id.as_bytes()).await
    }

    /// Sets a znode's data, creating it (and its parents) if it does not exist.
    async fn write(&self, path: &str, data: &[u8]) -> Result<(), StoreError> {
        let client = self.client().await?;
        if self.is_known(path) {
            match client.set_data(path, data, None).await {
                Ok(_) => return Ok(()),
                Err(zkc::Error::NoNode) => self.forget(path),
                Err(e) => return Err(e.into()),
            }
        }
        let parent = parent(path);
        if !self.is_known(parent) {
            zk::ensure_path(&client, &self.url, parent).await?;
            self.remember(parent);
        }
        let options = zkc::CreateMode::Persistent.with_acls(self.url.acls());
        let created = match client.create(path, data, &options).await {
            Err(zkc::Error::NoNode) => {
                // The parent went away since it was seen (an entity deleted under its versions).
                zk::ensure_path(&client, &self.url, parent).await?;
                client.create(path, data, &options).await.map(|_| ())
            }
            other => other.map(|_| ()),
        };
        match created {
            Ok(()) => {}
            Err(zkc::Error::NodeExists) => {
                client.set_data(path, data, None).await?;
            }
            Err(e) => return Err(e.into()),
        }
        self.remember(path);
        Ok(())
    }

    fn is_known(&self, path: &str) -> bool {
        self.known.lock().expect("known lock").contains(path)
    }

    fn remember(&self, path: &str) {
        self.known.lock().expect("known lock").insert(path.to_string());
    }

    fn forget(&self, path: &str) {
        self.known.lock().expect("known lock").remove(path);
    }
}

/// The parent of a znode path.
fn parent(path: &str) -> &str {
    &path[..path.rfind('/').unwrap_or(0)]
}

/// The bucket of an id: 0-15 from a stable (FNV-1a) hash.
fn bucket(id: &str) -> u32 {
    let mut hash: u32 = 0x811c9dc5;
    for byte in id.bytes() {
        hash ^= byte as u32;
        hash = hash.wrapping_mul(0x01000193);
    }
    hash % 16
}

/// Znode names cannot contain `/`: app ids are stored with `/` as `%2F` (and `%` as `%25`).
fn escape(id: &str) -> String {
    id.replace('%', "%25").replace('/', "%2F")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_escaped_and_bucketed_stably() {
        assert_eq!(escape("/prod/web"), "%2Fprod%2Fweb");
        assert_eq!(escape("a%b"), "a%25b");
        assert_eq!(bucket("/prod/web"), bucket("/prod/web"));
        assert!(bucket("x") < 16);
    }
}
