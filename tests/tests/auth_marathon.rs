//! Authentication around Marathon and ZooKeeper: Marathon's `--http_credentials` on every endpoint (also
//! through a standby's proxy), Marathon authenticating to a master run with `--authenticate_frameworks`, and
//! ZooKeeper digest credentials from `zk://user:pass@...` protecting the znodes both roles create.

use integration_tests::{
    binary, free_port, get_json, get_json_as, start_leading_master, wait_for, Process, ScratchDir, ZooKeeper,
};
use std::time::Duration;
use zookeeper_client as zk;

const HTTP_USER: (&str, &str) = ("admin", "http-pw");

/// Starts a Marathon with HTTP credentials, Mesos authentication and ZooKeeper digest credentials.
fn start_marathon(name: &str, zk: &ZooKeeper, secret_file: &str, logs: &ScratchDir) -> (Process, u16) {
    let port = free_port();
    let process = Process::start(
        name,
        &binary("marathon"),
        &[
            "--master",
            &format!("zk://mesos-zk:mesos-zk-pw@127.0.0.1:{}/mesos", zk.port),
            "--zk",
            &format!("zk://marathon-zk:marathon-zk-pw@127.0.0.1:{}/marathon", zk.port),
            "--http_port",
            &port.to_string(),
            "--hostname",
            "127.0.0.1",
            "--zk_session_timeout",
            "3000",
            "--mesos_authentication",
            "--mesos_authentication_principal",
            "marathon",
            "--mesos_authentication_secret_file",
            secret_file,
        ],
        &[("MARATHON_HTTP_CREDENTIALS", "admin:http-pw")],
        logs.path(),
    );
    (process, port)
}

async fn get(url: &str, credential: Option<(&str, &str)>) -> (u16, Option<String>) {
    let mut request = reqwest::Client::new().get(url).timeout(Duration::from_secs(10));
    if let Some((user, password)) = credential {
        request = request.basic_auth(user, Some(password));
    }
    let response = request.send().await.expect("marathon answers");
    let challenge = response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(str::to_string);
    (response.status().as_u16(), challenge)
}

async fn zk_client(zk: &ZooKeeper, digest: Option<&str>) -> zk::Client {
    let mut connector = zk::Client::connector().with_session_timeout(Duration::from_secs(5));
    if let Some(digest) = digest {
        connector = connector.with_auth("digest", digest.as_bytes());
    }
    connector.connect(&format!("127.0.0.1:{}", zk.port)).await.expect("ZooKeeper session")
}

#[tokio::test]
async fn marathon_and_zookeeper_credentials() {
    let zk = ZooKeeper::start().await;
    let logs = ScratchDir::new("auth-marathon");
    let credentials = logs.path().join("credentials");
    std::fs::write(&credentials, "marathon marathon-secret\n").unwrap();
    let secret_file = logs.path().join("marathon.secret");
    std::fs::write(&secret_file, "marathon-secret\n").unwrap();
    let (credentials_flag, secret_flag) = (credentials.display().to_string(), secret_file.display().to_string());
    let mesos_url = format!("zk://mesos-zk:mesos-zk-pw@127.0.0.1:{}/mesos", zk.port);
    let (_master, master) = start_leading_master(
        Some(&mesos_url),
        &[("MESOS_AUTHENTICATE_FRAMEWORKS", "true"), ("MESOS_CREDENTIALS", &credentials_flag)],
        &logs,
    )
    .await;
    let (_marathon, port) = start_marathon("marathon", &zk, &secret_flag, &logs);
    let base = format!("http://127.0.0.1:{port}");

    // Marathon authenticates to the master with its principal and registers.
    let info = wait_for(Duration::from_secs(30), "marathon to register with the authenticating master", || {
        let url = format!("{base}/v2/info");
        async move { get_json_as(&url, Some(HTTP_USER)).await.filter(|i| i["frameworkId"].is_string()) }
    })
    .await;
    let frameworks = get_json(&format!("http://{master}/master/frameworks")).await.expect("frameworks");
    assert_eq!(frameworks["frameworks"][0]["principal"], "marathon", "{frameworks}");

    // Every endpoint needs Marathon's HTTP credentials.
    for path in ["/ping", "/v2/apps", "/v2/info", "/metrics", "/", "/v2/leader"] {
        let url = format!("{base}{path}");
        let (status, challenge) = get(&url, None).await;
        assert_eq!(status, 401, "{path} without credentials");
        assert_eq!(challenge.as_deref(), Some("Basic realm=\"Mesosphere\""), "{path}");
        assert_eq!(get(&url, Some(("admin", "wrong"))).await.0, 401, "{path} with a wrong password");
        assert_eq!(get(&url, Some(HTTP_USER)).await.0, 200, "{path} with the credentials");
    }
    // No secret shows in /v2/info, and the ZooKeeper URLs are shown without their passwords.
    let text = info.to_string();
    for secret in ["http-pw", "marathon-secret", "marathon-zk-pw", "mesos-zk-pw"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(text.contains("zk://marathon-zk:********@"), "{text}");

    // A standby checks the credentials too and forwards them to the leader.
    let (_standby, standby_port) = start_marathon("marathon-standby", &zk, &secret_flag, &logs);
    let standby = format!("http://127.0.0.1:{standby_port}");
    wait_for(Duration::from_secs(20), "the standby to answer", || {
        let url = format!("{standby}/v2/leader");
        async move { get_json_as(&url, Some(HTTP_USER)).await }
    })
    .await;
    assert_eq!(get(&format!("{standby}/v2/apps"), None).await.0, 401);
    let (status, _) = get(&format!("{standby}/v2/apps"), Some(HTTP_USER)).await;
    assert_eq!(status, 200, "proxied with the credentials");

    // ZooKeeper: Marathon's znodes are readable only with Marathon's digest credentials (CREATOR_ALL_ACL).
    let anonymous = zk_client(&zk, None).await;
    let stranger = zk_client(&zk, Some("someone:else")).await;
    let marathon_zk = zk_client(&zk, Some("marathon-zk:marathon-zk-pw")).await;
    for path in ["/marathon", "/marathon/state", "/marathon/state/framework-id", "/marathon/leader-curator"] {
        for (who, client) in [("no credentials", &anonymous), ("other credentials", &stranger)] {
            assert_eq!(client.get_data(path).await.err(), Some(zk::Error::NoAuth), "{path} read with {who}");
            // Deleting is checked against the parent's ACL; `/` is ZooKeeper's own, open one.
            if path != "/marathon" {
                assert_eq!(client.delete(path, None).await.err(), Some(zk::Error::NoAuth), "{path} delete with {who}");
            }
        }
        marathon_zk.get_data(path).await.unwrap_or_else(|e| panic!("{path} with Marathon's credentials: {e}"));
    }
    // The masters' znodes follow upstream Mesos: everyone may read (to find the leader), only the masters'
    // credentials may change or delete them.
    let members = anonymous.list_children("/mesos").await.expect("/mesos is world-readable");
    let leader = members.iter().find(|m| m.starts_with("json.info_")).expect("a json.info_ member");
    let leader_path = format!("/mesos/{leader}");
    anonymous.get_data(&leader_path).await.expect("json.info_ is world-readable");
    for (who, client) in [("no credentials", &anonymous), ("other credentials", &stranger)] {
        assert_eq!(client.delete(&leader_path, None).await.err(), Some(zk::Error::NoAuth), "delete with {who}");
        assert_eq!(client.set_data(&leader_path, b"x", None).await.err(), Some(zk::Error::NoAuth), "write with {who}");
    }
    let mesos_zk = zk_client(&zk, Some("mesos-zk:mesos-zk-pw")).await;
    mesos_zk.get_data(&leader_path).await.expect("read with the masters' credentials");
}
