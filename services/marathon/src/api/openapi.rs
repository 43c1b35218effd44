//! The OpenAPI 3 document describing Marathon's REST routes, served at `/api-console/openapi.json` for the API
//! console page (`/api-console/index.html`). It is a hand-maintained data file; a test keeps it and the route
//! table ([`super::routes::ROUTES`]) in step in both directions.

/// The document (JSON).
pub const DOCUMENT: &str = include_str!("openapi.json");

#[cfg(test)]
mod tests {
    use super::super::routes::ROUTES;
    use super::DOCUMENT;
    use serde_json::Value;
    use std::collections::BTreeSet;

    const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options", "trace"];

    fn document() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
    }

    fn documented() -> BTreeSet<(String, String)> {
        let doc = document();
        let paths = doc["paths"].as_object().expect("paths");
        paths
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .expect("path item")
                    .keys()
                    .filter(|k| METHODS.contains(&k.as_str()))
                    .map(move |m| (m.to_ascii_uppercase(), path.clone()))
            })
            .collect()
    }

    /// The OpenAPI path of a route pattern (`{name*}` written as `{name}`).
    fn openapi_path(pattern: &str) -> String {
        pattern.replace("*}", "}")
    }

    fn routed() -> BTreeSet<(String, String)> {
        ROUTES.iter().map(|r| (r.method.to_string(), openapi_path(r.pattern))).collect()
    }

    #[test]
    fn every_route_is_documented() {
        let missing: Vec<_> = routed().difference(&documented()).cloned().collect();
        assert!(missing.is_empty(), "routes missing from openapi.json: {missing:?}");
    }

    #[test]
    fn every_documented_operation_is_routed() {
        let extra: Vec<_> = documented().difference(&routed()).cloned().collect();
        assert!(extra.is_empty(), "openapi.json operations without a route: {extra:?}");
    }

    #[test]
    fn document_is_openapi_3_with_resolvable_references() {
        let doc = document();
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert!(!refs.is_empty());
        for r in refs {
            let pointer = r.strip_prefix('#').expect("local reference");
            assert!(doc.pointer(pointer).is_some(), "unresolved {r}");
        }
        // Every path parameter of every operation is declared.
        for (path, item) in doc["paths"].as_object().expect("paths") {
            let wanted: BTreeSet<&str> =
                path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
            for (method, op) in item.as_object().expect("path item") {
                let declared: BTreeSet<String> = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p["$ref"].as_str())
                    .filter_map(|r| doc.pointer(r.trim_start_matches('#')))
                    .filter(|p| p["in"] == "path")
                    .filter_map(|p| p["name"].as_str().map(str::to_string))
                    .collect();
                let declared: BTreeSet<&str> = declared.iter().map(String::as_str).collect();
                assert_eq!(declared, wanted, "{method} {path}");
            }
        }
    }

    fn collect_refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| collect_refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }
}
