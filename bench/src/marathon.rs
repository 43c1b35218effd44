//! What the bench asks of Marathon's REST API: create and delete apps, count running tasks, and watch the
//! event stream (`/v2/events`, Server-Sent Events) for TASK_RUNNING.

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

/// A command app that sleeps, with no ports (hollow agents offer none) and a tiny footprint.
pub fn sleeper(id: &str, instances: usize) -> Value {
    json!({"id": id, "cmd": "sleep 3600", "instances": instances, "cpus": 0.01, "mem": 1, "disk": 0,
           "portDefinitions": [], "labels": {"mesos-rs.test": "bench"}})
}

/// A Docker app running `image` (host network, no ports), labelled for the bench.
pub fn docker_sleeper(id: &str, instances: usize, image: &str) -> Value {
    json!({"id": id, "cmd": "sleep 3600", "instances": instances, "cpus": 0.01, "mem": 16, "disk": 0,
           "portDefinitions": [], "labels": {"mesos-rs.test": "bench"},
           "container": {"type": "DOCKER", "docker": {"image": image, "network": "HOST",
               "parameters": [{"key": "label", "value": "mesos-rs.test=bench"}]}}})
}

/// POSTs an app; `Err` with status and body unless Marathon answers 201.
pub async fn create_app(client: &reqwest::Client, base: &str, app: &Value) -> Result<(), String> {
    let response = client
        .post(format!("{base}/v2/apps"))
        .json(app)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .map_err(|e| format!("POST /v2/apps: {e}"))?;
    match response.status().as_u16() {
        201 => Ok(()),
        status => Err(format!("POST /v2/apps: {status} {}", response.text().await.unwrap_or_default())),
    }
}

/// DELETEs an app or a group (`kind` is "apps" or "groups"), forcing past running deployments.
pub async fn delete(client: &reqwest::Client, base: &str, kind: &str, id: &str) -> Result<(), String> {
    let response = client
        .delete(format!("{base}/v2/{kind}{id}?force=true"))
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .map_err(|e| format!("DELETE /v2/{kind}{id}: {e}"))?;
    match response.status().as_u16() {
        200 | 202 | 404 => Ok(()),
        status => Err(format!("DELETE /v2/{kind}{id}: {status} {}", response.text().await.unwrap_or_default())),
    }
}

/// (apps, sum of `tasksRunning`) from `GET /v2/apps`, or `None` when Marathon does not answer.
pub async fn running(client: &reqwest::Client, base: &str) -> Option<(usize, u64)> {
    let response = client.get(format!("{base}/v2/apps")).timeout(Duration::from_secs(60)).send().await.ok()?;
    let apps: Value = response.json().await.ok()?;
    let apps = apps["apps"].as_array()?;
    Some((apps.len(), apps.iter().filter_map(|a| a["tasksRunning"].as_u64()).sum()))
}

/// Polls `GET /v2/apps` every `every` until at least `wanted` tasks run or `timeout` passes; returns the
/// count reached and when it was first seen.
pub async fn wait_running(
    client: &reqwest::Client,
    base: &str,
    wanted: u64,
    every: Duration,
    timeout: Duration,
) -> (u64, Instant) {
    let deadline = Instant::now() + timeout;
    let mut best = (0, Instant::now());
    loop {
        if let Some((_, count)) = running(client, base).await {
            if count > best.0 {
                best = (count, Instant::now());
            }
            if count >= wanted {
                return best;
            }
        }
        if Instant::now() >= deadline {
            return best;
        }
        tokio::time::sleep(every).await;
    }
}

/// Polls until Marathon has no apps (after deletions) or `timeout` passes.
pub async fn wait_no_apps(client: &reqwest::Client, base: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if running(client, base).await.is_some_and(|(apps, _)| apps == 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Incremental Server-Sent Events parser: feed text, take out complete `(event, data)` pairs.
#[derive(Default, Debug)]
pub struct SseParser {
    buffer: String,
}

impl SseParser {
    /// Appends text and returns every event now complete (blank-line terminated; CRLF or LF).
    pub fn feed(&mut self, text: &str) -> Vec<(String, String)> {
        self.buffer.push_str(&text.replace("\r\n", "\n"));
        let mut events = Vec::new();
        while let Some(end) = self.buffer.find("\n\n") {
            let block: String = self.buffer.drain(..end + 2).collect();
            let (mut kind, mut data) = (String::from("message"), Vec::new());
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    kind = value.trim().to_string();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push(value.trim_start().to_string());
                }
            }
            if !data.is_empty() {
                events.push((kind, data.join("\n")));
            }
        }
        // A bare keep-alive line leaves a lone newline behind.
        if self.buffer.trim().is_empty() {
            self.buffer.clear();
        }
        events
    }
}

/// `(appId, taskStatus)` of a `status_update_event` payload.
pub fn status_of(data: &str) -> Option<(String, String)> {
    let value: Value = serde_json::from_str(data).ok()?;
    Some((value["appId"].as_str()?.to_string(), value["taskStatus"].as_str()?.to_string()))
}

/// Subscribes to Marathon's status updates; yields `(appId, taskStatus, when received)`.
pub async fn watch_status(base: &str) -> Result<UnboundedReceiver<(String, String, Instant)>, String> {
    let mut response = reqwest::Client::new()
        .get(format!("{base}/v2/events?event_type=status_update_event"))
        .header("Accept", "text/event-stream")
        .send()
        .await
        .map_err(|e| format!("GET /v2/events: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("GET /v2/events: {}", response.status()));
    }
    let (tx, rx) = unbounded_channel();
    tokio::spawn(async move {
        let mut parser = SseParser::default();
        while let Ok(Some(chunk)) = response.chunk().await {
            let now = Instant::now();
            for (_, data) in parser.feed(&String::from_utf8_lossy(&chunk)) {
                if let Some((app, status)) = status_of(&data) {
                    if tx.send((app, status, now)).is_err() {
                        return;
                    }
                }
            }
        }
    });
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_are_split_across_chunks() {
        let mut parser = SseParser::default();
        assert!(parser.feed("event: status_update_event\r\ndata: {\"appId\":\"/a\",").is_empty());
        let events = parser.feed("\"taskStatus\":\"TASK_RUNNING\"}\r\n\r\n\r\n");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].0, "status_update_event");
        assert_eq!(status_of(&events[0].1), Some(("/a".into(), "TASK_RUNNING".into())));
        assert!(parser.feed("\r\n").is_empty());
        assert_eq!(parser.feed("data: x\n\n"), vec![("message".to_string(), "x".to_string())]);
    }

    #[test]
    fn apps_are_labelled_and_portless() {
        let app = sleeper("/bench/a", 3);
        assert_eq!(app["instances"], 3);
        assert_eq!(app["portDefinitions"], json!([]));
        let docker = docker_sleeper("/bench/d", 1, "mesos-rs-bench/tiny:latest");
        assert_eq!(docker["container"]["docker"]["image"], "mesos-rs-bench/tiny:latest");
        assert_eq!(docker["labels"]["mesos-rs.test"], "bench");
        assert_eq!(status_of("{}"), None);
    }
}
