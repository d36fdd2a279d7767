//! SARIF 2.1.0, for code-scanning dashboards. Results carry the fingerprint as a partial
//! fingerprint and, for history scans, the commit in their properties.

use serde_json::{json, Value};

use super::{Finding, Style};

/// A reported path as a SARIF `uri`: a relative reference for a relative path, a `file` URI for
/// an absolute one, with every byte outside RFC 3986's unreserved set (and `/`) percent-encoded,
/// so that a space, `#` or `?` in a file name does not change what the URI names.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    if path.starts_with('/') {
        out.push_str("file://");
    }
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(super) fn document(findings: &[Finding], style: Style) -> Value {
    let mut rules: Vec<(&str, &str)> = findings
        .iter()
        .map(|f| (f.rule_id.as_str(), f.description.as_str()))
        .collect();
    rules.sort_unstable();
    rules.dedup();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let mut region = json!({ "startLine": f.line.max(1) });
            if let Some(column) = f.column {
                region["startColumn"] = column.into();
            }
            let message = if f.secret.0.is_empty() {
                f.description.clone()
            } else {
                format!("{}: {}", f.description, f.shown_secret(style))
            };
            let mut result = json!({
                "ruleId": f.rule_id,
                "level": "error",
                "message": { "text": message },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri(&f.path) },
                        "region": region,
                    }
                }],
                "partialFingerprints": { "hush/v1": f.fingerprint },
            });
            if let Some(commit) = &f.commit {
                result["properties"] = json!({
                    "commit": commit.id, "author": commit.author, "date": commit.date,
                });
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "hush",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules.iter().map(|(id, description)| json!({
                    "id": id,
                    "shortDescription": { "text": description },
                })).collect::<Vec<_>>(),
            }},
            "results": results,
        }]
    })
}
