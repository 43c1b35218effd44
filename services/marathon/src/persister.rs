//! Ordered persistence of [`Core`](crate::core::Core) changes to ZooKeeper. Batches are stored in submission
//! order; whatever queued up while one batch was being written goes next as one batch. A batch is split into
//! [`stages`] (apps, deployments, task records) and sent as ZooKeeper multi-ops, so a burst of changes costs
//! a few requests and logged transactions instead of one per node.

use crate::core::Write;
use crate::store::{Category, NodeWrite, Store, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// A batch of writes and where to report that it is stored.
type Batch = (Vec<Write>, oneshot::Sender<Result<(), String>>);

/// The handle through which the leader's loop and the API persist their writes.
#[derive(Clone)]
pub struct Persister {
    tx: mpsc::UnboundedSender<Batch>,
}

impl Persister {
    /// Starts the writer task.
    pub fn start(store: Arc<Store>) -> Persister {
        let (tx, mut rx) = mpsc::unbounded_channel::<Batch>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let (mut writes, mut waiting) = (first.0, vec![first.1]);
                while let Ok((more, done)) = rx.try_recv() {
                    writes.extend(more);
                    waiting.push(done);
                }
                let result = write_batch(&store, writes).await.map_err(|e| {
                    tracing::error!(error = %e, "cannot persist state to ZooKeeper");
                    e.to_string()
                });
                for done in waiting {
                    let _ = done.send(result.clone());
                }
            }
        });
        Persister { tx }
    }

    /// Persists the writes; resolves once they are in ZooKeeper.
    pub async fn persist(&self, writes: Vec<Write>) -> Result<(), String> {
        if writes.is_empty() {
            return Ok(());
        }
        let (done, wait) = oneshot::channel();
        self.tx.send((writes, done)).map_err(|_| "persister stopped".to_string())?;
        wait.await.map_err(|_| "persister stopped".to_string())?
    }
}

/// The writes of one entity in a stage, applied one after another in their order.
type Chain = Vec<Write>;

/// Splits a batch of writes into three stages run one after another: apps (with their task failures), then
/// deployments, then task records. Within a stage the entities are written concurrently, each entity's own
/// writes in their order; of a task's records only the last is kept (its final state is what counts).
///
/// Nobody has been told of a batch's changes until all of it is stored, so reordering across entities only
/// matters for what a crash mid-batch leaves behind: an app is always stored before a deployment naming it,
/// and a task record left over from a deleted app is killed as an orphan on recovery.
pub fn stages(writes: Vec<Write>) -> Vec<Vec<Chain>> {
    let mut stages: [Vec<Chain>; 3] = Default::default();
    let mut chain_of: [HashMap<String, usize>; 3] = Default::default();
    for write in writes {
        let (stage, key) = match &write {
            Write::App(app, _) => (0, app.id.to_string()),
            Write::DeleteApp(id) | Write::TaskFailure(id, _) => (0, id.to_string()),
            Write::Deployment(d) => (1, d.id.clone()),
            Write::DeleteDeployment(id) => (1, id.clone()),
            Write::Instance(instance) => (2, instance.task_id.clone()),
            Write::DeleteInstance(id) => (2, id.clone()),
        };
        match chain_of[stage].get(&key) {
            Some(&at) if stage == 2 => stages[stage][at] = vec![write],
            Some(&at) => stages[stage][at].push(write),
            None => {
                chain_of[stage].insert(key, stages[stage].len());
                stages[stage].push(vec![write]);
            }
        }
    }
    stages.into_iter().filter(|stage| !stage.is_empty()).collect()
}

/// Writes one batch: its [`stages`] in order, each stage that is only node writes ([`node_writes`]) joined
/// with its neighbours into one [`Store::put_all`] (sent in stage order, which ZooKeeper keeps for a
/// session), any other stage (one deleting an app and its versions) one entity chain at a time.
async fn write_batch(store: &Store, writes: Vec<Write>) -> Result<(), StoreError> {
    let mut pending = Vec::new();
    for stage in stages(writes) {
        match node_writes(&stage) {
            Some(nodes) => pending.extend(nodes),
            None => {
                store.put_all(std::mem::take(&mut pending)).await?;
                let chains = stage.into_iter().map(|chain| apply_chain(store, chain));
                futures::future::join_all(chains).await.into_iter().collect::<Result<Vec<()>, _>>()?;
            }
        }
    }
    store.put_all(pending).await
}

/// A stage as plain node writes (an app is its latest value, a new version node and the deletion of the
/// versions it pushed out), or `None` when it deletes an app, which takes its versions (found by listing)
/// with it.
fn node_writes(stage: &[Chain]) -> Option<Vec<NodeWrite>> {
    let mut out = Vec::new();
    for write in stage.iter().flatten() {
        let node = |category, id: &str, version: Option<String>, data| NodeWrite {
            category,
            id: id.to_string(),
            version,
            data,
        };
        match write {
            Write::App(app, dropped) => {
                let value = serde_json::to_vec(&crate::app::app_json(app, false)).expect("plain data serializes");
                let id = app.id.to_string();
                out.push(node(Category::Apps, &id, None, Some(value.clone())));
                out.push(node(Category::Apps, &id, Some(app.version.to_string()), Some(value)));
                out.extend(dropped.iter().map(|old| node(Category::Apps, &id, Some(old.to_string()), None)));
            }
            Write::DeleteApp(_) => return None,
            Write::TaskFailure(app, failure) => {
                out.push(node(Category::TaskFailures, &app.to_string(), None, Some(failure.to_string().into_bytes())))
            }
            Write::Deployment(d) => out.push(node(
                Category::Deployments,
                &d.id,
                None,
                Some(serde_json::to_vec(&**d).expect("plain data serializes")),
            )),
            Write::DeleteDeployment(id) => out.push(node(Category::Deployments, id, None, None)),
            Write::Instance(instance) => out.push(node(
                Category::Instances,
                &instance.task_id,
                None,
                Some(serde_json::to_vec(&**instance).expect("plain data serializes")),
            )),
            Write::DeleteInstance(id) => out.push(node(Category::Instances, id, None, None)),
        }
    }
    Some(out)
}

/// Applies one entity's writes in order.
async fn apply_chain(store: &Store, chain: Chain) -> Result<(), StoreError> {
    for write in chain {
        apply(store, write).await?;
    }
    Ok(())
}

/// Applies one write on its own (a stage that deletes an app; everything else goes through [`node_writes`]).
async fn apply(store: &Store, write: Write) -> Result<(), StoreError> {
    match write {
        Write::DeleteApp(id) => {
            store.delete(Category::Apps, &id.to_string()).await?;
            store.delete(Category::TaskFailures, &id.to_string()).await
        }
        other => store.put_all(node_writes(&[vec![other]]).unwrap_or_default()).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::PathId;
    use crate::core::instance::Instance;

    /// A task record write; `agent` tells versions of the same task apart.
    fn task(id: &str, agent: &str) -> Write {
        Write::Instance(Box::new(Instance::launched(
            id.into(),
            PathId::parse("/a"),
            crate::core::now(),
            agent.into(),
            "h".into(),
        )))
    }

    fn describe(stages: &[Vec<Chain>]) -> Vec<Vec<Vec<String>>> {
        let name = |w: &Write| match w {
            Write::Instance(i) => format!("put {} {}", i.task_id, i.agent_id),
            Write::DeleteInstance(id) => format!("delete {id}"),
            Write::DeleteApp(id) => format!("delete app {id}"),
            Write::TaskFailure(id, _) => format!("failure {id}"),
            Write::DeleteDeployment(id) => format!("delete deployment {id}"),
            _ => "other".into(),
        };
        stages.iter().map(|stage| stage.iter().map(|chain| chain.iter().map(name).collect()).collect()).collect()
    }

    #[test]
    fn an_app_is_its_latest_value_a_new_version_and_its_dropped_versions_and_deleting_one_is_not_a_node_write() {
        let app = crate::app::app_from_json(&serde_json::json!({"id": "/a", "cmd": "sleep 1"}), &PathId::root())
            .expect("valid app");
        let version = app.version.to_string();
        let old = crate::app::Timestamp::parse("2016-01-01T00:00:00.000Z").expect("timestamp");
        let stage = vec![vec![Write::App(Box::new(app), vec![old])], vec![Write::DeleteDeployment("d1".into())]];
        let nodes = node_writes(&stage).expect("plain node writes");
        let described: Vec<(&str, Option<&str>, bool)> =
            nodes.iter().map(|n| (n.id.as_str(), n.version.as_deref(), n.data.is_some())).collect();
        let old = old.to_string();
        assert_eq!(
            described,
            vec![
                ("/a", None, true),
                ("/a", Some(version.as_str()), true),
                ("/a", Some(old.as_str()), false),
                ("d1", None, false)
            ]
        );
        assert!(node_writes(&[vec![Write::DeleteApp(PathId::parse("/a"))]]).is_none());
    }

    #[test]
    fn apps_then_deployments_then_the_last_record_of_each_task() {
        let writes = vec![
            task("t1", "v1"),
            Write::DeleteDeployment("d1".into()),
            task("t2", "v1"),
            task("t1", "v2"),
            Write::DeleteApp(PathId::parse("/a")),
            task("t2", "v3"),
            Write::TaskFailure(PathId::parse("/b"), serde_json::json!({})),
            Write::DeleteInstance("t2".into()),
            Write::TaskFailure(PathId::parse("/a"), serde_json::json!({})),
            Write::DeleteInstance("t3".into()),
        ];
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            describe(&stages(writes)),
            vec![
                vec![s(&["delete app /a", "failure /a"]), s(&["failure /b"])],
                vec![s(&["delete deployment d1"])],
                vec![s(&["put t1 v2"]), s(&["delete t2"]), s(&["delete t3"])],
            ]
        );
        assert!(stages(Vec::new()).is_empty());
    }
}
