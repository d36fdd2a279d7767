//! `hush run --contain` (Linux): the command runs in a network namespace of its own, whose only
//! interface is a loopback device with one listener on it, a bridge to hush. A client that
//! ignores the proxy variables then has no network at all instead of a direct path out.
//!
//! How: hush re-executes itself as the hidden `hush __contain` after `unshare(2)` (in
//! `pre_exec`, between fork and exec, while the child is still single-threaded): a new network
//! namespace, inside a new user namespace unless hush runs as root. The same hook brings `lo`
//! up (capabilities are only held until exec). The bridge listens on 127.0.0.1 inside, carries
//! each connection over a filesystem Unix socket (those cross network namespaces) to the outer
//! hush, which hands it to its proxy, and runs the command with the proxy variables pointing at
//! the bridge.

use std::ffi::{CString, OsString};
use std::io;
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use tokio::net::{TcpStream, UnixListener, UnixStream};

use super::child::{self, Forwarder};
use super::env::PROXY_VARS;
use super::RunError;

/// Bytes moved per read on each side of a bridged connection: tokio's default of 8 KiB costs
/// four times the wake-ups for a bulk transfer through the two extra hops.
const CHUNK: usize = 64 * 1024;

/// The hidden subcommand that runs inside the namespace.
pub const BRIDGE_COMMAND: &str = "__contain";

/// Arguments of `hush __contain` (not for people: `hush run --contain` passes them).
#[derive(Debug, clap::Args)]
pub struct ContainArgs {
    /// The outer hush's Unix socket, which leads to its proxy.
    #[arg(long)]
    pub socket: PathBuf,
    /// A port the bridge must not take (the outer proxy's: a direct dial to it must fail).
    #[arg(long, default_value_t = 0)]
    pub avoid_port: u16,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<OsString>,
}

/// The bridge process to spawn in place of the command: `hush __contain … -- CMD…`, entering
/// its namespaces before it executes.
pub fn bridge_command(socket: &Path, avoid_port: u16, command: &[OsString]) -> io::Result<Command> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg(BRIDGE_COMMAND)
        .arg("--socket")
        .arg(socket)
        .arg(format!("--avoid-port={avoid_port}"))
        .arg("--")
        .args(command);
    child::unblock_in_child(&mut cmd);
    let plan = NamespacePlan::for_current_user()?;
    // SAFETY: the hook makes only async-signal-safe system calls (unshare, open, write,
    // close, socket, ioctl) on buffers prepared before the fork, and allocates nothing.
    unsafe {
        cmd.pre_exec(move || plan.enter());
    }
    Ok(cmd)
}

/// The explanation for a bridge that could not start (the namespace was refused, mostly).
pub fn explain(error: &io::Error) -> String {
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let fix = if root {
        "this system refuses new network namespaces even to root (a container without \
         CAP_SYS_ADMIN?)"
    } else {
        "unprivileged user namespaces look disabled here (sysctl user.max_user_namespaces, \
         kernel.unprivileged_userns_clone, kernel.apparmor_restrict_unprivileged_userns); \
         allow them or run hush as root"
    };
    format!("--contain: cannot create a network namespace: {error}; {fix}")
}

/// A /proc file and what to write to it.
type ProcWrite = (CString, Vec<u8>);

/// What the `pre_exec` hook does, prepared before the fork.
struct NamespacePlan {
    /// `unshare` flags to try in order (root: a network namespace alone, else inside a user
    /// namespace; everyone else: both at once).
    attempts: Vec<(libc::c_int, Vec<ProcWrite>)>,
}

impl NamespacePlan {
    fn for_current_user() -> io::Result<NamespacePlan> {
        // SAFETY: getuid/getgid/geteuid cannot fail.
        let (uid, gid, euid) = unsafe { (libc::getuid(), libc::getgid(), libc::geteuid()) };
        let path = |p: &str| CString::new(p).map_err(io::Error::other);
        // Map our own ids to themselves: files keep their owners, and no privilege is gained.
        let maps = |inner_uid: u32, inner_gid: u32| -> io::Result<Vec<ProcWrite>> {
            Ok(vec![
                (path("/proc/self/setgroups")?, b"deny".to_vec()),
                (
                    path("/proc/self/uid_map")?,
                    format!("{inner_uid} {uid} 1\n").into_bytes(),
                ),
                (
                    path("/proc/self/gid_map")?,
                    format!("{inner_gid} {gid} 1\n").into_bytes(),
                ),
            ])
        };
        let both = libc::CLONE_NEWUSER | libc::CLONE_NEWNET;
        let attempts = if euid == 0 {
            vec![(libc::CLONE_NEWNET, Vec::new()), (both, maps(0, 0)?)]
        } else {
            vec![(both, maps(uid, gid)?)]
        };
        Ok(NamespacePlan { attempts })
    }

    /// Runs in the child between fork and exec.
    fn enter(&self) -> io::Result<()> {
        let mut last = io::Error::from_raw_os_error(libc::EPERM);
        for (flags, writes) in &self.attempts {
            // SAFETY: unshare takes plain flags.
            if unsafe { libc::unshare(*flags) } != 0 {
                last = io::Error::last_os_error();
                continue;
            }
            for (path, data) in writes {
                write_proc_file(path, data)?;
            }
            return loopback_up();
        }
        Err(last)
    }
}

/// Writes `data` to a /proc file in one `write`, as the kernel requires for id maps.
fn write_proc_file(path: &CString, data: &[u8]) -> io::Result<()> {
    // SAFETY: a NUL-terminated path and a buffer of the given length.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = libc::write(fd, data.as_ptr().cast(), data.len());
        let result = match usize::try_from(n) {
            Ok(n) if n == data.len() => Ok(()),
            _ => Err(io::Error::last_os_error()),
        };
        libc::close(fd);
        result
    }
}

/// `struct ifreq` as far as SIOC[GS]IFFLAGS read it: the name, then the flags (40 bytes in all).
#[repr(C)]
struct IfFlags {
    name: [u8; 16],
    flags: libc::c_short,
    _rest: [u8; 22],
}

/// Brings `lo` up in the current network namespace (a new one starts with it down).
fn loopback_up() -> io::Result<()> {
    let mut req = IfFlags {
        name: [0; 16],
        flags: 0,
        _rest: [0; 22],
    };
    req.name[..2].copy_from_slice(b"lo");
    // SAFETY: a datagram socket for the ioctls and a request struct of the kernel's size.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut result = Ok(());
        if libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut req) < 0 {
            result = Err(io::Error::last_os_error());
        } else {
            req.flags |= libc::IFF_UP as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &req) < 0 {
                result = Err(io::Error::last_os_error());
            }
        }
        libc::close(fd);
        result
    }
}

/// The outer end: every connection on the Unix socket is carried to the proxy on `proxy`.
pub async fn relay(listener: UnixListener, proxy: SocketAddr) {
    loop {
        let Ok((mut unix, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        tokio::spawn(async move {
            if let Ok(mut tcp) = TcpStream::connect(proxy).await {
                let _ = tcp.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional_with_sizes(&mut unix, &mut tcp, CHUNK, CHUNK)
                    .await;
            }
        });
    }
}

/// The inner end, `hush __contain`: listens on loopback inside the namespace, runs the command
/// with the proxy variables pointing there, and exits as the command did.
pub fn bridge(args: &ContainArgs) -> Result<ExitCode, RunError> {
    child::block_signals().map_err(RunError::Signals)?;
    let listener = bind_avoiding(args.avoid_port).map_err(|e| {
        RunError::Contain(format!(
            "--contain: cannot listen on loopback inside the namespace: {e}"
        ))
    })?;
    let port = listener.local_addr().map_err(RunError::Io)?.port();
    let url = format!("http://127.0.0.1:{port}");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(RunError::Io)?;
    let listener = {
        let _entered = runtime.enter();
        listener.set_nonblocking(true).map_err(RunError::Io)?;
        tokio::net::TcpListener::from_std(listener).map_err(RunError::Io)?
    };
    runtime.spawn(carry(listener, args.socket.clone()));
    let forwarder = Forwarder::start();
    let program = &args.command[0];
    let mut cmd = Command::new(program);
    cmd.args(&args.command[1..]);
    for name in PROXY_VARS {
        cmd.env(name, &url);
    }
    let code = match child::spawn(&mut cmd, program) {
        Ok(c) => child::exit_code(child::wait(c, &forwarder).map_err(RunError::Io)?),
        Err(e) => {
            eprintln!("hush: error: {}", e.message);
            e.code
        }
    };
    forwarder.stop();
    runtime.shutdown_timeout(Duration::from_millis(100));
    Ok(ExitCode::from(code))
}

/// An ephemeral loopback port other than `avoid`.
fn bind_avoiding(avoid: u16) -> io::Result<std::net::TcpListener> {
    let mut last = None;
    for _ in 0..4 {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        if listener.local_addr()?.port() != avoid {
            return Ok(listener);
        }
        last = Some(listener);
    }
    drop(last);
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        "no free port besides the proxy's",
    ))
}

/// Carries each connection to the bridge over to the outer hush.
async fn carry(listener: tokio::net::TcpListener, socket: PathBuf) {
    loop {
        let Ok((mut tcp, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let socket = socket.clone();
        tokio::spawn(async move {
            if let Ok(mut unix) = UnixStream::connect(&socket).await {
                let _ = tcp.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional_with_sizes(&mut tcp, &mut unix, CHUNK, CHUNK)
                    .await;
            }
        });
    }
}

/// The socket path as bytes, for the length check (`sun_path` holds 107 bytes and a NUL).
pub fn socket_path_fits(path: &Path) -> bool {
    path.as_os_str().as_bytes().len() < 108
}
