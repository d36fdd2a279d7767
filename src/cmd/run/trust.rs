//! The CA bundle a child trusts while hush intercepts its HTTPS: the system's roots plus the
//! hush CA, written to the run's own directory (removed on exit) so that nothing outside this
//! one child is changed.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Where distributions keep the system roots as one PEM file (Debian/Ubuntu/Alpine/Arch,
/// Fedora/RHEL, openSUSE, RHEL's extracted form, macOS/BSD).
pub const SYSTEM_BUNDLES: [&str; 5] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The bundle's file name inside the run directory.
pub const BUNDLE_NAME: &str = "ca-bundle.pem";

/// A written bundle.
pub struct Bundle {
    pub path: PathBuf,
    /// The file the system roots came from; `None` when none was found (the bundle then holds
    /// the hush CA alone, and hosts hush tunnels cannot be verified by the child).
    pub system: Option<PathBuf>,
}

/// Writes `dir/ca-bundle.pem` (mode 0644): the first system bundle found, the root files the
/// user had already pointed the bundle variables at (each once, in order), then the hush CA.
pub fn write_bundle(dir: &Path, hush_ca: &Path, user_roots: &[PathBuf]) -> std::io::Result<Bundle> {
    let system = SYSTEM_BUNDLES
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .map(Path::to_path_buf);
    let mut text = Vec::new();
    let mut sources: Vec<&Path> = system.iter().map(PathBuf::as_path).collect();
    for user in user_roots {
        if !sources.contains(&user.as_path()) && user != hush_ca {
            sources.push(user);
        }
    }
    for source in sources {
        // A root file we cannot read is left out, not fatal: the child still gets the hush CA.
        if let Ok(pem) = std::fs::read(source) {
            append_pem(&mut text, &pem);
        }
    }
    let ca = std::fs::read(hush_ca)?;
    append_pem(&mut text, &ca);
    let path = dir.join(BUNDLE_NAME);
    write_public(&path, &text)?;
    Ok(Bundle { path, system })
}

/// The file name of the `NODE_EXTRA_CA_CERTS` file when the user had one of their own.
pub const NODE_EXTRA_NAME: &str = "node-extra-ca.pem";

/// Writes `dir/node-extra-ca.pem` (mode 0644): the user's `NODE_EXTRA_CA_CERTS` file, then the
/// hush CA, so that pointing Node at the hush CA does not drop the CAs the user had added.
pub fn write_node_extra(dir: &Path, hush_ca: &Path, user: &Path) -> std::io::Result<PathBuf> {
    let mut text = std::fs::read(user)?;
    if !text.ends_with(b"\n") {
        text.push(b'\n');
    }
    append_pem(&mut text, &std::fs::read(hush_ca)?);
    let path = dir.join(NODE_EXTRA_NAME);
    write_public(&path, &text)?;
    Ok(path)
}

/// Creates `path` (which must not exist) holding `text`, mode 0644 whatever the umask: it
/// holds only public certificates, for whichever runtime reads it.
fn write_public(path: &Path, text: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)?;
    file.write_all(text)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
}

/// Appends one PEM file, making sure it ends a line so the next block starts cleanly.
fn append_pem(out: &mut Vec<u8>, pem: &[u8]) {
    out.extend_from_slice(pem);
    if !pem.ends_with(b"\n") {
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_ends_with_the_hush_ca_and_is_world_readable() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(
            &ca,
            "-----BEGIN CERTIFICATE-----\nHUSH\n-----END CERTIFICATE-----",
        )
        .unwrap();
        let user = dir.path().join("user.pem");
        std::fs::write(
            &user,
            "-----BEGIN CERTIFICATE-----\nUSER\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let run = dir.path().join("run");
        std::fs::create_dir(&run).unwrap();
        let twice = [user.clone(), user.clone(), ca.clone()];
        let bundle = write_bundle(&run, &ca, &twice).unwrap();
        let text = std::fs::read_to_string(&bundle.path).unwrap();
        assert!(
            text.ends_with("HUSH\n-----END CERTIFICATE-----\n"),
            "{text}"
        );
        assert!(text.contains("USER\n-----END CERTIFICATE-----\n-----BEGIN"));
        assert_eq!(text.matches("USER").count(), 1, "{text}");
        assert_eq!(text.matches("HUSH").count(), 1, "{text}");
        let mode = std::fs::metadata(&bundle.path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
        let node = write_node_extra(&run, &ca, &user).unwrap();
        let node_text = std::fs::read_to_string(&node).unwrap();
        assert!(
            node_text.starts_with("-----BEGIN CERTIFICATE-----\nUSER\n"),
            "{node_text}"
        );
        assert!(
            node_text.ends_with("HUSH\n-----END CERTIFICATE-----\n"),
            "{node_text}"
        );
        if let Some(system) = &bundle.system {
            let roots = std::fs::read_to_string(system).unwrap();
            assert!(text.starts_with(roots.trim_end()));
        }
    }
}
