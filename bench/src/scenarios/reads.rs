//! Scenario 3: read latency of the big endpoints at the size the cluster is at (full body received).

use crate::cluster::Cluster;
use crate::report::{mib, p50_p99, percentile, Row};
use std::time::{Duration, Instant};

/// The `/v2/apps?embed=apps.tasks` target and the app count it applies to.
const EMBED_TARGET: Duration = Duration::from_millis(100);
const EMBED_TARGET_APPS: usize = 1000;

/// Samples per endpoint.
const SAMPLES: usize = 10;

/// Times `GET /master/state`, `GET /v2/apps?embed=apps.tasks` and `GET /v2/tasks` (sequentially, after one
/// warm-up each) and adds a row per endpoint; `apps` says whether the embed target applies.
pub async fn measure(cluster: &Cluster, size: &str, apps: usize, rows: &mut Vec<Row>) {
    let client = reqwest::Client::new();
    // The scenarios measuring reads run a single master.
    let master = &cluster.masters[0].address;
    let endpoints = [
        ("GET /master/state", format!("http://{master}/master/state")),
        ("GET /v2/apps?embed=apps.tasks", cluster.marathons[0].url("/v2/apps?embed=apps.tasks")),
        ("GET /v2/tasks", cluster.marathons[0].url("/v2/tasks")),
    ];
    for (name, url) in endpoints {
        let mut samples = Vec::new();
        let mut bytes = 0;
        for i in 0..=SAMPLES {
            let started = Instant::now();
            let Ok(response) =
                client.get(&url).header("Accept", "application/json").timeout(Duration::from_secs(120)).send().await
            else {
                continue;
            };
            let Ok(body) = response.bytes().await else { continue };
            if i > 0 {
                samples.push(started.elapsed());
            }
            bytes = body.len();
        }
        let value = format!("{} ({} body)", p50_p99(&samples), mib(bytes as u64));
        let case = format!("{name} at {size}");
        if name.starts_with("GET /v2/apps") && apps == EMBED_TARGET_APPS {
            let met = percentile(&samples, 99.0).is_some_and(|p99| p99 < EMBED_TARGET);
            rows.push(Row::target("3 reads", case, value, "< 100 ms", met));
        } else {
            rows.push(Row::info("3 reads", case, value));
        }
    }
}
