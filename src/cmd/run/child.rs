//! Running the command as a shell would: its exit status becomes ours (128+N for signal N), a
//! command that cannot be started is exit 127 (not found) or 126 (not executable), and the
//! signals a supervisor sends to hush reach the command.
//!
//! Forwarding: SIGINT, SIGTERM, SIGHUP and SIGQUIT are blocked in every thread of hush (before
//! any other thread exists) and taken by one thread with `sigtimedwait`, which also says who sent
//! each. One sent by a process (`kill`, a supervisor) is passed on to the child. One the kernel
//! generated for the terminal's foreground process group (Ctrl-C, a hang-up) is not: the child is
//! in that group too and has had its own copy; passing it on would deliver it twice.

use std::ffi::OsStr;
use std::io;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// The signals passed on to the child.
pub const FORWARDED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

fn forwarded_set() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset only write the set we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in FORWARDED {
            libc::sigaddset(&mut set, sig);
        }
        set
    }
}

/// Blocks the forwarded signals in the calling thread, and so in every thread started after it.
/// Call it first, before any runtime starts. A child inherits the mask across exec: every
/// command is spawned through [`unblock_in_child`] so that it does not.
pub fn block_signals() -> io::Result<()> {
    let set = forwarded_set();
    // SAFETY: the set is initialised; the old mask is not asked for.
    match unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) } {
        0 => Ok(()),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// Makes `cmd` start with the forwarded signals unblocked (a mask survives exec, and a command
/// that cannot receive SIGTERM would ignore the very signals hush forwards).
pub fn unblock_in_child(cmd: &mut Command) {
    let set = forwarded_set();
    // SAFETY: pthread_sigmask is async-signal-safe and the set was built before the fork.
    unsafe {
        cmd.pre_exec(move || {
            match libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) {
                0 => Ok(()),
                e => Err(io::Error::from_raw_os_error(e)),
            }
        });
    }
}

/// The thread that passes signals on to the child, once there is one.
pub struct Forwarder {
    target: Arc<Mutex<Target>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Where signals go. One that arrives before the child exists is kept and delivered when it
/// does: a supervisor that sends SIGTERM at once must not have it swallowed.
#[derive(Default)]
struct Target {
    pid: i32,
    pending: Option<libc::c_int>,
}

impl Target {
    fn deliver(&mut self, sig: libc::c_int) {
        if self.pid > 0 {
            // SAFETY: kill only sends a signal; the pid is our own child, not yet reaped.
            unsafe {
                libc::kill(self.pid, sig);
            }
        } else {
            self.pending = Some(sig);
        }
    }
}

impl Forwarder {
    /// Starts taking the forwarded signals (blocked by [`block_signals`]).
    pub fn start() -> Forwarder {
        let target = Arc::new(Mutex::new(Target::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (t, s) = (target.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("hush-signals".into())
            .spawn(move || forward_loop(&t, &s))
            .ok();
        Forwarder {
            target,
            stop,
            thread,
        }
    }

    /// Signals from now on go to `pid` (and one that came first is delivered now).
    pub fn set_child(&self, pid: u32) {
        let mut target = self.target.lock().unwrap_or_else(|e| e.into_inner());
        target.pid = i32::try_from(pid).unwrap_or(0);
        if let Some(sig) = target.pending.take() {
            target.deliver(sig);
        }
    }

    /// Stops forwarding (the child is gone: its pid may be reused).
    pub fn stop(mut self) {
        self.target.lock().unwrap_or_else(|e| e.into_inner()).pid = 0;
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Waits for signals in slices of 50 ms, so that `stop` is seen promptly.
fn forward_loop(target: &Mutex<Target>, stop: &AtomicBool) {
    let set = forwarded_set();
    while !stop.load(Ordering::SeqCst) {
        if let Some((sig, true)) = wait_signal(&set) {
            target
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .deliver(sig);
        }
    }
}

/// The next forwarded signal and whether a process sent it (rather than the kernel, e.g. for
/// the terminal); `None` on timeout.
#[cfg(target_os = "linux")]
fn wait_signal(set: &libc::sigset_t) -> Option<(libc::c_int, bool)> {
    let timeout = libc::timespec {
        tv_sec: 0,
        tv_nsec: 50_000_000,
    };
    // SAFETY: both out-parameters are valid for writing; the set is initialised.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let sig = libc::sigtimedwait(set, &mut info, &timeout);
        // SI_USER (kill), SI_QUEUE, SI_TKILL are <= 0; kernel-generated codes are positive.
        (sig > 0).then_some((sig, info.si_code <= 0))
    }
}

/// Without `sigtimedwait` (macOS), poll the pending set and take what is there with `sigwait`;
/// the sender is unknown, so every signal is passed on.
#[cfg(not(target_os = "linux"))]
fn wait_signal(set: &libc::sigset_t) -> Option<(libc::c_int, bool)> {
    // SAFETY: the sets are initialised and ours.
    unsafe {
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigpending(&mut pending);
        let any = FORWARDED
            .iter()
            .any(|&s| libc::sigismember(&pending, s) == 1);
        if !any {
            std::thread::sleep(std::time::Duration::from_millis(50));
            return None;
        }
        let mut sig = 0;
        (libc::sigwait(set, &mut sig) == 0).then_some((sig, true))
    }
}

/// Why a command did not start, as a shell reports it.
#[derive(Debug)]
pub struct NotStarted {
    pub message: String,
    pub code: u8,
}

/// Spawns `cmd` (named `program` in errors).
pub fn spawn(cmd: &mut Command, program: &OsStr) -> Result<Child, NotStarted> {
    unblock_in_child(cmd);
    cmd.spawn().map_err(|e| {
        let name = program.to_string_lossy();
        let (what, code) = match e.kind() {
            io::ErrorKind::NotFound => ("command not found".to_string(), 127),
            io::ErrorKind::PermissionDenied => ("permission denied".to_string(), 126),
            _ if e.raw_os_error() == Some(libc::ENOEXEC) => ("not an executable".to_string(), 126),
            _ => (e.to_string(), 126),
        };
        NotStarted {
            message: format!("cannot run '{name}': {what}"),
            code,
        }
    })
}

/// Waits for the child, forwarding signals to it meanwhile.
pub fn wait(mut child: Child, forwarder: &Forwarder) -> io::Result<ExitStatus> {
    forwarder.set_child(child.id());
    child.wait()
}

/// The status as a shell gives it: the exit code, or 128+N for death by signal N.
pub fn exit_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code & 0xff).unwrap_or(1),
        (None, Some(sig)) => u8::try_from(128 + (sig & 0x7f)).unwrap_or(255),
        (None, None) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_as_in_a_shell() {
        assert_eq!(exit_code(ExitStatus::from_raw(0)), 0);
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(ExitStatus::from_raw(libc::SIGTERM)), 143);
        assert_eq!(exit_code(ExitStatus::from_raw(libc::SIGKILL)), 137);
    }

    #[test]
    fn missing_and_unexecutable_commands() {
        let missing = OsStr::new("/nonexistent/hush-no-such-command");
        let err = spawn(&mut Command::new(missing), missing).unwrap_err();
        assert_eq!(err.code, 127);
        assert!(err.message.contains("command not found"), "{}", err.message);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain.txt");
        std::fs::write(&file, "not a program").unwrap();
        let err = spawn(&mut Command::new(&file), file.as_os_str()).unwrap_err();
        assert_eq!(err.code, 126, "{}", err.message);
    }
}
