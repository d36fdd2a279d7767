//! Egress DLP: a credential may only go to its provider. Every request the proxy can see (plain
//! HTTP, and requests inside an intercepted tunnel) is scanned before anything of it is sent
//! upstream, with the same compiled [`Scanner`] as `hush scan`: the URL, the header values, and
//! the body up to `dlp_max_body`. A credential whose rule names its provider's hosts (`hosts =
//! [...]`) is blocked on its way to any other host; an unbound secret follows `[proxy] dlp`.
//!
//! What is not scanned: the body past `dlp_max_body` (held and scanned up to the limit, then the
//! rest streams on unread, and the audit record says `dlp: "partly inspected"`), and tunnelled
//! `CONNECT` traffic that is not intercepted (TLS hides it: `dlp: "not inspected"`).

use std::collections::BTreeMap;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderMap};
use hyper::http::request::Parts;
use serde::Deserialize;

use super::telemetry::HostGlob;
use crate::rules::RuleSet;
use crate::scan::{self, Scanner};

/// Most of a request body held and scanned by default, before it is sent on: 1 MiB.
pub const DEFAULT_MAX_BODY: usize = 1 << 20;
/// The largest `dlp_max_body` accepted: each request in flight may hold this much memory.
pub const MAX_MAX_BODY: usize = 64 << 20;
/// The path a DLP fingerprint is bound to (fingerprints are salted by rule and path): one name
/// for all egress, so one leaked credential has one fingerprint whatever host it was sent to.
pub const FINGERPRINT_PATH: &str = "<egress>";

/// `[proxy] dlp`: what happens to unbound secrets (rules without `hosts`), and `off` for no
/// scanning at all. Unset, key material (private keys) is blocked and generic secrets logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Every unbound secret is blocked, whatever the host.
    Block,
    /// Unbound secrets are logged (`rule` and `fingerprint` in the record), not blocked.
    Log,
    /// DLP is off: nothing is scanned, bound credentials pass too.
    Off,
}

/// The DLP keys of `[proxy]`, as written.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub mode: Option<Mode>,
    /// Rule id to extra hosts it may go to (self-hosted providers: GitHub Enterprise, GitLab).
    pub allow_hosts: BTreeMap<String, Vec<String>>,
    pub max_body: Option<u64>,
}

/// What a rule's finding means for a request, before the host is known.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Class {
    /// May go to these hosts only.
    Bound(Vec<HostGlob>),
    /// Private key material: blocked unless `dlp = "log"`.
    Key,
    /// A generic secret (a password assignment, a bearer token): logged unless `dlp = "block"`.
    Generic,
}

/// The compiled DLP: the scanner, and for every rule where its findings may go.
pub struct Dlp {
    scanner: Scanner,
    /// Indexed like the scanner's rules.
    classes: Vec<Class>,
    /// Indexed like the scanner's rules: hosts always allowed (`dlp_allow_hosts`).
    allowed: Vec<Vec<HostGlob>>,
    mode: Option<Mode>,
    /// Most body bytes held and scanned per request.
    pub max_body: usize,
}

impl std::fmt::Debug for Dlp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dlp")
            .field("rules", &self.classes.len())
            .field("mode", &self.mode)
            .field("max_body", &self.max_body)
            .finish()
    }
}

/// A secret the DLP found, named without its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub rule: String,
    /// `hush scan`'s fingerprint of the secret (costly to confirm a guess against).
    pub fingerprint: String,
    /// Why it is blocked or logged, with the setting that would let it through: one line.
    pub why: String,
}

/// The DLP's judgement of what it scanned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Log(Found),
    Block(Found),
}

impl Verdict {
    /// The more severe of two verdicts (the first on a tie).
    pub fn worst(self, other: Verdict) -> Verdict {
        match (&self, &other) {
            (Verdict::Block(_), _) => self,
            (_, Verdict::Block(_)) => other,
            (Verdict::Log(_), _) => self,
            _ => other,
        }
    }
}

impl Dlp {
    /// Compiles `rules` for the proxy; `None` when `dlp = "off"`. Fails on a host glob that is
    /// not one, a `dlp_allow_hosts` key that names no rule, or a `dlp_max_body` out of range.
    pub fn new(rules: &RuleSet, settings: &Settings) -> Result<Option<Dlp>, String> {
        if settings.mode == Some(Mode::Off) {
            return Ok(None);
        }
        let max_body = match settings.max_body {
            None => DEFAULT_MAX_BODY,
            Some(n) if n as u128 <= MAX_MAX_BODY as u128 => n as usize,
            Some(n) => {
                return Err(format!(
                    "dlp_max_body: {n} is more than the most, {MAX_MAX_BODY} bytes (64 MiB)"
                ))
            }
        };
        for id in settings.allow_hosts.keys() {
            if !rules.rules.iter().any(|r| &r.id == id) {
                return Err(format!(
                    "dlp_allow_hosts: no rule has the id {id:?} (see `hush rules`)"
                ));
            }
        }
        let globs = |list: &[String], what: &str| -> Result<Vec<HostGlob>, String> {
            list.iter()
                .map(|g| g.parse().map_err(|e| format!("{what}: {e}")))
                .collect()
        };
        let mut classes = Vec::with_capacity(rules.rules.len());
        let mut allowed = Vec::with_capacity(rules.rules.len());
        for rule in &rules.rules {
            let hosts = globs(&rule.hosts, &format!("rule '{}': hosts", rule.id))?;
            classes.push(match hosts.is_empty() {
                false => Class::Bound(hosts),
                true if is_key_material(&rule.id) => Class::Key,
                true => Class::Generic,
            });
            let extra = settings.allow_hosts.get(&rule.id).map_or(&[][..], |v| v);
            allowed.push(globs(extra, &format!("dlp_allow_hosts.{}", rule.id))?);
        }
        let scanner = Scanner::new(rules).map_err(|e| e.to_string())?;
        Ok(Some(Dlp {
            scanner,
            classes,
            allowed,
            mode: settings.mode,
            max_body,
        }))
    }

    /// Scans `data` on its way to `host` (lower-case, as the policy saw it). `whole` is false
    /// when the scanner gave up before the end (too many findings or keyword hits), which the
    /// caller records as a partial inspection.
    pub fn judge(&self, host: &str, data: &[u8]) -> (Verdict, bool) {
        let scanned = self.scanner.scan_limited(data, scan::MAX_FINDINGS);
        let whole = scanned.cut.is_none();
        let mut plain = scanned.matches;
        let decoded = self.scanner.scan_decoded(data, &mut plain);
        let mut verdict = Verdict::Pass;
        let found = plain
            .iter()
            .map(|m| (m.rule, &data[m.secret.clone()]))
            .chain(decoded.iter().map(|d| (d.rule, d.secret.as_slice())));
        for (rule, secret) in found {
            verdict = verdict.worst(self.one(rule, secret, host));
            if matches!(verdict, Verdict::Block(_)) {
                break;
            }
        }
        (verdict, whole)
    }

    /// The verdict on one finding of rule `index` going to `host`.
    fn one(&self, index: usize, secret: &[u8], host: &str) -> Verdict {
        if self.allowed[index].iter().any(|g| g.matches(host)) {
            return Verdict::Pass;
        }
        let id = &self.scanner.rule(index).id;
        let allow = format!("[proxy.dlp_allow_hosts] {id} = [\"{host}\"]");
        let (block, why) = match (&self.classes[index], self.mode) {
            (Class::Bound(hosts), _) if hosts.iter().any(|g| g.matches(host)) => {
                return Verdict::Pass
            }
            (Class::Bound(hosts), _) => (
                true,
                format!(
                    "dlp: a {id} credential may only go to {}, not to {host}; if {host} is \
                     your own {id} service, add {allow}",
                    shown_hosts(hosts)
                ),
            ),
            (Class::Key, Some(Mode::Log)) | (Class::Generic, None | Some(Mode::Log)) => {
                (false, format!("dlp: {id} found, logged, not blocked"))
            }
            (Class::Key, _) => (
                true,
                format!(
                    "dlp: {id} key material is not sent anywhere; to send it to {host}, add \
                     {allow} (or set dlp = \"log\" in [proxy])"
                ),
            ),
            (Class::Generic, _) => (
                true,
                format!("dlp: {id} found and dlp = \"block\"; to send it to {host}, add {allow}"),
            ),
        };
        let found = Found {
            rule: id.clone(),
            fingerprint: scan::fingerprint(id, FINGERPRINT_PATH, secret),
            why,
        };
        match block {
            true => Verdict::Block(found),
            false => Verdict::Log(found),
        }
    }

    /// The text of a request head as the DLP scans it, one line per part: the URL
    /// (`https://host/path?query`: the rules for webhook and bot URLs need the host), then
    /// `name: value` for every header except the proxy's own credential. Written into `buf`
    /// (cleared first), one allocation for the whole head.
    pub fn head_text(host: &str, head: &Parts, buf: &mut Vec<u8>) {
        buf.clear();
        let target = head.uri.path_and_query().map_or("/", |pq| pq.as_str());
        let headers_len: usize = head
            .headers
            .iter()
            .map(|(n, v)| n.as_str().len() + v.len() + 3)
            .sum();
        buf.reserve(8 + host.len() + target.len() + 1 + headers_len);
        buf.extend_from_slice(b"https://");
        buf.extend_from_slice(host.as_bytes());
        buf.extend_from_slice(target.as_bytes());
        buf.push(b'\n');
        for (name, value) in &head.headers {
            if name == header::PROXY_AUTHORIZATION {
                continue;
            }
            buf.extend_from_slice(name.as_str().as_bytes());
            buf.extend_from_slice(b": ");
            buf.extend_from_slice(value.as_bytes());
            buf.push(b'\n');
        }
    }
}

/// Rules for key material: a private key is never meant to leave, whatever the host.
fn is_key_material(id: &str) -> bool {
    id.contains("private-key")
        || matches!(
            id,
            "age-secret-key" | "openvpn-static-key" | "kubeconfig-client-key-data"
        )
}

/// A rule's hosts for a message: the first three, and how many more.
fn shown_hosts(hosts: &[HostGlob]) -> String {
    let mut shown: Vec<String> = hosts.iter().take(3).map(|g| g.to_string()).collect();
    if hosts.len() > 3 {
        shown.push(format!("{} more", hosts.len() - 3));
    }
    shown.join(", ")
}

/// Why a request body could not be held for inspection.
#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    #[error("the client sent no body data for {0:?}")]
    Stalled(Duration),
    #[error("the request body failed: {0}")]
    Failed(hyper::Error),
}

/// A request body after inspection: the part held (and scanned), then whatever was left
/// unread past the limit, streamed as it comes; or the client's body untouched (none to read).
pub enum Inspected {
    Untouched(Incoming),
    Held {
        head: Option<Bytes>,
        /// Boxed: trailers are rare, and a `HeaderMap` would weigh on every body.
        trailers: Option<Box<HeaderMap>>,
        rest: Option<Incoming>,
    },
}

impl Inspected {
    /// Reads `body` until its end or until at least `limit` bytes are held, waiting at most
    /// `idle` for each frame. The bytes held are returned with the body to send them on.
    pub async fn hold(
        mut body: Incoming,
        limit: usize,
        idle: Duration,
    ) -> Result<(Bytes, Inspected), HoldError> {
        use http_body_util::BodyExt;
        let hint = body.size_hint().exact().unwrap_or(0);
        let mut held = BytesMut::with_capacity(usize::try_from(hint).unwrap_or(limit).min(limit));
        let mut trailers = None;
        let mut ended = body.is_end_stream();
        while !ended && held.len() < limit {
            let frame = match tokio::time::timeout(idle, body.frame()).await {
                Err(_) => return Err(HoldError::Stalled(idle)),
                Ok(None) => {
                    ended = true;
                    break;
                }
                Ok(Some(Err(e))) => return Err(HoldError::Failed(e)),
                Ok(Some(Ok(frame))) => frame,
            };
            match frame.into_data() {
                Ok(data) => held.extend_from_slice(&data),
                Err(frame) => {
                    trailers = frame.into_trailers().ok().map(Box::new);
                    ended = true;
                }
            }
            ended = ended || body.is_end_stream();
        }
        let held = held.freeze();
        let head = (!held.is_empty()).then(|| held.clone());
        let rest = (!ended).then_some(body);
        Ok((
            held,
            Inspected::Held {
                head,
                trailers,
                rest,
            },
        ))
    }

    /// Whether part of the body was left unread (and so unscanned).
    pub fn has_rest(&self) -> bool {
        matches!(self, Inspected::Held { rest: Some(_), .. })
    }
}

impl Body for Inspected {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            Inspected::Untouched(body) => Pin::new(body).poll_frame(cx),
            Inspected::Held {
                head,
                trailers,
                rest,
            } => {
                if let Some(data) = head.take() {
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                if let Some(body) = rest {
                    return Pin::new(body).poll_frame(cx);
                }
                Poll::Ready(trailers.take().map(|t| Ok(Frame::trailers(*t))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Inspected::Untouched(body) => body.is_end_stream(),
            Inspected::Held {
                head,
                trailers,
                rest,
            } => {
                head.is_none()
                    && trailers.is_none()
                    && rest.as_ref().is_none_or(|b| b.is_end_stream())
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Inspected::Untouched(body) => body.size_hint(),
            Inspected::Held { head, rest, .. } => {
                let held = head.as_ref().map_or(0, |h| h.len() as u64);
                match rest {
                    None => SizeHint::with_exact(held),
                    Some(body) => {
                        let more = body.size_hint();
                        let mut hint = SizeHint::new();
                        hint.set_lower(more.lower() + held);
                        if let Some(upper) = more.upper() {
                            hint.set_upper(upper + held);
                        }
                        hint
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dlp(config: &str) -> Dlp {
        let config = crate::rules::Config::parse(config, "t.toml").unwrap();
        let rules = RuleSet::with_config(&config).unwrap();
        let table = config.proxy.unwrap_or_default();
        Dlp::new(&rules, &table.dlp_settings()).unwrap().unwrap()
    }

    /// A GitHub token of valid shape (CRC32 checksum), built at run time so this file holds none.
    fn github_token() -> String {
        let body = "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vWx";
        let crc = crc32fast::hash(body.as_bytes());
        format!("ghp_{body}{}", base62(crc))
    }

    fn base62(mut n: u32) -> String {
        const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut out = vec![b'0'; 6];
        for slot in out.iter_mut().rev() {
            *slot = DIGITS[(n % 62) as usize];
            n /= 62;
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_built_in_host_glob_parses_and_many_rules_are_bound() {
        let d = dlp("");
        let bound = d
            .classes
            .iter()
            .filter(|c| matches!(c, Class::Bound(_)))
            .count();
        assert!(bound >= 100, "{bound} bound rules");
    }

    #[test]
    fn a_bound_credential_passes_to_its_provider_only() {
        let d = dlp("");
        let token = github_token();
        let text = format!("authorization: token {token}\n");
        assert_eq!(d.judge("api.github.com", text.as_bytes()).0, Verdict::Pass);
        assert_eq!(
            d.judge("raw.githubusercontent.com", text.as_bytes()).0,
            Verdict::Pass
        );
        match d.judge("example.com", text.as_bytes()).0 {
            Verdict::Block(found) => {
                assert_eq!(found.rule, "github-pat");
                assert_eq!(found.fingerprint.len(), 32);
                assert!(!found.why.contains(&token[4..]), "{}", found.why);
                assert!(found.why.contains("dlp_allow_hosts"), "{}", found.why);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_allow_list_adds_hosts_per_rule() {
        let d = dlp("[proxy.dlp_allow_hosts]\ngithub-pat = [\"ghe.corp.example\"]\n");
        let text = format!("x-token: {}\n", github_token());
        assert_eq!(
            d.judge("ghe.corp.example", text.as_bytes()).0,
            Verdict::Pass
        );
        assert!(matches!(
            d.judge("corp.example", text.as_bytes()).0,
            Verdict::Block(_)
        ));
        // As clients send it, in a request head: no generic rule logs it either.
        let token = github_token();
        let head = format!("https://ghe.corp.example/user?page=2\nauthorization: token {token}\n");
        assert_eq!(
            d.judge("ghe.corp.example", head.as_bytes()),
            (Verdict::Pass, true)
        );
    }

    #[test]
    fn unbound_secrets_follow_the_mode() {
        // Split so that this file holds no password the scanner would report.
        let password = ["pass", "word = \"Zq8#vLm2!pWx7rTn\"\n"].concat();
        assert!(matches!(
            dlp("").judge("a.example", password.as_bytes()).0,
            Verdict::Log(_)
        ));
        let block = dlp("[proxy]\ndlp = \"block\"\n");
        assert!(matches!(
            block.judge("a.example", password.as_bytes()).0,
            Verdict::Block(_)
        ));
        assert!(dlp_off("[proxy]\ndlp = \"off\"\n"));
        assert!(is_key_material("private-key-rsa") && !is_key_material("generic-password"));
    }

    fn dlp_off(config: &str) -> bool {
        let config = crate::rules::Config::parse(config, "t.toml").unwrap();
        let rules = RuleSet::with_config(&config).unwrap();
        let table = config.proxy.unwrap_or_default();
        Dlp::new(&rules, &table.dlp_settings()).unwrap().is_none()
    }

    #[test]
    fn settings_errors_name_the_key() {
        let rules = RuleSet::defaults().unwrap();
        let mut s = Settings::default();
        s.allow_hosts
            .insert("github-patt".into(), vec!["a.example".into()]);
        let e = Dlp::new(&rules, &s).unwrap_err();
        assert!(e.contains("github-patt"), "{e}");
        let mut s = Settings::default();
        s.allow_hosts
            .insert("github-pat".into(), vec!["a.*.example".into()]);
        assert!(Dlp::new(&rules, &s)
            .unwrap_err()
            .contains("dlp_allow_hosts.github-pat"));
        let s = Settings {
            max_body: Some(1 << 40),
            ..Settings::default()
        };
        assert!(Dlp::new(&rules, &s).unwrap_err().contains("dlp_max_body"));
    }

    #[test]
    fn the_head_text_has_the_url_and_headers_but_not_the_proxy_credential() {
        let req = hyper::Request::builder()
            .uri("http://h.example/p?q=1")
            .header("x-a", "1")
            .header("proxy-authorization", "Bearer hidden")
            .body(())
            .unwrap();
        let (parts, ()) = req.into_parts();
        let mut buf = Vec::new();
        Dlp::head_text("h.example", &parts, &mut buf);
        assert_eq!(buf, b"https://h.example/p?q=1\nx-a: 1\n");
    }
}
