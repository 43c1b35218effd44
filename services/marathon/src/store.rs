//! Marathon's persistent state in ZooKeeper, laid out like Marathon 1.4's store:
//! `<zk path>/state/<category>/<bucket>/<id>` holds the latest JSON of an entity and its children
//! `<version>` hold older versions (apps keep `--zk_max_versions`). The bucket is one hex digit of a hash of
//! the id, so no znode gets too many children; every entity is its own znode, far below the 1 MB limit.

use common::zk::{self, ZkUrl};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;
use tokio::sync::Mutex;
use zookeeper_client as zkc;

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
}

impl Store {
    /// A store under `url.path` (nothing is contacted until first use).
    pub fn new(url: ZkUrl, session_timeout: Duration) -> Store {
        Store { url, session_timeout, client: Mutex::new(None) }
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

    /// Writes the latest value of an entity.
    pub async fn put<T: Serialize>(&self, category: Category, id: &str, value: &T) -> Result<(), StoreError> {
        let client = self.client().await?;
        let data = serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(id.to_string(), e))?;
        let path = self.path(category, id);
        set_or_create(&client, &self.url, &path, &data).await
    }

    /// Records a version of an entity under it, keeping at most `keep` versions (oldest removed first).
    pub async fn put_version<T: Serialize>(
        &self,
        category: Category,
        id: &str,
        version: &str,
        value: &T,
        keep: usize,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        let data = serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(id.to_string(), e))?;
        let base = self.path(category, id);
        set_or_create(&client, &self.url, &format!("{base}/{}", escape(version)), &data).await?;
        let mut versions = client.list_children(&base).await?;
        versions.sort();
        while versions.len() > keep.max(1) {
            let oldest = versions.remove(0);
            match client.delete(&format!("{base}/{oldest}"), None).await {
                Ok(()) | Err(zkc::Error::NoNode) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
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
        let children = match client.list_children(&base).await {
            Ok(c) => c,
            Err(zkc::Error::NoNode) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        for child in children {
            match client.delete(&format!("{base}/{child}"), None).await {
                Ok(()) | Err(zkc::Error::NoNode) => {}
                Err(e) => return Err(e.into()),
            }
        }
        match client.delete(&base, None).await {
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
                    Ok((data, _)) => out.push(serde_json::from_slice(&data).map_err(|e| StoreError::Corrupt(path, e))?),
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

    /// Stores the framework id.
    pub async fn set_framework_id(&self, id: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        set_or_create(&client, &self.url, &format!("{}/state/framework-id", self.url.path), id.as_bytes()).await
    }
}

async fn set_or_create(client: &zkc::Client, url: &ZkUrl, path: &str, data: &[u8]) -> Result<(), StoreError> {
    match client.set_data(path, data, None).await {
        Ok(_) => Ok(()),
        Err(zkc::Error::NoNode) => {
            let parent = &path[..path.rfind('/').unwrap_or(0)];
            zk::ensure_path(client, url, parent).await?;
            let options = zkc::CreateMode::Persistent.with_acls(url.acls());
            match client.create(path, data, &options).await {
                Ok(_) => Ok(()),
                Err(zkc::Error::NodeExists) => client.set_data(path, data, None).await.map(|_| ()).map_err(Into::into),
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
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
