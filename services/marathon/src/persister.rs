//! Ordered persistence of [`Core`](crate::core::Core) changes to ZooKeeper. Batches are stored in submission
//! order; whatever queued up while one batch was being written goes next as one batch, split into
//! [`stages`] whose writes are pipelined to ZooKeeper, so a burst of changes costs a few round trips (and
//! fsyncs) instead of one each.

use crate::core::Write;
use crate::store::{Category, Store};
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
    pub fn start(store: Arc<Store>, max_versions: usize) -> Persister {
        let (tx, mut rx) = mpsc::unbounded_channel::<Batch>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let (mut writes, mut waiting) = (first.0, vec![first.1]);
                while let Ok((more, done)) = rx.try_recv() {
                    writes.extend(more);
                    waiting.push(done);
                }
                let mut result = Ok(());
                for stage in stages(writes) {
                    let errors: Vec<crate::store::StoreError> = match task_records(&stage) {
                        Some(records) => store.put_all(Category::Instances, records).await.err().into_iter().collect(),
                        None => {
                            let chains = stage.into_iter().map(|chain| apply_chain(&store, chain, max_versions));
                            futures::future::join_all(chains).await.into_iter().filter_map(Result::err).collect()
                        }
                    };
                    for e in errors {
                        tracing::error!(error = %e, "cannot persist state to ZooKeeper");
                        result = Err(e.to_string());
                    }
                }
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
            Write::App(app) => (0, app.id.to_string()),
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

/// The task-record stage as [`Store::put_all`] takes it (serialized record, or `None` to delete); `None` for
/// any other stage.
fn task_records(stage: &[Chain]) -> Option<Vec<(String, Option<Vec<u8>>)>> {
    stage
        .iter()
        .map(|chain| match chain.as_slice() {
            [Write::Instance(instance)] => {
                Some((instance.task_id.clone(), Some(serde_json::to_vec(&**instance).expect("serializable"))))
            }
            [Write::DeleteInstance(id)] => Some((id.clone(), None)),
            _ => None,
        })
        .collect()
}

/// Applies one entity's writes in order.
async fn apply_chain(store: &Store, chain: Chain, max_versions: usize) -> Result<(), crate::store::StoreError> {
    for write in chain {
        apply(store, write, max_versions).await?;
    }
    Ok(())
}

async fn apply(store: &Store, write: Write, max_versions: usize) -> Result<(), crate::store::StoreError> {
    match write {
        Write::App(app) => {
            let json = crate::app::app_json(&app, false);
            let id = app.id.to_string();
            store.put(Category::Apps, &id, &json).await?;
            store.put_version(Category::Apps, &id, &app.version.to_string(), &json, max_versions).await
        }
        Write::DeleteApp(id) => {
            store.delete(Category::Apps, &id.to_string()).await?;
            store.delete(Category::TaskFailures, &id.to_string()).await
        }
        Write::Instance(instance) => store.put(Category::Instances, &instance.task_id, &*instance).await,
        Write::DeleteInstance(id) => store.delete(Category::Instances, &id).await,
        Write::Deployment(d) => store.put(Category::Deployments, &d.id, &*d).await,
        Write::DeleteDeployment(id) => store.delete(Category::Deployments, &id).await,
        Write::TaskFailure(app, failure) => store.put(Category::TaskFailures, &app.to_string(), &failure).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::PathId;
    use crate::core::instance::Instance;

    /// A task record write; `agent` tells versions of the same task apart.
    fn task(id: &str, agent: &str) -> Write {
        Write::Instance(Box::new(Instance {
            task_id: id.into(),
            app_id: PathId::parse("/a"),
            version: crate::core::now(),
            agent_id: agent.into(),
            host: "h".into(),
            ports: Vec::new(),
            service_ports: Vec::new(),
            state: None,
            staged_at: crate::core::now(),
            started_at: None,
            ip_addresses: Vec::new(),
            healthy: None,
            killing: false,
            health: Vec::new(),
            unreachable: None,
        }))
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
