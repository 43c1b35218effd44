//! Java `String.matches` semantics for the patterns the app model and constraints use, with compiled
//! patterns memoised process-wide: validation runs on every POST and constraints on every offer.

use regex::Regex;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// Whether `pattern` matches all of `text` (Java `String.matches`); `None` for an invalid pattern.
/// Compiled patterns are memoised process-wide (bounded), so repeated offers do not recompile them.
pub fn full_match(pattern: &str, text: &str) -> Option<bool> {
    const CACHE_LIMIT: usize = 512;
    static CACHE: OnceLock<Mutex<HashMap<String, Option<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let cached = cache.lock().ok().and_then(|c| c.get(pattern).cloned());
    let regex = match cached {
        Some(regex) => regex,
        None => {
            let compiled = Regex::new(&format!("^(?:{pattern})$")).ok();
            if let Ok(mut c) = cache.lock() {
                if c.len() >= CACHE_LIMIT {
                    c.clear();
                }
                c.insert(pattern.to_string(), compiled.clone());
            }
            compiled
        }
    };
    regex.map(|r| r.is_match(text))
}
