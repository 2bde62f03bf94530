//! Waiting for a child process while the signals meant for it (or for us)
//! arrive: one poll over a pidfd and a signalfd, used by `run`, `exec` and
//! the supervisor.
//!
//! The signals are blocked *before* the child is created, so none is lost
//! between fork and wait, and they are read from a signalfd in the waiting
//! thread (no helper thread). The exit is seen on the pidfd of a child we have
//! not reaped yet, and signals go through that pidfd, so a recycled pid can
//! never be signalled. Children inherit the blocked mask: our executor clears
//! it before the container's process execs.

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    /// The status the shell way: the code, or 128+N after signal N.
    pub fn shell_code(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s,
        }
    }
}

/// What ended a wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Exited(Exit),
    Signal(Signal),
    Timeout,
}

/// Signals blocked in this thread (and so in every thread and child created
/// after it) and read from a signalfd. They stay blocked when this is
/// dropped: one that arrives late must not kill us with its default action.
pub struct Signals {
    fd: Option<SignalFd>,
}

impl Signals {
    /// Block `signals`. Call before creating the child.
    pub fn block(signals: &[Signal]) -> Signals {
        let mut set = SigSet::empty();
        for s in signals {
            set.add(*s);
        }
        let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
        // Without a signalfd the signals stay pending; the wait still ends.
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).ok();
        Signals { fd }
    }

    fn read(&self) -> Option<Signal> {
        let info = self.fd.as_ref()?.read_signal().ok()??;
        Signal::try_from(info.ssi_signo as i32).ok()
    }
}

/// A child of ours, not reaped yet.
pub struct Child {
    pid: Pid,
    pidfd: Option<OwnedFd>,
}

fn pidfd_open(pid: Pid) -> Option<OwnedFd> {
    // SAFETY: pidfd_open returns a new fd we take ownership of, or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

impl Child {
    /// `pid` must be our child and not reaped: then the pid cannot be
    /// reused before we wait for it, and the pidfd names this very process.
    /// Kernels before 5.3 have no pidfd; the wait then polls every 10 ms.
    pub fn new(pid: i32) -> Child {
        let pid = Pid::from_raw(pid);
        Child {
            pid,
            pidfd: pidfd_open(pid),
        }
    }

    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// Send `sig` (through the pidfd when there is one).
    pub fn signal(&self, sig: Signal) {
        match &self.pidfd {
            // SAFETY: a valid pidfd, no siginfo, no flags.
            Some(fd) => unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    sig as i32,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                );
            },
            None => {
                let _ = nix::sys::signal::kill(self.pid, sig);
            }
        }
    }

    /// Reap the child if it has exited; None while it runs.
    pub fn try_reap(&self) -> Option<Exit> {
        loop {
            return match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => Some(Exit::Code(code)),
                Ok(WaitStatus::Signaled(_, sig, _)) => Some(Exit::Signal(sig as i32)),
                Ok(_) => None,
                Err(nix::Error::EINTR) => continue,
                // Not our child, or reaped elsewhere: it is gone either way.
                Err(_) => Some(Exit::Code(255)),
            };
        }
    }

    /// Wait until the child exits, one of `signals` arrives, or `deadline`
    /// passes, whichever comes first.
    pub fn wait(&self, signals: Option<&Signals>, deadline: Option<Instant>) -> Event {
        loop {
            // An exit wins over a signal that came with it.
            if let Some(exit) = self.try_reap() {
                return Event::Exited(exit);
            }
            if let Some(sig) = signals.and_then(Signals::read) {
                return Event::Signal(sig);
            }
            let mut timeout = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Event::Timeout;
                    }
                    // Rounded up, so that the deadline has passed on wake-up.
                    let ms = (left.as_micros().div_ceil(1000)).min(i32::MAX as u128) as i32;
                    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
                }
                None => PollTimeout::NONE,
            };
            let mut fds = Vec::with_capacity(2);
            match &self.pidfd {
                Some(p) => fds.push(PollFd::new(p.as_fd(), PollFlags::POLLIN)),
                // No pidfd: look again in 10 ms (NONE sorts below every limit).
                None if timeout.is_none() || timeout > PollTimeout::from(10u8) => {
                    timeout = PollTimeout::from(10u8)
                }
                None => {}
            }
            if let Some(fd) = signals.and_then(|s| s.fd.as_ref()) {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
            }
            let _ = poll(&mut fds, timeout);
        }
    }

    /// Wait up to `limit` for the child to exit; its exit, if it did.
    pub fn wait_for(&self, limit: Duration) -> Option<Exit> {
        match self.wait(None, Some(Instant::now() + limit)) {
            Event::Exited(exit) => Some(exit),
            _ => None,
        }
    }

    /// Pass every one of `signals` on to the child until it exits; its
    /// status the shell way.
    pub fn wait_forwarding(&self, signals: &Signals) -> i32 {
        loop {
            match self.wait(Some(signals), None) {
                Event::Exited(exit) => return exit.shell_code(),
                Event::Signal(sig) => self.signal(sig),
                Event::Timeout => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    fn spawn(script: &str) -> (Child, std::process::Child) {
        let c = Command::new("/bin/sh")
            .args(["-c", script])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn sh");
        (Child::new(c.id() as i32), c)
    }

    #[test]
    fn exit_code_and_signal_the_shell_way() {
        assert_eq!(Exit::Code(3).shell_code(), 3);
        assert_eq!(Exit::Signal(9).shell_code(), 137);
        let (c, _std) = spawn("exit 3");
        assert_eq!(c.wait(None, None), Event::Exited(Exit::Code(3)));
        let (c, _std) = spawn("exec sleep 10");
        c.signal(Signal::SIGKILL);
        assert_eq!(c.wait(None, None), Event::Exited(Exit::Signal(9)));
    }

    #[test]
    fn an_exit_before_the_wait_is_not_missed() {
        let (c, _std) = spawn("true");
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(c.wait_for(Duration::from_secs(10)), Some(Exit::Code(0)));
    }

    /// Kernels without pidfd: the wait looks again every 10 ms.
    #[test]
    fn without_a_pidfd_the_exit_is_still_seen() {
        let (c, _std) = spawn("sleep 0.2; exit 4");
        let c = Child {
            pid: c.pid,
            pidfd: None,
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(c.wait(None, None)));
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)),
            Ok(Event::Exited(Exit::Code(4)))
        );
    }

    #[test]
    fn deadline_ends_the_wait_and_leaves_the_child() {
        let (c, _std) = spawn("exec sleep 10");
        let t = Instant::now();
        assert_eq!(
            c.wait(None, Some(t + Duration::from_millis(50))),
            Event::Timeout
        );
        assert!(t.elapsed() >= Duration::from_millis(50));
        assert_eq!(c.try_reap(), None);
        c.signal(Signal::SIGKILL);
        assert_eq!(c.wait_for(Duration::from_secs(10)), Some(Exit::Signal(9)));
    }

    /// A signal sent to this thread (tests run on threads that do not block
    /// it, so never to the process) reaches the child, whose handler exits 7;
    /// unforwarded, the child gives up after a few seconds with 1.
    #[test]
    fn signals_are_forwarded_and_the_status_returned() {
        // Spawned first: a child would inherit the blocked mask.
        let (c, mut std) = spawn(
            r#"trap "exit 7" USR1; echo ready; i=0; while [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done; exit 1"#,
        );
        let signals = Signals::block(&[Signal::SIGUSR1]);
        let mut line = String::new();
        BufReader::new(std.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "ready\n");
        // SAFETY: signals this very thread.
        assert_eq!(
            unsafe { libc::pthread_kill(libc::pthread_self(), libc::SIGUSR1) },
            0
        );
        assert_eq!(c.wait_forwarding(&signals), 7);
    }
}
