//! SARIF 2.1.0, for code-scanning dashboards. Results carry the fingerprint as a partial
//! fingerprint (`hush/v2`: hush 0.1's unsalted `hush/v1` is not comparable) and, for history
//! scans, the commit in their properties.

use serde_json::{json, Value};

use super::{Finding, Location, Style};

/// A reported path as a SARIF `uri`: a relative reference for a relative path, a `file` URI for
/// an absolute one, with every byte outside RFC 3986's unreserved set (and `/`) percent-encoded,
/// so that a space, `#` or `?` in a file name does not change what the URI names, and a name
/// that is not UTF-8 keeps its bytes.
fn uri(path: &[u8]) -> String {
    let encoded = super::percent_encode(path);
    if path.starts_with(b"/") {
        format!("file://{encoded}")
    } else {
        encoded
    }
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
            let mut region = json!({ "startLine": f.line().max(1) });
            if let Location::Content(at) = &f.location {
                region["startColumn"] = at.column_utf16.into();
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
                        "artifactLocation": { "uri": uri(&f.shown_path_bytes(style)) },
                        "region": region,
                    }
                }],
                "partialFingerprints": { "hush/v2": f.fingerprint },
            });
            result["properties"] = json!({ "confidence": f.confidence.as_str() });
            if let Some(chain) = f.decoded_chain() {
                result["properties"]["decoded"] = chain.into();
            }
            if let Some(commit) = &f.commit {
                let properties = &mut result["properties"];
                properties["commit"] = commit.id.as_str().into();
                properties["author"] = commit.author.as_str().into();
                properties["date"] = commit.date.as_str().into();
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
            "columnKind": "utf16CodeUnits",
            "results": results,
        }]
    })
}
