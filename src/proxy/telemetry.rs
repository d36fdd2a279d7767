//! Telemetry endpoints as data: host globs with optional path prefixes, per vendor, each with
//! the answer its SDKs take for success. Loads `[[telemetry]]` entries (the built-in
//! `patterns/telemetry.toml` and the config's list) and answers "is this request telemetry,
//! and whose?".

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::StatusCode;
use serde::Deserialize;

/// A host pattern: an exact host name, or `*.domain` for any subdomain of `domain` at any depth
/// (the apex `domain` itself is not matched). Compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostGlob {
    Exact(String),
    /// Stored with its leading dot (`.example.com`) so a match is one `ends_with`.
    Subdomains(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "bad host glob {0:?}: expected a host name such as \"api.example.com\" or \"*.example.com\""
)]
pub struct BadGlob(pub String);

impl FromStr for HostGlob {
    type Err = BadGlob;

    fn from_str(s: &str) -> Result<Self, BadGlob> {
        let lower = s.to_ascii_lowercase();
        let (wild, name) = match lower.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, lower.as_str()),
        };
        if !is_host_name(name) {
            return Err(BadGlob(s.to_string()));
        }
        Ok(if wild {
            HostGlob::Subdomains(format!(".{name}"))
        } else {
            HostGlob::Exact(name.to_string())
        })
    }
}

/// Dot-separated labels of letters, digits, `-` and `_` (seen in real service names), or an IP
/// literal. Anything else (a `*` in the middle, spaces, empty labels) is a mistake to report.
fn is_host_name(s: &str) -> bool {
    if s.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl HostGlob {
    /// `host` must already be lower-case without a trailing dot (see [`normalize_host`]).
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostGlob::Exact(h) => host == h,
            HostGlob::Subdomains(suffix) => host.len() > suffix.len() && host.ends_with(suffix),
        }
    }

    /// Whether every host that `other` matches, this glob matches too.
    pub fn covers(&self, other: &HostGlob) -> bool {
        match (self, other) {
            (_, HostGlob::Exact(host)) => self.matches(host),
            (HostGlob::Subdomains(mine), HostGlob::Subdomains(theirs)) => theirs.ends_with(mine),
            (HostGlob::Exact(_), HostGlob::Subdomains(_)) => false,
        }
    }
}

impl fmt::Display for HostGlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostGlob::Exact(h) => f.write_str(h),
            HostGlob::Subdomains(suffix) => write!(f, "*{suffix}"),
        }
    }
}

/// Lower-cases a request host and drops a trailing root dot, so `API.Example.COM.` matches
/// `api.example.com`.
pub fn normalize_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// A request path in the form telemetry rules are matched against, so that another spelling of
/// the same path is not a way around them (RFC 3986 §6.2.2): escapes of unreserved characters
/// and of `/` decoded (`/%74rack` and `/%2ftrack` are `/track`: many servers decode `%2F`
/// before routing), dot segments removed (`/x/../track`, `/./track`), and runs of `/` merged
/// (`//track`, which servers such as nginx treat as `/track`). Letter case is left alone here;
/// [`Rule::matches`] compares prefixes without it. The request itself is forwarded as the
/// client wrote it.
pub fn normalize_path(path: &str) -> String {
    let decoded = decode_for_matching(path);
    let segments: Vec<&str> = decoded.split('/').collect();
    let mut kept: Vec<&str> = Vec::with_capacity(segments.len());
    // A path that ends in `/`, `/.` or `/..` names a directory, and keeps its final `/`.
    let mut directory = false;
    for segment in &segments {
        directory = true;
        match *segment {
            "" | "." => {}
            ".." => {
                kept.pop();
            }
            name => {
                kept.push(name);
                directory = false;
            }
        }
    }
    let mut out = String::with_capacity(decoded.len());
    for name in &kept {
        out.push('/');
        out.push_str(name);
    }
    if directory || out.is_empty() {
        out.push('/');
    }
    out
}

/// Decodes `%XX` escapes of unreserved characters (letters, digits, `-._~`) and of `/`; other
/// escapes stay (with upper-case hex), since decoding them could change what the path means.
/// Decoding is done once, as an origin does: `%252f` stays `%252f`.
fn decode_for_matching(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = (bytes[i] == b'%')
            .then(|| path.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escape {
            Some(b) if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) => {
                out.push(char::from(b));
                i += 3;
            }
            Some(b) => {
                out.push_str(&format!("%{b:02X}"));
                i += 3;
            }
            None => {
                // Copy up to the next `%` whole, so multi-byte characters stay intact.
                let next = bytes[i + 1..]
                    .iter()
                    .position(|&b| b == b'%')
                    .map_or(bytes.len(), |n| i + 1 + n);
                out.push_str(&path[i..next]);
                i = next;
            }
        }
    }
    out
}

/// What a blocked telemetry request is answered with: the response its SDK treats as success,
/// so that the application neither retries nor reports an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// A success status (2xx).
    pub status: StatusCode,
    /// Present whenever `body` is not empty.
    pub content_type: Option<HeaderValue>,
    pub body: Bytes,
}

impl Default for Answer {
    /// `204 No Content`: what an entry without `answer` gets.
    fn default() -> Self {
        Answer {
            status: StatusCode::NO_CONTENT,
            content_type: None,
            body: Bytes::new(),
        }
    }
}

/// Largest answer body: answers are small acknowledgements, and the list is embedded in the
/// binary.
pub const MAX_ANSWER_BODY: usize = 4096;

/// An `answer = { status, content_type, body }` table as written in TOML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAnswer {
    pub status: u16,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub body: String,
}

impl RawAnswer {
    /// Checks the answer; the error is the detail, without naming the entry.
    fn compile(self) -> Result<Answer, String> {
        let status = StatusCode::from_u16(self.status)
            .ok()
            .filter(StatusCode::is_success)
            .ok_or_else(|| format!("status {} is not a success status (200..=299)", self.status))?;
        let content_type = match self.content_type {
            Some(ct) => {
                // A media type (`type/subtype`, parameters allowed) that is a valid header value.
                let value = HeaderValue::from_str(&ct)
                    .ok()
                    .filter(|_| ct.trim() == ct && ct.contains('/'))
                    .ok_or_else(|| {
                        format!(
                            "content_type {ct:?} is not a media type such as \"application/json\""
                        )
                    })?;
                Some(value)
            }
            None => None,
        };
        if !self.body.is_empty() {
            if matches!(status, StatusCode::NO_CONTENT | StatusCode::RESET_CONTENT) {
                return Err(format!("status {} cannot carry a body", status.as_u16()));
            }
            if self.body.len() > MAX_ANSWER_BODY {
                return Err(format!(
                    "body is {} bytes, more than {MAX_ANSWER_BODY}",
                    self.body.len()
                ));
            }
            if content_type.is_none() {
                return Err("a body needs a content_type".into());
            }
        }
        Ok(Answer {
            status,
            content_type,
            body: Bytes::from(self.body),
        })
    }
}

/// One telemetry endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub vendor: String,
    pub description: String,
    pub host: HostGlob,
    /// Without a prefix the whole host is telemetry; with one, only paths under it. Stored
    /// normalised (see [`normalize_path`]), as the paths it is compared with are.
    pub path_prefix: Option<String>,
    /// Compare the prefix letter for letter; by default ASCII case is ignored (`/BATCH` is
    /// `/batch`), since servers that route without case exist and a miss leaks the data.
    pub path_case_sensitive: bool,
    /// The host also serves traffic applications need, so a `CONNECT` to it is tunnelled when
    /// the proxy cannot see paths; without it, a host with only path rules is refused.
    pub shared: bool,
    /// Shared with every decision that names this rule.
    pub answer: Arc<Answer>,
}

impl Rule {
    /// Whether a request matches; `path` is `None` when the proxy cannot see it (a `CONNECT`
    /// tunnel), and then only whole-host rules apply: the host also serves real API traffic.
    /// `path` must be normalised (see [`normalize_path`]).
    pub fn matches(&self, host: &str, path: Option<&str>) -> bool {
        if !self.host.matches(host) {
            return false;
        }
        match (&self.path_prefix, path) {
            (None, _) => true,
            (Some(prefix), Some(path)) => match path.as_bytes().get(..prefix.len()) {
                Some(head) if self.path_case_sensitive => head == prefix.as_bytes(),
                Some(head) => head.eq_ignore_ascii_case(prefix.as_bytes()),
                None => false,
            },
            (Some(_), None) => false,
        }
    }
}

/// A `[[telemetry]]` entry as written in TOML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub host: String,
    #[serde(default)]
    pub path_prefix: Option<String>,
    #[serde(default)]
    pub vendor: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub path_case_sensitive: bool,
    #[serde(default)]
    pub shared: bool,
    #[serde(default)]
    pub answer: Option<RawAnswer>,
}

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error(transparent)]
    Glob(#[from] BadGlob),
    #[error("telemetry rule for {host:?}: path_prefix {prefix:?} must start with '/'")]
    PathPrefix { host: String, prefix: String },
    #[error("telemetry rule for {0:?}: missing vendor")]
    NoVendor(String),
    #[error("telemetry rule for {host:?}: shared = true needs a path_prefix (without one the whole host is blocked)")]
    SharedWholeHost { host: String },
    #[error("telemetry rule for {host:?}{}: answer: {detail}", .prefix.as_deref().map(|p| format!(" {p:?}")).unwrap_or_default())]
    Answer {
        host: String,
        prefix: Option<String>,
        detail: String,
    },
    #[error("{0}")]
    Toml(#[from] toml::de::Error),
}

impl RawRule {
    /// Validates an entry. `default_vendor` names rules that came without one (config entries).
    pub fn compile(self, default_vendor: Option<&str>) -> Result<Rule, RuleError> {
        let host: HostGlob = self.host.parse()?;
        if let Some(prefix) = &self.path_prefix {
            if !prefix.starts_with('/') {
                return Err(RuleError::PathPrefix {
                    host: self.host,
                    prefix: prefix.clone(),
                });
            }
        }
        if self.shared && self.path_prefix.is_none() {
            return Err(RuleError::SharedWholeHost { host: self.host });
        }
        let answer = match self.answer {
            Some(raw) => raw.compile().map_err(|detail| RuleError::Answer {
                host: self.host.clone(),
                prefix: self.path_prefix.clone(),
                detail,
            })?,
            None => Answer::default(),
        };
        let vendor = match (self.vendor, default_vendor) {
            (Some(v), _) => v,
            (None, Some(d)) => d.to_string(),
            (None, None) => return Err(RuleError::NoVendor(self.host)),
        };
        Ok(Rule {
            vendor,
            description: self.description.unwrap_or_default(),
            host,
            path_prefix: self.path_prefix.as_deref().map(normalize_path),
            path_case_sensitive: self.path_case_sensitive,
            shared: self.shared,
            answer: Arc::new(answer),
        })
    }
}

/// The shape of `patterns/telemetry.toml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    telemetry: Vec<RawRule>,
}

/// Parses a telemetry rule file: `[[telemetry]]` entries, each with a `vendor`.
pub fn parse_rules(text: &str) -> Result<Vec<Rule>, RuleError> {
    let file: File = toml::from_str(text)?;
    file.telemetry
        .into_iter()
        .map(|raw| raw.compile(None))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_parse_and_match() {
        let exact: HostGlob = "API.segment.io".parse().unwrap();
        assert!(exact.matches("api.segment.io"));
        assert!(!exact.matches("x.api.segment.io"));
        let sub: HostGlob = "*.sentry.io".parse().unwrap();
        assert!(sub.matches("o1.ingest.sentry.io"));
        assert!(sub.matches("a.sentry.io"));
        assert!(!sub.matches("sentry.io"), "the apex is not a subdomain");
        assert!(!sub.matches("notsentry.io"));
        assert_eq!(sub.to_string(), "*.sentry.io");
        for bad in [
            "", "*", "*.", "a.*.com", "a..b", "foo bar", "*foo.com", "a.com/", "ex*.com", ".a.com",
        ] {
            assert_eq!(
                bad.parse::<HostGlob>(),
                Err(BadGlob(bad.to_string())),
                "{bad:?}"
            );
        }
        assert!("127.0.0.1".parse::<HostGlob>().is_ok());
    }

    #[test]
    fn normalizes_hosts() {
        assert_eq!(normalize_host("API.Example.COM."), "api.example.com");
    }

    #[test]
    fn path_prefix_rules_need_the_path() {
        let rule = RawRule {
            host: "api.example.com".into(),
            path_prefix: Some("/v1/track".into()),
            vendor: Some("ex".into()),
            description: None,
            path_case_sensitive: false,
            shared: false,
            answer: None,
        }
        .compile(None)
        .unwrap();
        assert!(rule.matches("api.example.com", Some("/v1/track/x")));
        assert!(!rule.matches("api.example.com", Some("/v1/users")));
        assert!(
            !rule.matches("api.example.com", None),
            "a tunnel hides the path"
        );
    }

    #[test]
    fn path_prefixes_ignore_case_unless_told_not_to() {
        let rules = parse_rules(
            r#"
            [[telemetry]]
            vendor = "any-case"
            host = "a.example"
            path_prefix = "/Batch"

            [[telemetry]]
            vendor = "exact"
            host = "b.example"
            path_prefix = "/v1//Track/./"
            path_case_sensitive = true
            "#,
        )
        .unwrap();
        for path in ["/batch", "/BATCH/x", "/bAtCh"] {
            assert!(rules[0].matches("a.example", Some(path)), "{path}");
        }
        assert!(!rules[0].matches("a.example", Some("/batc")));
        // The prefix is normalised as paths are, and compared letter for letter.
        assert_eq!(rules[1].path_prefix.as_deref(), Some("/v1/Track/"));
        assert!(rules[1].matches("b.example", Some("/v1/Track/e")));
        assert!(!rules[1].matches("b.example", Some("/v1/track/e")));
    }

    #[test]
    fn paths_are_normalized_before_matching() {
        for (path, want) in [
            ("/track", "/track"),
            ("/", "/"),
            ("", "/"),
            ("/./track", "/track"),
            ("/x/../track", "/track"),
            ("/../../track", "/track"),
            ("//track", "/track"),
            ("/%74rack", "/track"),
            ("/%7e%2Fa%2fb", "/~/a/b"),
            ("/%2fbatch", "/batch"),
            ("/%2F%2Fbatch/", "/batch/"),
            ("/x%2f..%2fbatch", "/batch"),
            ("/%252fbatch", "/%252fbatch"),
            ("/%3a%5C", "/%3A%5C"),
            ("/v1/batch/", "/v1/batch/"),
            ("/v1/batch/.", "/v1/batch/"),
            ("/v1/x/..", "/v1/"),
            ("/%41é%", "/Aé%"),
            ("/%zz/%4", "/%zz/%4"),
        ] {
            assert_eq!(normalize_path(path), want, "{path:?}");
        }
    }

    #[test]
    fn parses_rule_files() {
        let rules = parse_rules(
            r#"
            [[telemetry]]
            vendor = "segment"
            description = "Segment analytics API"
            host = "api.segment.io"

            [[telemetry]]
            vendor = "example"
            description = "tracking path"
            host = "*.example.com"
            path_prefix = "/track"
            "#,
        )
        .unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[1].path_prefix.as_deref(), Some("/track"));
        assert!(parse_rules("").unwrap().is_empty());
    }

    #[test]
    fn rejects_bad_rule_files() {
        let cases = [
            "[[telemetry]]\nhost = \"a.com\"\n",
            "[[telemetry]]\nvendor = \"v\"\nhost = \"a.*.com\"\n",
            "[[telemetry]]\nvendor = \"v\"\nhost = \"a.com\"\npath_prefix = \"track\"\n",
            "[[telemetry]]\nvendor = \"v\"\nhost = \"a.com\"\nport = 1\n",
            "[[telemetry]\n",
        ];
        for text in cases {
            assert!(parse_rules(text).is_err(), "{text}");
        }
    }

    #[test]
    fn answers_default_to_204_and_carry_what_is_written() {
        let rules = parse_rules(
            r#"
            [[telemetry]]
            vendor = "plain"
            host = "a.example"

            [[telemetry]]
            vendor = "json"
            host = "b.example"
            answer = { status = 200, content_type = "application/json; charset=utf-8", body = '{"status": 1}' }

            [[telemetry]]
            vendor = "accepted"
            host = "c.example"
            path_prefix = "/x"
            shared = true
            answer = { status = 202 }
            "#,
        )
        .unwrap();
        assert_eq!(*rules[0].answer, Answer::default());
        assert_eq!(rules[0].answer.status, StatusCode::NO_CONTENT);
        assert!(!rules[0].shared);
        let json = &rules[1].answer;
        assert_eq!(json.status, StatusCode::OK);
        assert_eq!(
            json.content_type.as_ref().unwrap(),
            "application/json; charset=utf-8"
        );
        assert_eq!(&json.body[..], br#"{"status": 1}"#);
        assert_eq!(rules[2].answer.status, StatusCode::ACCEPTED);
        assert!(rules[2].answer.body.is_empty() && rules[2].shared);
    }

    /// A bad answer or a meaningless `shared` is one line that names the entry and the problem.
    #[test]
    fn bad_answers_name_the_entry() {
        let long = "x".repeat(MAX_ANSWER_BODY + 1);
        let cases = [
            ("answer = { status = 404 }", "status 404"),
            ("answer = { status = 302 }", "status 302"),
            ("answer = { status = 1000 }", "status 1000"),
            (
                "answer = { status = 204, content_type = \"text/plain\", body = \"ok\" }",
                "204",
            ),
            ("answer = { status = 200, body = \"ok\" }", "content_type"),
            (
                "answer = { status = 200, content_type = \"json\" }",
                "\"json\"",
            ),
            (
                "answer = { status = 200, content_type = \"text/plain\\n\" }",
                "content_type",
            ),
            (
                "answer = { status = 200, content_type = \" text/plain\" }",
                "content_type",
            ),
            (
                &format!(
                    "answer = {{ status = 200, content_type = \"text/plain\", body = \"{long}\" }}"
                ),
                "more than 4096",
            ),
        ];
        for (answer, needle) in cases {
            let text = format!(
                "[[telemetry]]\nvendor = \"v\"\nhost = \"t.example\"\npath_prefix = \"/p\"\n{answer}\n"
            );
            let e = parse_rules(&text).unwrap_err().to_string();
            assert!(e.contains(needle), "{e:?} lacks {needle:?}");
            assert!(e.contains("\"t.example\" \"/p\""), "{e:?} names the entry");
            assert!(!e.contains('\n'), "{e:?}");
        }
        // Unknown keys in an answer are typos, not silence.
        let text = "[[telemetry]]\nvendor = \"v\"\nhost = \"t.example\"\nanswer = { status = 200, type = \"x\" }\n";
        assert!(parse_rules(text).is_err());
        let text = "[[telemetry]]\nvendor = \"v\"\nhost = \"t.example\"\nshared = true\n";
        let e = parse_rules(text).unwrap_err().to_string();
        assert!(e.contains("shared") && e.contains("t.example"), "{e}");
    }

    #[test]
    fn globs_cover_the_hosts_of_narrower_globs() {
        let glob = |s: &str| s.parse::<HostGlob>().unwrap();
        for (wide, narrow, want) in [
            ("*.example.com", "a.example.com", true),
            ("*.example.com", "*.a.example.com", true),
            ("*.example.com", "*.example.com", true),
            ("*.example.com", "example.com", false),
            ("*.a.example.com", "*.example.com", false),
            ("a.example.com", "a.example.com", true),
            ("a.example.com", "*.a.example.com", false),
            ("*.example.com", "*.notexample.com", false),
        ] {
            assert_eq!(glob(wide).covers(&glob(narrow)), want, "{wide} {narrow}");
        }
    }
}
