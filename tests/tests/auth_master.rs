//! Authentication on the master: frameworks on the scheduler API, operators on read-only and read-write
//! endpoints, and agents on the agent link, each accepting good credentials and refusing bad or missing ones
//! with upstream's `401` and `WWW-Authenticate: Basic realm="..."`.

use integration_tests::scheduler::{framework_info, TestScheduler};
use integration_tests::{
    binary, get_json_as, run_to_exit, start_agent_with, start_leading_master, start_leading_master_as, wait_for,
    wait_for_state, ScratchDir,
};
use serde_json::{json, Value};
use std::time::Duration;

/// The answer to a request: status, `WWW-Authenticate` and body.
struct Answer {
    status: u16,
    challenge: Option<String>,
    body: String,
}

async fn send(method: reqwest::Method, url: &str, body: Option<&str>, credential: Option<(&str, &str)>) -> Answer {
    let mut request = reqwest::Client::new().request(method, url).timeout(Duration::from_secs(10));
    if let Some(body) = body {
        request = request.header("Content-Type", "application/json").body(body.to_string());
    }
    if let Some((user, password)) = credential {
        request = request.basic_auth(user, Some(password));
    }
    let response = request.send().await.expect("the master answers");
    let status = response.status().as_u16();
    let challenge = response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(str::to_string);
    Answer { status, challenge, body: response.text().await.unwrap_or_default() }
}

fn assert_refused(answer: &Answer, realm: &str, what: &str) {
    assert_eq!(answer.status, 401, "{what}: {}", answer.body);
    assert_eq!(answer.challenge.as_deref(), Some(format!("Basic realm=\"{realm}\"").as_str()), "{what}");
}

fn subscribe_call(principal: Option<&str>) -> String {
    let mut info = framework_info("auth-test", 0.0, &[]);
    if let Some(principal) = principal {
        info["principal"] = json!(principal);
    }
    json!({"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}).to_string()
}

#[tokio::test]
async fn frameworks_need_credentials_and_a_matching_principal() {
    let logs = ScratchDir::new("auth-frameworks");
    let credentials = logs.path().join("credentials.json");
    std::fs::write(
        &credentials,
        r#"{"credentials": [{"principal": "fw", "secret": "fw-secret"}, {"principal": "other", "secret": "o"}]}"#,
    )
    .unwrap();
    let credentials_flag = format!("file://{}", credentials.display());
    let (_master, master) = start_leading_master(
        None,
        &[("MESOS_AUTHENTICATE_FRAMEWORKS", "true"), ("MESOS_CREDENTIALS", &credentials_flag)],
        &logs,
    )
    .await;
    let scheduler_url = format!("http://{master}/api/v1/scheduler");
    let post = reqwest::Method::POST;

    let missing = send(post.clone(), &scheduler_url, Some(&subscribe_call(Some("fw"))), None).await;
    assert_refused(&missing, "mesos-master-scheduler", "SUBSCRIBE without credentials");
    let wrong = send(post.clone(), &scheduler_url, Some(&subscribe_call(Some("fw"))), Some(("fw", "nope"))).await;
    assert_refused(&wrong, "mesos-master-scheduler", "SUBSCRIBE with a wrong secret");
    let unknown = send(post.clone(), &scheduler_url, Some(&subscribe_call(None)), Some(("nobody", "x"))).await;
    assert_refused(&unknown, "mesos-master-scheduler", "SUBSCRIBE as an unknown principal");

    // Authenticated as `other`, a FrameworkInfo naming `fw` is refused as upstream's validation does.
    let mismatch = send(post, &scheduler_url, Some(&subscribe_call(Some("fw"))), Some(("other", "o"))).await;
    assert_eq!(mismatch.status, 400, "{}", mismatch.body);
    assert!(
        mismatch.body.contains("Authenticated principal 'other' does not match principal 'fw'"),
        "{}",
        mismatch.body
    );

    let mut info = framework_info("auth-test", 0.0, &[]);
    info["principal"] = json!("fw");
    let scheduler = TestScheduler::subscribe_as(&master, info, Some(("fw", "fw-secret"))).await.expect("subscribed");
    assert_eq!(scheduler.reconcile(&[]).await, 202);
    let frameworks = wait_for_state(&master, Duration::from_secs(10), "the framework in /state", |s| {
        s["frameworks"].as_array().is_some_and(|f| f.len() == 1)
    })
    .await;
    assert_eq!(frameworks["frameworks"][0]["principal"], "fw");
    // A FrameworkInfo without a principal is accepted from an authenticated framework, as upstream does.
    TestScheduler::subscribe_as(&master, framework_info("no-principal", 0.0, &[]), Some(("other", "o")))
        .await
        .expect("subscribed without a principal");
    // Read-only endpoints stay open while only frameworks are authenticated.
    assert_eq!(send(reqwest::Method::GET, &format!("http://{master}/master/state"), None, None).await.status, 200);
}

#[tokio::test]
async fn operator_endpoints_need_credentials_per_realm() {
    let logs = ScratchDir::new("auth-operators");
    let credentials = logs.path().join("credentials");
    std::fs::write(&credentials, "ops ops-secret\nviewer view-secret\n").unwrap();
    let credentials_flag = credentials.display().to_string();
    let (_master, master) = start_leading_master_as(
        None,
        &[
            ("MESOS_AUTHENTICATE_HTTP_READONLY", "true"),
            ("MESOS_AUTHENTICATE_HTTP_READWRITE", "true"),
            ("MESOS_CREDENTIALS", &credentials_flag),
        ],
        &logs,
        Some(("ops", "ops-secret")),
    )
    .await;
    let get = reqwest::Method::GET;
    for path in [
        "/master/state",
        "/state",
        "/master/slaves",
        "/master/frameworks",
        "/master/tasks",
        "/metrics/snapshot",
        "/master/flags",
        "/master/roles",
    ] {
        let url = format!("http://{master}{path}");
        assert_refused(&send(get.clone(), &url, None, None).await, "mesos-master-readonly", path);
        assert_refused(&send(get.clone(), &url, None, Some(("ops", "wrong"))).await, "mesos-master-readonly", path);
        let ok = send(get.clone(), &url, None, Some(("viewer", "view-secret"))).await;
        assert_eq!(ok.status, 200, "{path}: {}", ok.body);
    }
    for path in ["/health", "/version", "/"] {
        assert_eq!(send(get.clone(), &format!("http://{master}{path}"), None, None).await.status, 200, "{path}");
    }

    let api = format!("http://{master}/api/v1");
    let call = r#"{"type": "GET_HEALTH"}"#;
    let post = reqwest::Method::POST;
    assert_refused(&send(post.clone(), &api, Some(call), None).await, "mesos-master-readwrite", "/api/v1");
    assert_refused(
        &send(post.clone(), &api, Some(call), Some(("ops", "x"))).await,
        "mesos-master-readwrite",
        "/api/v1",
    );
    let ok = send(post.clone(), &api, Some(call), Some(("ops", "ops-secret"))).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(serde_json::from_str::<Value>(&ok.body).unwrap()["get_health"]["healthy"], true);
    let teardown = send(post, &format!("http://{master}/master/teardown"), Some("{}"), None).await;
    assert_refused(&teardown, "mesos-master-readwrite", "/master/teardown");

    // /flags shows the credentials file's path, never a secret from it.
    let flags = get_json_as(&format!("http://{master}/flags"), Some(("ops", "ops-secret"))).await.expect("flags");
    assert_eq!(flags["flags"]["credentials"], json!(credentials_flag));
    assert!(!flags.to_string().contains("ops-secret"), "{flags}");
    // The scheduler API is not authenticated unless asked for.
    TestScheduler::subscribe(&master, framework_info("open", 0.0, &[])).await.expect("subscribed without credentials");
}

#[tokio::test]
async fn agents_register_only_with_their_credential() {
    let logs = ScratchDir::new("auth-agents");
    let credentials = logs.path().join("credentials.json");
    std::fs::write(&credentials, r#"{"credentials": [{"principal": "agent", "secret": "agent-secret"}]}"#).unwrap();
    let credential = logs.path().join("credential");
    std::fs::write(&credential, r#"{"principal": "agent", "secret": "agent-secret"}"#).unwrap();
    let wrong_credential = logs.path().join("wrong-credential");
    std::fs::write(&wrong_credential, "agent not-the-secret\n").unwrap();
    let credentials_flag = credentials.display().to_string();
    let (_master, master) = start_leading_master(
        None,
        &[("MESOS_AUTHENTICATE_AGENTS", "true"), ("MESOS_CREDENTIALS", &credentials_flag)],
        &logs,
    )
    .await;
    let resources = "cpus:1;mem:256;disk:100;ports:[31000-31009]";

    let anonymous_work = ScratchDir::new("auth-agent-anonymous");
    let (anonymous, _) = start_agent_with("anonymous", &master, resources, &anonymous_work, &logs, &[]);
    let wrong_work = ScratchDir::new("auth-agent-wrong");
    let wrong_flag = format!("file://{}", wrong_credential.display());
    let (wrong, _) =
        start_agent_with("wrong", &master, resources, &wrong_work, &logs, &[("MESOS_CREDENTIAL", &wrong_flag)]);
    let good_work = ScratchDir::new("auth-agent-good");
    let credential_flag = credential.display().to_string();
    let (_good, good_port) =
        start_agent_with("good", &master, resources, &good_work, &logs, &[("MESOS_CREDENTIAL", &credential_flag)]);

    let state = wait_for_state(&master, Duration::from_secs(30), "the agent with its credential to register", |s| {
        s["slaves"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    for refused in [&anonymous, &wrong] {
        wait_for(Duration::from_secs(30), "the agents without the right credential to be refused", || async {
            refused.output().contains("401 Unauthorized").then_some(())
        })
        .await;
    }
    let state_now = integration_tests::get_json(&format!("http://{master}/master/state")).await.expect("state");
    let agents = state_now["slaves"].as_array().expect("slaves");
    assert_eq!(agents.len(), 1, "{state}");
    assert_eq!(agents[0]["port"], good_port, "{state_now}");

    // The raw link refuses a wrong credential too, naming the realm.
    let link = format!("http://{master}/internal/v1/agent");
    let answer = send(reqwest::Method::POST, &link, Some("{}"), Some(("agent", "bad"))).await;
    assert_refused(&answer, "mesos-master-agent", "the agent link");
    // The agent's own /flags shows where the credential is, not what it is.
    let flags = get_json_as(&format!("http://127.0.0.1:{good_port}/flags"), None).await.expect("agent flags");
    assert!(!flags.to_string().contains("agent-secret"), "{flags}");
}

#[test]
fn misconfigured_authentication_stops_at_start_up() {
    let scratch = ScratchDir::new("auth-config");
    let (code, text) = run_to_exit(&binary("mesos-master"), &["--authenticate_agents", "--registry=in_memory"], &[]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("'credentials' is required"), "{text}");

    let bad = scratch.path().join("bad-credentials");
    std::fs::write(&bad, "principal-without-secret-hunter2\n").unwrap();
    let flag = format!("--credentials={}", bad.display());
    let (code, text) =
        run_to_exit(&binary("mesos-master"), &["--authenticate_http_readonly", "--registry=in_memory", &flag], &[]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("invalid --credentials file") && !text.contains("hunter2"), "{text}");

    let missing = scratch.path().join("missing");
    let flag = format!("--credential={}", missing.display());
    let (code, text) = run_to_exit(&binary("mesos-agent"), &["--master=127.0.0.1:5050", &flag], &[]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("cannot read credentials file") && text.contains("missing"), "{text}");
}
