//! Waiting for a cell: its exit, its TTL, or a signal to the supervisor,
//! whichever comes first. One poll over a pidfd and a signalfd, so nothing is
//! missed and no time is spent polling.

use super::backend::CellBackend;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// Time between SIGTERM and SIGKILL when a cell is torn down.
pub const GRACE: Duration = Duration::from_secs(2);

pub enum Outcome {
    Exited(i32),
    Signaled(i32),
    TtlExpired,
    Interrupted(i32),
}

/// Block the signals that mean "tear the cell down"; read later from a signalfd.
pub fn block_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        set.add(s);
    }
    let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
    set
}

fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open returns a new fd we take ownership of, or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Reap `pid` if it has exited; None while it runs.
fn try_reap(pid: i32) -> Option<Outcome> {
    match waitpid(
        Pid::from_raw(pid),
        Some(nix::sys::wait::WaitPidFlag::WNOHANG),
    ) {
        Ok(WaitStatus::Exited(_, code)) => Some(Outcome::Exited(code)),
        Ok(WaitStatus::Signaled(_, sig, _)) => Some(Outcome::Signaled(sig as i32)),
        Ok(_) => None,
        // Not our child (should not happen) or already reaped: treat as gone.
        Err(_) => Some(Outcome::Exited(255)),
    }
}

/// Wait until `pid` exits or `limit` passes; true if it exited.
fn wait_exit(pid: i32, pidfd: Option<&OwnedFd>, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if try_reap(pid).is_some() {
            return true;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        match pidfd {
            Some(fd) => {
                let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
                let ms = left.as_millis().min(i32::MAX as u128) as i32;
                let _ = poll(
                    &mut fds,
                    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
                );
            }
            None => std::thread::sleep(Duration::from_millis(10).min(left)),
        }
    }
}

/// SIGTERM to every process, a short grace, then SIGKILL to whatever is
/// left, and reap the init: no process of the cell survives.
fn teardown(pid: i32, pidfd: Option<&OwnedFd>, backend: &dyn CellBackend, id: &str) {
    backend.kill_all(id, libc::SIGTERM);
    wait_exit(pid, pidfd, GRACE);
    backend.kill_all(id, libc::SIGKILL);
    // A runtime with no cgroup to kill through (rootless: runc refuses
    // `kill --all` then) leaves this to the init: SIGKILL to it takes its
    // pid namespace along. The pidfd pins the process we started.
    if let Some(fd) = pidfd {
        use std::os::fd::AsRawFd;
        // SAFETY: pidfd_send_signal on our pidfd; no siginfo.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd.as_raw_fd(),
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
    }
    wait_exit(pid, pidfd, Duration::from_secs(30));
}

pub fn wait_cell(
    pid: i32,
    ttl: Option<Duration>,
    mask: &SigSet,
    backend: &dyn CellBackend,
    id: &str,
) -> Outcome {
    let deadline = ttl.map(|t| Instant::now() + t);
    let pidfd = pidfd_open(pid);
    let sfd = SignalFd::with_flags(mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).ok();
    loop {
        if let Some(out) = try_reap(pid) {
            // Whatever the init left behind (no pid namespace) goes too.
            backend.kill_all(id, libc::SIGKILL);
            return out;
        }
        let timeout = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    teardown(pid, pidfd.as_ref(), backend, id);
                    return Outcome::TtlExpired;
                }
                PollTimeout::try_from(left.as_millis().clamp(1, i32::MAX as u128) as i32)
                    .unwrap_or(PollTimeout::MAX)
            }
            None => PollTimeout::NONE,
        };
        let mut fds = Vec::new();
        if let Some(p) = &pidfd {
            fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN));
        }
        if let Some(s) = &sfd {
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
        }
        let timeout = if pidfd.is_none() {
            PollTimeout::from(10u8)
        } else {
            timeout
        };
        let _ = poll(&mut fds, timeout);
        if let Some(s) = &sfd
            && let Ok(Some(info)) = s.read_signal()
        {
            teardown(pid, pidfd.as_ref(), backend, id);
            return Outcome::Interrupted(info.ssi_signo as i32);
        }
    }
}
