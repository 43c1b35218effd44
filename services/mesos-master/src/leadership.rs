//! Who leads: standalone masters lead at once; with `--zk`, masters contend in ZooKeeper.
//!
//! Each master creates an EPHEMERAL_SEQUENTIAL `json.info_` member holding its MasterInfo JSON; the lowest
//! sequence leads. Losing the session while leading ends the process, as upstream does (see [`zk::contend`]).

use common::mesos::MasterInfo;
use common::zk::{self, Election, MemberKind, ZkUrl};
use std::time::Duration;
use tokio::sync::watch;

/// The current view of leadership.
#[derive(Debug, Clone, PartialEq)]
pub enum Leadership {
    /// This master leads.
    Leading(MasterInfo),
    /// Another master leads, or nobody (`None`) is known to.
    Following(Option<MasterInfo>),
}

impl Leadership {
    /// Whether this master leads.
    pub fn is_leading(&self) -> bool {
        matches!(self, Leadership::Leading(_))
    }

    /// The leader's MasterInfo, if known.
    pub fn leader(&self) -> Option<MasterInfo> {
        match self {
            Leadership::Leading(info) => Some(info.clone()),
            Leadership::Following(info) => info.clone(),
        }
    }

    /// `host:port` of the leader, if known.
    pub fn leader_address(&self) -> Option<String> {
        self.leader().map(|l| l.http_address())
    }
}

/// A standalone master leads from the start.
pub fn standalone(info: MasterInfo) -> watch::Receiver<Leadership> {
    let (tx, rx) = watch::channel(Leadership::Leading(info));
    // Keep the sender alive for the life of the process so receivers never see a closed channel.
    std::mem::forget(tx);
    rx
}

/// Contends for leadership under the URL's path (see [`zk::contend`]) and follows the result.
pub fn contend(url: ZkUrl, info: MasterInfo, session_timeout: Duration) -> watch::Receiver<Leadership> {
    let data = serde_json::to_vec(&info).expect("MasterInfo serializes");
    let mut election = zk::contend(url.clone(), url.path.clone(), MemberKind::MesosMaster, data, session_timeout);
    let (tx, rx) = watch::channel(Leadership::Following(None));
    tokio::spawn(async move {
        loop {
            let view = follow(&info, &election.borrow_and_update());
            tx.send_replace(view);
            if election.changed().await.is_err() {
                return;
            }
        }
    });
    rx
}

/// This master's view of an election. A leader at this master's own address is a member left by an earlier
/// session of this master that ZooKeeper has not expired yet: nobody is known to lead until it goes (a standby
/// would otherwise redirect clients to itself).
fn follow(own: &MasterInfo, election: &Election) -> Leadership {
    match election {
        Election::Leading => Leadership::Leading(own.clone()),
        Election::Following(data) => Leadership::Following(
            data.as_deref()
                .and_then(|d| serde_json::from_slice::<MasterInfo>(d).ok())
                .filter(|leader| leader.http_address() != own.http_address()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(hostname: &str, id: &str) -> MasterInfo {
        serde_json::from_value(serde_json::json!({
            "id": id, "ip": 2130706433u32, "port": 5050, "hostname": hostname, "pid": format!("master@{hostname}:5050")
        }))
        .unwrap()
    }

    #[test]
    fn a_leader_at_our_own_address_is_a_stale_member_of_ours() {
        let own = info("master1", "new");
        let stale = serde_json::to_vec(&info("master1", "old")).unwrap();
        let other = info("master2", "other");
        assert_eq!(follow(&own, &Election::Following(Some(stale))), Leadership::Following(None));
        assert_eq!(
            follow(&own, &Election::Following(Some(serde_json::to_vec(&other).unwrap()))),
            Leadership::Following(Some(other))
        );
        assert_eq!(follow(&own, &Election::Leading), Leadership::Leading(own));
    }
}
