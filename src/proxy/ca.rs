//! The local CA of `hush ca` and the leaf certificates the intercepting proxy mints with it.
//! The CA is opt-in, lives in the user's data directory (key `0600`, never printed), and is
//! name-constrained to the domains in interception scope when it is made, so that its key, if
//! stolen, cannot vouch for a bank. Leaves are short-lived, one key per proxy process, cached.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    NameConstraints, SanType, SerialNumber, PKCS_ECDSA_P256_SHA256,
};
use rustls::client::danger::ServerCertVerifier;
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{RootCertStore, ServerConfig};

use super::config::Config;
use super::policy::Intercept;
use super::telemetry::HostGlob;

/// A time for rcgen (a `time::OffsetDateTime`, a type this crate need not name), from seconds
/// since the epoch.
macro_rules! at {
    ($secs:expr) => {
        rcgen::date_time_ymd(1970, 1, 1) + Duration::from_secs($secs)
    };
}

/// How long a new CA is valid; `hush ca init --force` makes a new one.
const CA_VALIDITY: Duration = Duration::from_secs(5 * 365 * 24 * 3600);
/// A leaf is valid from an hour ago (clocks differ) for a week, never past the CA.
const LEAF_BACKDATE: Duration = Duration::from_secs(3600);
const LEAF_VALIDITY: Duration = Duration::from_secs(7 * 24 * 3600);
/// Hosts whose leaf (or whose refusal) is kept; the oldest goes first.
pub const LEAF_CACHE: usize = 1000;

/// `hush ca` and its subcommands.
#[derive(Debug, clap::Args)]
pub struct CaArgs {
    #[command(subcommand)]
    pub command: CaCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum CaCommand {
    /// Create the local CA that `hush proxy` intercepts HTTPS with (key file mode 0600).
    Init {
        /// Replace an existing CA (clients must then trust the new one).
        #[arg(long)]
        force: bool,
        /// Let the CA sign for any host, not only the domains in interception scope now
        /// (for `intercept = [...]` lists that grow, or hosts not known in advance).
        #[arg(long)]
        no_name_constraints: bool,
        /// Configuration whose `[proxy] intercept` hosts and telemetry list set the scope
        /// (default: `.hush.toml` in the current directory, if present).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Print the CA certificate's path (exit 1 if there is no CA).
    Path,
    /// Print how to make curl, Python, Node, git and the system trust the CA.
    Trust,
    /// Remove the CA's files.
    Uninstall,
}

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("cannot find the data directory: set XDG_DATA_HOME or HOME")]
    NoDataDir,
    #[error(
        "a hush CA already exists at {0}; `hush ca init --force` replaces it (clients that \
         trust the old one must then trust the new one)"
    )]
    Exists(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the hush CA at {path} is unusable ({detail}); re-create it with `hush ca init --force`"
    )]
    Broken { path: PathBuf, detail: String },
    #[error(
        "the hush CA key {0} can be read by other users; `chmod 600` it, or re-create the CA \
         with `hush ca init --force`"
    )]
    KeyMode(PathBuf),
    #[error("the hush CA at {0} has expired; re-create it with `hush ca init --force`")]
    Expired(PathBuf),
    #[error("nothing is in interception scope to constrain the CA to; list hosts under `[proxy] intercept`, or use `hush ca init --no-name-constraints`")]
    NoScope,
    #[error("cannot make the CA: {0}")]
    Make(String),
    #[error(transparent)]
    Config(#[from] super::config::ConfigError),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> CaError + '_ {
    move |source| CaError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where the CA's files are: `$XDG_DATA_HOME/hush/` (default `~/.local/share/hush/`).
#[derive(Debug, Clone)]
pub struct Paths {
    pub dir: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Paths {
    pub fn from_env() -> Result<Paths, CaError> {
        Paths::from_lookup(|name| std::env::var_os(name))
    }

    /// An `XDG_DATA_HOME` that is not absolute is ignored, as the XDG spec says.
    pub fn from_lookup(get: impl Fn(&str) -> Option<OsString>) -> Result<Paths, CaError> {
        let absolute = |v: OsString| {
            let p = PathBuf::from(v);
            p.is_absolute().then_some(p)
        };
        let data = match get("XDG_DATA_HOME").and_then(absolute) {
            Some(dir) => dir,
            None => get("HOME")
                .and_then(absolute)
                .ok_or(CaError::NoDataDir)?
                .join(".local/share"),
        };
        Ok(Paths::in_dir(data.join("hush")))
    }

    pub fn in_dir(dir: PathBuf) -> Paths {
        Paths {
            cert: dir.join("ca.pem"),
            key: dir.join("ca-key.pem"),
            dir,
        }
    }

    pub fn exists(&self) -> bool {
        self.cert.exists() || self.key.exists()
    }
}

// ---------------------------------------------------------------------------------------------
// The command line

/// Runs `hush ca …`; exit 1 is "there is no CA" for `path`.
pub fn run(args: &CaArgs) -> Result<ExitCode, CaError> {
    let paths = Paths::from_env()?;
    let mut out = std::io::stdout().lock();
    let write = |out: &mut std::io::StdoutLock, text: &str| {
        out.write_all(text.as_bytes())
            .map_err(io_error(Path::new("<stdout>")))
    };
    match &args.command {
        CaCommand::Init {
            force,
            no_name_constraints,
            config,
        } => {
            let constraints = if *no_name_constraints {
                None
            } else {
                let config = Config::load(config.as_deref())?;
                Some(scope_domains(&config))
            };
            let made = init(&paths, constraints.as_deref(), *force)?;
            write(&mut out, &made)?;
        }
        CaCommand::Path => {
            if !paths.cert.is_file() {
                eprintln!(
                    "hush: no CA at {}; create one with `hush ca init`",
                    paths.cert.display()
                );
                return Ok(ExitCode::from(1));
            }
            write(&mut out, &format!("{}\n", paths.cert.display()))?;
        }
        CaCommand::Trust => {
            if !paths.cert.is_file() {
                eprintln!(
                    "hush: note: no CA at {} yet; create it with `hush ca init` first",
                    paths.cert.display()
                );
            }
            write(&mut out, &trust_text(&paths.cert))?;
        }
        CaCommand::Uninstall => write(&mut out, &uninstall(&paths)?)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The names the CA may sign for: every host a telemetry rule names (`*.x.com` as `x.com`, whose
/// subtree holds its subdomains) and every `[proxy] intercept` glob, and nothing wider. A stolen
/// key then reaches those hosts alone, not the rest of their domains (`collector.github.com`
/// must not let it sign for `github.com`). IP literals are left out: the CA never signs for an
/// address (see [`init`]).
pub fn scope_domains(config: &Config) -> Vec<String> {
    let mut globs: Vec<&HostGlob> = config.policy.telemetry.iter().map(|r| &r.host).collect();
    if let Some(Intercept::Hosts(hosts)) = &config.intercept {
        globs.extend(hosts);
    }
    let mut domains: Vec<String> = globs
        .into_iter()
        .map(|g| match g {
            HostGlob::Exact(h) => h.clone(),
            HostGlob::Subdomains(suffix) => suffix[1..].to_string(),
        })
        .filter(|h| h.parse::<IpAddr>().is_err())
        .collect();
    domains.sort();
    domains.dedup();
    // A name whose parent is listed too adds nothing: the parent's subtree holds it.
    let covered = |d: &String| {
        domains.iter().any(|p| {
            d.len() > p.len() && d.ends_with(p.as_str()) && d[..d.len() - p.len()].ends_with('.')
        })
    };
    domains.iter().filter(|d| !covered(d)).cloned().collect()
}

/// Creates the CA; `constraints` are the permitted DNS domains (`None`: unconstrained).
/// Returns what to tell the user.
pub fn init(paths: &Paths, constraints: Option<&[String]>, force: bool) -> Result<String, CaError> {
    if paths.exists() && !force {
        return Err(CaError::Exists(paths.dir.clone()));
    }
    let make = |e: rcgen::Error| CaError::Make(e.to_string());
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(make)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = ca_name(&format!("hush local CA ({})", hostname()));
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.serial_number = Some(random_serial()?);
    let now = unix_now();
    params.not_before = at!(now.saturating_sub(LEAF_BACKDATE.as_secs()));
    params.not_after = at!(now + CA_VALIDITY.as_secs());
    if let Some(domains) = constraints {
        if domains.is_empty() {
            return Err(CaError::NoScope);
        }
        let permitted = domains
            .iter()
            .map(|d| GeneralSubtree::DnsName(d.clone()))
            .collect();
        // No address at all: a leaf for an IP literal is never accepted from this CA.
        let excluded = vec![
            GeneralSubtree::IpAddress(CidrSubnet::V4([0; 4], [0; 4])),
            GeneralSubtree::IpAddress(CidrSubnet::V6([0; 16], [0; 16])),
        ];
        params.name_constraints = Some(NameConstraints {
            permitted_subtrees: permitted,
            excluded_subtrees: excluded,
        });
    }
    let cert = params.self_signed(&key).map_err(make)?;

    make_private_dir(&paths.dir)?;
    // The key is written first: a certificate without its key would look like a working CA.
    write_atomically(&paths.key, key.serialize_pem().as_bytes(), 0o600)?;
    write_atomically(&paths.cert, cert.pem().as_bytes(), 0o644)?;

    let mut msg = format!("created the hush CA: {}\n", paths.cert.display());
    match constraints {
        Some(domains) => {
            let _ = writeln!(
                msg,
                "name-constrained to {} domain(s) in interception scope (no IP addresses); \
                 hosts outside them are tunnelled, never intercepted",
                domains.len()
            );
        }
        None => msg.push_str("not name-constrained: it can sign for any host\n"),
    }
    let _ = writeln!(
        msg,
        "key: {} (mode 0600; never share it)\nnext: `hush ca trust` shows how to make clients trust it",
        paths.key.display()
    );
    Ok(msg)
}

fn ca_name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

/// Removes the CA's files (and its directory if that leaves it empty).
pub fn uninstall(paths: &Paths) -> Result<String, CaError> {
    let mut removed = Vec::new();
    // The combined bundle `hush ca trust` suggests making holds the CA too.
    let bundle = paths.dir.join("bundle.pem");
    for path in [&paths.key, &paths.cert, &bundle] {
        match std::fs::remove_file(path) {
            Ok(()) => removed.push(path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(path)(e)),
        }
    }
    if removed.is_empty() {
        return Ok(format!(
            "no hush CA at {}; nothing to remove\n",
            paths.dir.display()
        ));
    }
    let _ = std::fs::remove_dir(&paths.dir);
    Ok(format!(
        "removed {}\nremove it too from any trust store you added it to (see `hush ca trust`)\n",
        removed.join(", ")
    ))
}

/// How to trust the CA, client by client.
pub fn trust_text(cert: &Path) -> String {
    let ca = cert.display();
    let bundle = cert.with_file_name("bundle.pem");
    let bundle = bundle.display();
    format!(
        "\
The hush CA certificate is {ca}
Trust it only in the clients you run through `hush proxy`.

curl:
    curl --cacert {ca} ...            (or: export CURL_CA_BUNDLE={ca})
    This replaces curl's usual roots; for sites hush does not intercept use the combined
    bundle below.

Python (requests, httpx, pip): these variables REPLACE the system roots, so point them at a
bundle that holds both the system roots and the hush CA:
    cat /etc/ssl/certs/ca-certificates.crt {ca} > {bundle}
    export REQUESTS_CA_BUNDLE={bundle}   # requests
    export SSL_CERT_FILE={bundle}        # httpx, urllib, ssl
    export PIP_CERT={bundle}             # pip
    (the system bundle is /etc/pki/tls/certs/ca-bundle.crt on Fedora; on macOS use
    `python3 -m certifi` to find one)

Node.js (adds to the built-in roots):
    export NODE_EXTRA_CA_CERTS={ca}

git:
    git config --global http.sslCAInfo {bundle}
    (or GIT_SSL_CAINFO; like Python it replaces the roots, so use the combined bundle)

System store (every client that uses it; remove it again after `hush ca uninstall`):
    Debian/Ubuntu: sudo cp {ca} /usr/local/share/ca-certificates/hush-local-ca.crt
                   sudo update-ca-certificates
    Fedora/RHEL:   sudo cp {ca} /etc/pki/ca-trust/source/anchors/hush-local-ca.pem
                   sudo update-ca-trust
    macOS:         sudo security add-trusted-cert -d -r trustRoot \\
                       -k /Library/Keychains/System.keychain {ca}
"
    )
}

/// The data directory with mode 0700, created so, or tightened if it already existed.
fn make_private_dir(dir: &Path) -> Result<(), CaError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_error(dir))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io_error(dir))
}

/// Writes through a temporary file in the same directory, renamed into place. The temporary
/// file is created `0600`, so a key is never readable by others, not even for a moment.
fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), CaError> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".hush-ca")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)
        .map_err(io_error(dir))?;
    tmp.write_all(bytes).map_err(io_error(tmp.path()))?;
    tmp.as_file().sync_all().map_err(io_error(tmp.path()))?;
    if mode != 0o600 {
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode))
            .map_err(io_error(path))?;
    }
    tmp.persist(path).map_err(|e| io_error(path)(e.error))?;
    Ok(())
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into the buffer we own.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]);
    let clean: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        .take(64)
        .collect();
    if ok && !clean.is_empty() {
        clean
    } else {
        "localhost".into()
    }
}

fn random_serial() -> Result<SerialNumber, CaError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| CaError::Make(format!("random serial: {e}")))?;
    // Positive and without a leading zero byte, as DER integers must be.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

// ---------------------------------------------------------------------------------------------
// The proxy's side: loading the CA and minting leaves

/// The loaded CA, ready to mint leaves.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    /// The CA's validity, seconds since the epoch: no leaf outlives it.
    not_before: u64,
    not_after: u64,
    /// One leaf key for the whole process, in rcgen's form (to sign with) and rustls's.
    leaf_key: KeyPair,
    leaf_signer: Arc<dyn rustls::sign::SigningKey>,
    provider: Arc<CryptoProvider>,
    /// Verifies each new leaf against the CA as clients will, name constraints included.
    verifier: Arc<WebPkiServerVerifier>,
    cache: Mutex<LeafCache>,
    pub cert_path: PathBuf,
}

/// What the proxy can do for a host: serve it with a leaf, or not (the CA may not sign for it).
pub type Leaf = Result<Arc<ServerConfig>, Arc<str>>;

impl Ca {
    /// Loads the CA at `paths`; `None` when there is none.
    pub fn load(paths: &Paths) -> Result<Option<Ca>, CaError> {
        use std::os::unix::fs::PermissionsExt;
        if !paths.exists() {
            return Ok(None);
        }
        let broken = |detail: String| CaError::Broken {
            path: paths.dir.clone(),
            detail,
        };
        let key_meta = std::fs::metadata(&paths.key).map_err(io_error(&paths.key))?;
        if key_meta.permissions().mode() & 0o077 != 0 {
            return Err(CaError::KeyMode(paths.key.clone()));
        }
        let key_pem = std::fs::read_to_string(&paths.key).map_err(io_error(&paths.key))?;
        let cert_pem = std::fs::read(&paths.cert).map_err(io_error(&paths.cert))?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| broken(format!("key: {e}")))?;
        let cert = CertificateDer::from_pem_slice(&cert_pem)
            .map_err(|e| broken(format!("certificate: {e}")))?;
        let CaFacts {
            common_name,
            not_before,
            not_after,
        } = ca_facts(&cert).ok_or_else(|| broken("certificate: not one hush made".into()))?;
        if not_after <= unix_now() {
            return Err(CaError::Expired(paths.cert.clone()));
        }
        let mut params = CertificateParams::default();
        params.distinguished_name = ca_name(&common_name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = Issuer::new(params, key);

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots
            .add(cert)
            .map_err(|e| broken(format!("certificate: {e}")))?;
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| broken(e.to_string()))?;
        let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
            .map_err(|e| CaError::Make(e.to_string()))?;
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let leaf_signer = provider
            .key_provider
            .load_private_key(der)
            .map_err(|e| CaError::Make(e.to_string()))?;
        Ok(Some(Ca {
            issuer,
            not_before,
            not_after,
            leaf_key,
            leaf_signer,
            provider,
            verifier,
            cache: Mutex::new(LeafCache::new(LEAF_CACHE)),
            cert_path: paths.cert.clone(),
        }))
    }

    /// The TLS server settings for `host` (a lower-case name or an IP literal), minted on
    /// first use and cached; an error when the CA cannot sign for it (its name constraints),
    /// said once on stderr.
    pub fn leaf(&self, host: &str) -> Leaf {
        if let Some(leaf) = self.cache.lock().ok().and_then(|c| c.get(host)) {
            return leaf;
        }
        let leaf = self.mint(host).map_err(Arc::<str>::from);
        if let Err(reason) = &leaf {
            eprintln!(
                "hush proxy: {host} is in interception scope but the hush CA cannot sign for \
                 it ({reason}); tunnelled without interception. `hush ca init --force` (with \
                 {host} in scope, or --no-name-constraints) makes a CA that can"
            );
        }
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(host, leaf.clone());
        }
        leaf
    }

    fn mint(&self, host: &str) -> Result<Arc<ServerConfig>, String> {
        let san = match host.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(
                host.try_into()
                    .map_err(|e| format!("not a DNS name: {e}"))?,
            ),
        };
        let mut params = CertificateParams::default();
        params.subject_alt_names = vec![san];
        params.distinguished_name = ca_name(host);
        params.is_ca = IsCa::NoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(random_serial().map_err(|e| e.to_string())?);
        let now = unix_now();
        params.not_before = at!(now
            .saturating_sub(LEAF_BACKDATE.as_secs())
            .max(self.not_before));
        params.not_after = at!((now + LEAF_VALIDITY.as_secs()).min(self.not_after));
        let cert = params
            .signed_by(&self.leaf_key, &self.issuer)
            .map_err(|e| e.to_string())?;
        let name = ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
        self.verifier
            .verify_server_cert(cert.der(), &[], &name, &[], UnixTime::now())
            .map_err(|e| e.to_string())?;
        let certified = CertifiedKey::new(vec![cert.der().clone()], self.leaf_signer.clone());
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(SingleCertAndKey::from(certified)));
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// Hosts with a cached leaf (or refusal).
    pub fn cached(&self) -> usize {
        self.cache.lock().map_or(0, |c| c.len())
    }
}

/// Leaves by host, at most `cap`, the oldest evicted first.
struct LeafCache {
    map: HashMap<String, Leaf>,
    order: VecDeque<String>,
    cap: usize,
}

impl LeafCache {
    fn new(cap: usize) -> LeafCache {
        LeafCache {
            map: HashMap::new(),
            order: VecDeque::new(),
            cap,
        }
    }

    fn get(&self, host: &str) -> Option<Leaf> {
        self.map.get(host).cloned()
    }

    fn insert(&mut self, host: &str, leaf: Leaf) {
        if self.map.insert(host.to_string(), leaf).is_some() {
            return;
        }
        self.order.push_back(host.to_string());
        while self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }

    fn len(&self) -> usize {
        self.map.len()
    }
}

/// What the proxy needs from its CA certificate to sign leaves with it.
struct CaFacts {
    common_name: String,
    not_before: u64,
    not_after: u64,
}

/// Reads the subject's common name and the validity out of a certificate's DER (RFC 5280
/// §4.1): enough to rebuild the issuer name that leaves must carry byte for byte.
fn ca_facts(cert: &[u8]) -> Option<CaFacts> {
    let (_, certificate, _) = der(cert, 0x30)?;
    let (_, mut tbs, _) = der(certificate, 0x30)?;
    if tbs.first() == Some(&0xa0) {
        tbs = der(tbs, 0xa0)?.2; // version
    }
    let rest = der(tbs, 0x02)?.2; // serial
    let rest = der(rest, 0x30)?.2; // signature algorithm
    let rest = der(rest, 0x30)?.2; // issuer
    let (_, validity, rest) = der(rest, 0x30)?;
    let (_, subject, _) = der(rest, 0x30)?;
    let (not_before, after) = time_of(validity)?;
    let (not_after, _) = time_of(after)?;
    // Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value }
    let mut sets = subject;
    while !sets.is_empty() {
        let (_, set, next) = der(sets, 0x31)?;
        let (_, pair, _) = der(set, 0x30)?;
        let (_, oid, value) = der(pair, 0x06)?;
        if oid == [0x55, 0x04, 0x03] {
            let (tag, text, _) = der_any(value)?;
            // UTF8String or PrintableString
            if tag == 0x0c || tag == 0x13 {
                return Some(CaFacts {
                    common_name: String::from_utf8(text.to_vec()).ok()?,
                    not_before,
                    not_after,
                });
            }
        }
        sets = next;
    }
    None
}

/// One DER element with tag `want`: (tag, contents, what follows).
fn der(input: &[u8], want: u8) -> Option<(u8, &[u8], &[u8])> {
    der_any(input).filter(|(tag, _, _)| *tag == want)
}

fn der_any(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// A UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) as seconds since the
/// epoch, and what follows it.
fn time_of(input: &[u8]) -> Option<(u64, &[u8])> {
    let (tag, text, rest) = der_any(input)?;
    let text = std::str::from_utf8(text).ok()?;
    let full = match tag {
        0x17 => {
            let yy: u32 = text.get(..2)?.parse().ok()?;
            let century = if yy >= 50 { "19" } else { "20" };
            format!("{century}{text}")
        }
        0x18 => text.to_string(),
        _ => return None,
    };
    let digits = full.strip_suffix('Z')?;
    if digits.len() != 14 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &digits[..4],
        &digits[4..6],
        &digits[6..8],
        &digits[8..10],
        &digits[10..12],
        &digits[12..14]
    );
    let ts: jiff::Timestamp = rfc3339.parse().ok()?;
    Some((u64::try_from(ts.as_second()).ok()?, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_ca(constraints: Option<&[String]>) -> (tempfile::TempDir, Ca) {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::in_dir(dir.path().join("hush"));
        init(&paths, constraints, false).unwrap();
        let ca = Ca::load(&paths).unwrap().unwrap();
        (dir, ca)
    }

    #[test]
    fn reads_back_the_facts_of_a_ca_it_made() {
        let (_dir, ca) = temp_ca(Some(&["example.com".into()]));
        let now = unix_now();
        assert!(ca.not_before <= now && now < ca.not_after);
        assert!(ca.not_after - now > 4 * 365 * 24 * 3600);
    }

    #[test]
    fn the_constraints_name_the_hosts_in_scope_and_nothing_wider() {
        let config = Config::parse(
            "[proxy]\nintercept = [\"*.corp-analytics.example\"]\n",
            Path::new("t.toml"),
        )
        .unwrap();
        let domains = scope_domains(&config);
        assert!(domains.contains(&"corp-analytics.example".to_string()));
        assert!(
            domains.contains(&"api.segment.io".to_string()),
            "{domains:?}"
        );
        // Telemetry hosts under big shared domains do not widen the CA to the whole domain.
        for wide in [
            "github.com",
            "amazonaws.com",
            "azure.com",
            "cloudflare.com",
            "google.com",
        ] {
            assert!(
                !domains.contains(&wide.to_string()),
                "{wide} in {domains:?}"
            );
        }
        // Each name is a host (or glob suffix) of the list, and none lies under another.
        for d in &domains {
            assert!(
                !domains.iter().any(|p| d.ends_with(&format!(".{p}"))),
                "{d}"
            );
        }
    }

    #[test]
    fn name_constraints_decide_what_can_be_intercepted() {
        let (_dir, ca) = temp_ca(Some(&["example.com".into(), "localhost".into()]));
        assert!(ca.leaf("api.example.com").is_ok());
        assert!(ca.leaf("example.com").is_ok());
        assert!(ca.leaf("localhost").is_ok());
        assert!(ca.leaf("example.org").is_err());
        assert!(ca.leaf("notexample.com").is_err());
        assert!(ca.leaf("127.0.0.1").is_err(), "addresses are excluded");
        let (_dir, open) = temp_ca(None);
        assert!(open.leaf("example.org").is_ok());
        assert!(open.leaf("127.0.0.1").is_ok());
    }

    #[test]
    fn leaf_cache_is_bounded_and_evicts_the_oldest() {
        let (_dir, ca) = temp_ca(None);
        let first = ca.leaf("h0.example").unwrap();
        assert!(
            Arc::ptr_eq(&first, &ca.leaf("h0.example").unwrap()),
            "cached"
        );
        let mut cache = LeafCache::new(3);
        for i in 0..5 {
            cache.insert(&format!("h{i}"), Err("x".into()));
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.get("h0").is_none() && cache.get("h1").is_none());
        assert!(cache.get("h4").is_some());
        for i in 0..LEAF_CACHE + 5 {
            let _ = ca.leaf(&format!("h{i}.example"));
        }
        assert_eq!(ca.cached(), LEAF_CACHE);
    }

    #[test]
    fn files_and_modes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::in_dir(dir.path().join("data/hush"));
        init(&paths, None, false).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&paths.dir), 0o700);
        assert_eq!(mode(&paths.key), 0o600);
        assert_eq!(mode(&paths.cert), 0o644);
        assert!(matches!(init(&paths, None, false), Err(CaError::Exists(_))));
        init(&paths, None, true).unwrap();
        std::fs::set_permissions(&paths.key, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(Ca::load(&paths), Err(CaError::KeyMode(_))));
        assert!(uninstall(&paths).unwrap().contains("ca-key.pem"));
        assert!(uninstall(&paths).unwrap().contains("nothing to remove"));
        assert!(Ca::load(&paths).unwrap().is_none());
    }

    #[test]
    fn data_dir_follows_xdg() {
        let get = |xdg: Option<&str>| {
            let xdg = xdg.map(OsString::from);
            Paths::from_lookup(move |k| match k {
                "XDG_DATA_HOME" => xdg.clone(),
                "HOME" => Some("/home/u".into()),
                _ => None,
            })
            .unwrap()
            .cert
        };
        assert_eq!(get(Some("/x")), PathBuf::from("/x/hush/ca.pem"));
        assert_eq!(get(None), PathBuf::from("/home/u/.local/share/hush/ca.pem"));
        assert_eq!(
            get(Some("rel")),
            PathBuf::from("/home/u/.local/share/hush/ca.pem")
        );
    }
}
