//! Results: percentiles over samples and the Markdown table the bench prints. Pure functions.

use std::time::Duration;

/// The `p`-th percentile (0-100) of `samples` by the nearest-rank method; `None` when there are none.
pub fn percentile(samples: &[Duration], p: f64) -> Option<Duration> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Milliseconds with one decimal.
pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Mebibytes with one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// `p50 / p99` of samples, or "no samples".
pub fn p50_p99(samples: &[Duration]) -> String {
    match (percentile(samples, 50.0), percentile(samples, 99.0)) {
        (Some(p50), Some(p99)) => format!("p50 {} / p99 {} (n={})", ms(p50), ms(p99), samples.len()),
        _ => "no samples".into(),
    }
}

/// Whether a target was met.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Verdict {
    /// Met.
    Met,
    /// Missed.
    Missed,
    /// Nothing to compare against.
    Info,
}

/// One line of the results table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Scenario number and name, e.g. "1 launch".
    pub scenario: String,
    /// What was measured.
    pub case: String,
    /// The figure.
    pub value: String,
    /// The target it is held against, if any.
    pub target: String,
    /// Verdict.
    pub verdict: Verdict,
}

impl Row {
    /// A row without a target.
    pub fn info(scenario: &str, case: impl Into<String>, value: impl Into<String>) -> Row {
        Row {
            scenario: scenario.into(),
            case: case.into(),
            value: value.into(),
            target: String::new(),
            verdict: Verdict::Info,
        }
    }

    /// A row held against `target`; `met` says whether it was reached.
    pub fn target(scenario: &str, case: impl Into<String>, value: impl Into<String>, target: &str, met: bool) -> Row {
        Row {
            scenario: scenario.into(),
            case: case.into(),
            value: value.into(),
            target: target.into(),
            verdict: if met { Verdict::Met } else { Verdict::Missed },
        }
    }
}

/// Renders rows as a Markdown table.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from("| scenario | case | result | target | met |\n|---|---|---|---|---|\n");
    for row in rows {
        let verdict = match row.verdict {
            Verdict::Met => "yes",
            Verdict::Missed => "**no**",
            Verdict::Info => "",
        };
        let cells = [row.scenario.as_str(), &row.case, &row.value, &row.target, verdict].map(|c| c.replace('|', "\\|"));
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms_list(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let samples = ms_list(&[50, 10, 40, 20, 30]);
        assert_eq!(percentile(&samples, 50.0), Some(Duration::from_millis(30)));
        assert_eq!(percentile(&samples, 99.0), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&samples, 0.0), Some(Duration::from_millis(10)));
        assert_eq!(percentile(&[], 50.0), None);
        let hundred: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&hundred, 99.0), Some(Duration::from_millis(99)));
    }

    #[test]
    fn table_marks_verdicts_and_escapes_pipes() {
        let rows = vec![
            Row::target("1 launch", "1 app x 1000", "1200 tasks/s", ">= 1000 tasks/s", true),
            Row::target("2 latency", "command", "p99 600 ms", "< 500 ms", false),
            Row::info("5 footprint", "a|b", "3 MiB"),
        ];
        let text = table(&rows);
        assert!(text.contains("| 1 launch | 1 app x 1000 | 1200 tasks/s | >= 1000 tasks/s | yes |"));
        assert!(text.contains("| **no** |"));
        assert!(text.contains("| 5 footprint | a\\|b | 3 MiB |  |  |"));
        assert_eq!(p50_p99(&[]), "no samples");
        assert_eq!(mib(3 * 1024 * 1024), "3.0 MiB");
    }
}
