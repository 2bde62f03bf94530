//! Waiting for a foreground process while passing our signals on to it.
//!
//! The signals are blocked *before* the container is created, and we wait on
//! the pid itself rather than on SIGCHLD, so a process that exits at once
//! cannot be missed (youki 0.7 hangs on that race). The container's process
//! inherits the blocked mask; our executor clears it before exec.

use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

/// Signals a terminal or supervisor may send that belong to the container.
const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
    Signal::SIGWINCH,
    Signal::SIGCONT,
];

/// Block the forwarded signals in this thread (and so in every thread and
/// child created after it). Call before creating the container.
pub fn block() -> SigSet {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(*s);
    }
    let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
    set
}

/// Forward blocked signals to `pid` from a helper thread, wait for `pid`,
/// and return its status the shell way (code, or 128+signal).
pub fn wait_forwarding(pid: i32, set: SigSet) -> i32 {
    let target = Pid::from_raw(pid);
    std::thread::spawn(move || {
        loop {
            if let Ok(sig) = set.wait() {
                let _ = kill(target, sig);
            }
        }
    });
    wait_status(target)
}

/// Block until `pid` exits; EINTR is retried.
pub fn wait_status(pid: Pid) -> i32 {
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) | Err(nix::Error::EINTR) => continue,
            Err(_) => return 255,
        }
    }
}
