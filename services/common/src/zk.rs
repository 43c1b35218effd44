//! ZooKeeper recipes: URLs, sessions, group membership (leader election) and leader detection.
//!
//! Mesos masters join a group by creating EPHEMERAL_SEQUENTIAL znodes `<path>/json.info_<10 digits>` holding
//! their MasterInfo JSON; the member with the lowest sequence number leads. Marathon instances do the same under
//! `<path>/leader-curator` with Curator-style `_c_<uuid>-latch-<seq>` nodes. [`Detector`] follows a group's
//! leader for anyone who needs it (agents, Marathon, standby masters), reconnecting across session loss.

use std::fmt;
use std::time::Duration;
use tokio::sync::watch;
use zookeeper_client as zk;

pub use zk::Client;

/// A parsed `zk://[user:pass@]host:port[,host:port...]/path` URL.
#[derive(Clone, PartialEq)]
pub struct ZkUrl {
    /// `host:port` of every server.
    pub servers: Vec<String>,
    /// The znode path, starting with `/`.
    pub path: String,
    /// Digest credentials `(user, password)`, if given.
    pub credentials: Option<(String, String)>,
    /// Who may read the znodes created through this URL when it carries credentials.
    pub access: ZnodeAccess,
}

/// The ACL policy for znodes created with digest credentials (without credentials every znode is open, as
/// upstream leaves it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZnodeAccess {
    /// Everything for the creator, read for everyone: Mesos's `EVERYONE_READ_CREATOR_ALL`, so unauthenticated
    /// clients (agents, frameworks, tools) can still find the leading master's `json.info_` znode, while
    /// nobody else can change or delete it.
    WorldReadable,
    /// Everything for the creator and nothing for anyone else (ZooKeeper's `CREATOR_ALL_ACL`), as Marathon
    /// does for its state and leader latch when `--zk` carries credentials.
    CreatorOnly,
}

impl fmt::Debug for ZkUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for ZkUrl {
    /// Renders the URL with the password redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match &self.credentials {
            Some((user, _)) => format!("{user}:********@"),
            None => String::new(),
        };
        write!(f, "zk://{auth}{}{}", self.servers.join(","), self.path)
    }
}

impl ZkUrl {
    /// Parses a ZooKeeper URL; the error says what is wrong.
    pub fn parse(text: &str) -> Result<ZkUrl, String> {
        // Messages show the URL with its password redacted.
        let shown = crate::auth::redact_urls(text);
        let rest = text.trim().strip_prefix("zk://").ok_or_else(|| format!("'{shown}' does not start with zk://"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => return Err(format!("'{shown}' has no path (e.g. zk://host:2181/mesos)")),
        };
        let path = path.trim_end_matches('/');
        if path.is_empty() || path.contains("//") {
            return Err(format!("'{shown}' has an empty path element"));
        }
        let (credentials, hosts) = match authority.rsplit_once('@') {
            Some((auth, hosts)) => {
                let (user, pass) =
                    auth.split_once(':').ok_or_else(|| format!("credentials in '{shown}' must be user:password"))?;
                (Some((user.to_string(), pass.to_string())), hosts)
            }
            None => (None, authority),
        };
        let mut servers = Vec::new();
        for host in hosts.split(',') {
            let (name, port) =
                host.rsplit_once(':').ok_or_else(|| format!("server '{host}' in '{shown}' needs a port"))?;
            if name.is_empty() || port.parse::<u16>().is_err() {
                return Err(format!("server '{host}' in '{shown}' is not host:port"));
            }
            servers.push(host.to_string());
        }
        Ok(ZkUrl { servers, path: path.to_string(), credentials, access: ZnodeAccess::WorldReadable })
    }

    /// The connect string the client library takes: `host:port,host:port`.
    pub fn connect_string(&self) -> String {
        self.servers.join(",")
    }

    /// The same servers and credentials with another path.
    pub fn with_path(&self, path: &str) -> ZkUrl {
        ZkUrl { path: path.to_string(), ..self.clone() }
    }

    /// The same URL, creating znodes that only its credentials can read (see [`ZnodeAccess::CreatorOnly`]).
    pub fn creator_only(self) -> ZkUrl {
        ZkUrl { access: ZnodeAccess::CreatorOnly, ..self }
    }

    /// ACLs for znodes we create: open without credentials; with them, everything for the creator (the
    /// session's digest identity) and, for [`ZnodeAccess::WorldReadable`], read for everyone.
    pub fn acls(&self) -> zk::Acls<'static> {
        match (&self.credentials, self.access) {
            (None, _) => zk::Acls::anyone_all(),
            (Some(_), ZnodeAccess::WorldReadable) => zk::Acls::new(CREATOR_ALL_WORLD_READ),
            (Some(_), ZnodeAccess::CreatorOnly) => zk::Acls::creator_all(),
        }
    }
}

const CREATOR_ALL_WORLD_READ: &[zk::Acl] =
    &[zk::Acl::new_const(zk::Permission::ALL, "auth", ""), zk::Acl::new_const(zk::Permission::READ, "world", "anyone")];

/// Opens a session to the URL's servers, authenticating with its digest credentials.
pub async fn connect(url: &ZkUrl, session_timeout: Duration) -> Result<zk::Client, zk::Error> {
    let mut connector =
        zk::Client::connector().with_session_timeout(session_timeout).with_connection_timeout(session_timeout);
    if let Some((user, pass)) = &url.credentials {
        connector = connector.with_auth("digest", format!("{user}:{pass}").as_bytes());
    }
    connector.connect(&url.connect_string()).await
}

/// Creates `path` and its parents as persistent nodes if they are missing (like `mkdir -p`).
pub async fn ensure_path(client: &zk::Client, url: &ZkUrl, path: &str) -> Result<(), zk::Error> {
    if path == "/" {
        return Ok(());
    }
    let options = zk::CreateMode::Persistent.with_acls(url.acls());
    match client.mkdir(path, &options).await {
        Ok(()) | Err(zk::Error::NodeExists) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A kind of group membership znode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MemberKind {
    /// Mesos masters: `json.info_<seq>`.
    MesosMaster,
    /// Marathon (Curator LeaderLatch): `_c_<uuid>-latch-<seq>`.
    CuratorLatch,
}

impl MemberKind {
    /// The sequence number of a child name if it is a member of this kind.
    pub fn sequence(&self, name: &str) -> Option<u64> {
        let digits = match self {
            MemberKind::MesosMaster => name.strip_prefix("json.info_")?,
            MemberKind::CuratorLatch => {
                if !name.starts_with("_c_") {
                    return None;
                }
                name.rsplit_once("-latch-")?.1
            }
        };
        (digits.len() >= 10 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.parse().ok()).flatten()
    }

    /// The name prefix passed to an EPHEMERAL_SEQUENTIAL create.
    pub fn prefix(&self) -> String {
        match self {
            MemberKind::MesosMaster => "json.info_".to_string(),
            MemberKind::CuratorLatch => format!("_c_{}-latch-", uuid::Uuid::new_v4()),
        }
    }

    /// The leader among `children`: the member with the lowest sequence number.
    pub fn leader<'a>(&self, children: &'a [String]) -> Option<&'a String> {
        children.iter().filter_map(|c| self.sequence(c).map(|s| (s, c))).min_by_key(|(s, _)| *s).map(|(_, c)| c)
    }
}

/// Joins a group: creates an ephemeral sequential member node and returns its name (not the full path).
pub async fn join_group(
    client: &zk::Client,
    url: &ZkUrl,
    group: &str,
    kind: MemberKind,
    data: &[u8],
) -> Result<String, zk::Error> {
    ensure_path(client, url, group).await?;
    let options = zk::CreateMode::EphemeralSequential.with_acls(url.acls());
    let name_prefix = kind.prefix();
    let path = format!("{}/{}", group.trim_end_matches('/'), name_prefix);
    let (_, sequence) = client.create(&path, data, &options).await?;
    Ok(format!("{name_prefix}{sequence}"))
}

/// The current leader of a group, as seen by a [`Detector`].
#[derive(Debug, Clone, PartialEq)]
pub struct Leader {
    /// Member node name, e.g. `json.info_0000000003`.
    pub member: String,
    /// The member node's data.
    pub data: Vec<u8>,
}

/// Follows a group's leader, publishing changes on a watch channel; reconnects when the session is lost.
pub struct Detector;

impl Detector {
    /// Starts following `url.path` in a background task. The channel holds `None` while no leader is known.
    pub fn spawn(url: ZkUrl, kind: MemberKind, session_timeout: Duration) -> watch::Receiver<Option<Leader>> {
        let (tx, rx) = watch::channel(None);
        tokio::spawn(async move {
            loop {
                match connect(&url, session_timeout).await {
                    Ok(client) => {
                        if let Err(e) = follow(&client, &url, kind, session_timeout, &tx).await {
                            tracing::warn!(zk = %url, error = %e, "leader detection interrupted; reconnecting");
                        }
                    }
                    Err(e) => tracing::warn!(zk = %url, error = %e, "cannot connect to ZooKeeper; retrying"),
                }
                if tx.is_closed() {
                    return;
                }
                tx.send_if_modified(|leader| leader.take().is_some());
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        rx
    }
}

/// One contender's view of an election.
#[derive(Debug, Clone, PartialEq)]
pub enum Election {
    /// This contender leads.
    Leading,
    /// Another member leads (its data), or nobody is known to (`None`).
    Following(Option<Vec<u8>>),
}

impl Election {
    /// Whether this contender leads.
    pub fn is_leading(&self) -> bool {
        matches!(self, Election::Leading)
    }
}

/// Contends for leadership of `group` with `data` as the member's content and follows the result.
///
/// A leader that loses its session, or sees another member lead, exits the process with status 1 (as Mesos
/// and Marathon do): once another contender may have been elected its in-memory state is no longer
/// authoritative, and the supervisor (Docker's restart policy) brings it back as a fresh contender. A follower
/// that loses its session rejoins.
pub fn contend(
    url: ZkUrl,
    group: String,
    kind: MemberKind,
    data: Vec<u8>,
    session_timeout: Duration,
) -> watch::Receiver<Election> {
    let (tx, rx) = watch::channel(Election::Following(None));
    tokio::spawn(async move {
        loop {
            let e = election_session(&url, &group, kind, &data, session_timeout, &tx).await;
            if tx.borrow().is_leading() {
                tracing::error!(error = %e, "lost leadership (ZooKeeper session ended); committing suicide!");
                std::process::exit(1);
            }
            tracing::warn!(error = %e, "ZooKeeper session lost while standing by; rejoining");
            tx.send_replace(Election::Following(None));
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    rx
}

async fn election_session(
    url: &ZkUrl,
    group: &str,
    kind: MemberKind,
    data: &[u8],
    session_timeout: Duration,
    tx: &watch::Sender<Election>,
) -> zk::Error {
    let client = match connect(url, session_timeout).await {
        Ok(c) => c,
        Err(e) => return e,
    };
    let me = match join_group(&client, url, group, kind, data).await {
        Ok(me) => me,
        Err(e) => return e,
    };
    tracing::info!(member = %me, group, "joined the election group");
    let _hold = crate::shutdown::hold();
    let _tracked = crate::metrics::track_zookeeper_session(&client, "election");
    let mut state = client.state_watcher();
    loop {
        let (children, watcher) = match client.list_and_watch_children(group).await {
            Ok(pair) => pair,
            Err(e) => return e,
        };
        if !children.contains(&me) {
            return zk::Error::NoNode;
        }
        let view = match kind.leader(&children) {
            Some(leader) if *leader == me => Election::Leading,
            Some(leader) => match client.get_data(&format!("{group}/{leader}")).await {
                Ok((bytes, _)) => Election::Following(Some(bytes)),
                Err(zk::Error::NoNode) => continue,
                Err(e) => return e,
            },
            None => Election::Following(None),
        };
        let was_leading = tx.borrow().is_leading();
        if was_leading && !view.is_leading() {
            tracing::error!("another contender took over leadership; committing suicide!");
            std::process::exit(1);
        }
        if view.is_leading() && !was_leading {
            tracing::info!(group, "elected leader");
        }
        tx.send_if_modified(|current| {
            let changed = *current != view;
            *current = view.clone();
            changed
        });
        tokio::select! {
            _ = watcher.changed() => {}
            e = wait_session_lost(&mut state, session_timeout) => return e,
            _ = crate::shutdown::requested() => leave_and_exit(&client, &format!("{group}/{me}")).await,
        }
    }
}

/// On SIGTERM: deletes this contender's member so another is elected at once, then ends the process.
async fn leave_and_exit(client: &zk::Client, member: &str) -> ! {
    match tokio::time::timeout(Duration::from_secs(2), client.delete(member, None)).await {
        Ok(Ok(()) | Err(zk::Error::NoNode)) => tracing::info!(member, "left the election group on shutdown"),
        Ok(Err(e)) => tracing::warn!(member, error = %e, "could not leave the election group on shutdown"),
        Err(_) => tracing::warn!(member, "timed out leaving the election group on shutdown"),
    }
    std::process::exit(0)
}

/// Follows the leading Mesos master's `host:port`: fixed, or detected through ZooKeeper.
pub fn leading_master(
    master: crate::config::MasterAddress,
    session_timeout: Duration,
) -> watch::Receiver<Option<String>> {
    match master {
        crate::config::MasterAddress::Fixed { host, port } => {
            let (tx, rx) = watch::channel(Some(format!("{host}:{port}")));
            // The address never changes; keep the sender so receivers never see a closed channel.
            std::mem::forget(tx);
            rx
        }
        crate::config::MasterAddress::Zk(url) => {
            let mut detected = Detector::spawn(url, MemberKind::MesosMaster, session_timeout);
            let (tx, rx) = watch::channel(None);
            tokio::spawn(async move {
                loop {
                    let address = detected
                        .borrow_and_update()
                        .as_ref()
                        .and_then(|l| serde_json::from_slice::<crate::mesos::MasterInfo>(&l.data).ok())
                        .map(|info| info.http_address());
                    tx.send_if_modified(|current| {
                        let changed = *current != address;
                        *current = address.clone();
                        changed
                    });
                    if detected.changed().await.is_err() {
                        return;
                    }
                }
            });
            rx
        }
    }
}

/// Watches the group on one session until the session breaks.
async fn follow(
    client: &zk::Client,
    url: &ZkUrl,
    kind: MemberKind,
    session_timeout: Duration,
    tx: &watch::Sender<Option<Leader>>,
) -> Result<(), zk::Error> {
    ensure_path(client, url, &url.path).await?;
    let _tracked = crate::metrics::track_zookeeper_session(client, "detector");
    let mut state = client.state_watcher();
    loop {
        let (children, watcher) = client.list_and_watch_children(&url.path).await?;
        let leader = match kind.leader(&children) {
            Some(member) => match client.get_data(&format!("{}/{}", url.path, member)).await {
                Ok((data, _)) => Some(Leader { member: member.clone(), data }),
                Err(zk::Error::NoNode) => continue,
                Err(e) => return Err(e),
            },
            None => None,
        };
        tx.send_if_modified(|current| {
            if *current != leader {
                *current = leader.clone();
                true
            } else {
                false
            }
        });
        tokio::select! {
            event = watcher.changed() => {
                if event.event_type == zk::EventType::Session && event.session_state.is_terminated() {
                    return Err(zk::Error::SessionExpired);
                }
            }
            e = wait_session_lost(&mut state, session_timeout) => return Err(e),
        }
    }
}

/// Waits until the session is lost: a terminal state (expired, closed, auth failure), or disconnected for longer
/// than the session timeout (the server has then expired it even if we cannot hear so while cut off).
pub async fn wait_session_lost(state: &mut zk::StateWatcher, session_timeout: Duration) -> zk::Error {
    let mut current = state.state();
    loop {
        let next = if current == zk::SessionState::Disconnected {
            match tokio::time::timeout(session_timeout, state.changed()).await {
                Ok(s) => s,
                Err(_) => return zk::Error::SessionExpired,
            }
        } else {
            state.changed().await
        };
        match next {
            zk::SessionState::Expired => return zk::Error::SessionExpired,
            zk::SessionState::AuthFailed => return zk::Error::AuthFailed,
            zk::SessionState::Closed => return zk::Error::ConnectionLoss,
            other => current = other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let url = ZkUrl::parse("zk://10.0.0.2:2181,10.0.0.3:2181/mesos").unwrap();
        assert_eq!(url.servers, vec!["10.0.0.2:2181", "10.0.0.3:2181"]);
        assert_eq!(url.path, "/mesos");
        assert_eq!(url.credentials, None);
        let url = ZkUrl::parse("zk://alice:pw@z1:2181/a/b/").unwrap();
        assert_eq!(url.credentials, Some(("alice".into(), "pw".into())));
        assert_eq!(url.path, "/a/b");
        assert_eq!(url.to_string(), "zk://alice:********@z1:2181/a/b");
        for bad in ["http://z:2181/m", "zk://z:2181", "zk://z/mesos", "zk://z:x/mesos", "zk://z:2181//"] {
            assert!(ZkUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn acls_follow_credentials_and_access() {
        let open = ZkUrl::parse("zk://z1:2181/mesos").unwrap();
        assert_eq!(*open.acls(), *zk::Acls::anyone_all());
        assert_eq!(*open.clone().creator_only().acls(), *zk::Acls::anyone_all());
        let mesos = ZkUrl::parse("zk://u:p@z1:2181/mesos").unwrap();
        assert_eq!(*mesos.acls(), *CREATOR_ALL_WORLD_READ);
        assert_eq!(*mesos.with_path("/mesos/registry").acls(), *CREATOR_ALL_WORLD_READ);
        let marathon = ZkUrl::parse("zk://u:p@z1:2181/marathon").unwrap().creator_only();
        assert_eq!(*marathon.acls(), *zk::Acls::creator_all());
        assert_eq!(marathon.with_path("/marathon/state").access, ZnodeAccess::CreatorOnly);
        let err = ZkUrl::parse("zk://u:secret@z1/mesos").unwrap_err();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn leader_is_lowest_sequence() {
        let kids: Vec<String> = ["json.info_0000000012", "log_replicas", "json.info_0000000003", "info_0000000001"]
            .map(String::from)
            .into();
        assert_eq!(MemberKind::MesosMaster.leader(&kids).map(String::as_str), Some("json.info_0000000003"));
        let latch: Vec<String> = ["_c_1-2-latch-0000000009", "_c_a-b-latch-0000000010"].map(String::from).into();
        assert_eq!(MemberKind::CuratorLatch.leader(&latch).map(String::as_str), Some("_c_1-2-latch-0000000009"));
        assert_eq!(MemberKind::MesosMaster.leader(&[]), None);
    }
}
