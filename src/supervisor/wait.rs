//! Waiting for a cell: its exit, its TTL, or a signal to the supervisor,
//! whichever comes first (`crate::runtime::wait` does the waiting), and the teardown
//! that follows the last two.

use super::backend::CellBackend;
use crate::runtime::wait::{Child, Event, Exit, Signals};
use nix::sys::signal::Signal;
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
pub fn block_signals() -> Signals {
    Signals::block(&[
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ])
}

/// SIGTERM to every process, a short grace, then SIGKILL to whatever is
/// left, and reap the init: no process of the cell survives.
fn teardown(init: &Child, backend: &dyn CellBackend, id: &str) {
    backend.kill_all(id, libc::SIGTERM);
    init.wait_for(GRACE);
    backend.kill_all(id, libc::SIGKILL);
    // A runtime with no cgroup to kill through (rootless: runc refuses
    // `kill --all` then) leaves this to the init: SIGKILL to it takes its
    // pid namespace along. The pidfd pins the process we started.
    init.signal(Signal::SIGKILL);
    init.wait_for(Duration::from_secs(30));
}

pub fn wait_cell(
    pid: i32,
    ttl: Option<Duration>,
    signals: &Signals,
    backend: &dyn CellBackend,
    id: &str,
    own_pid_ns: bool,
) -> Outcome {
    let deadline = ttl.map(|t| Instant::now() + t);
    let init = Child::new(pid);
    match init.wait(Some(signals), deadline) {
        Event::Exited(exit) => {
            // Whatever the init left behind goes too. With a pid namespace
            // the kernel already killed it all when the init exited, and
            // the sweep (a freezer round trip on cgroup v1) is pure cost.
            if !own_pid_ns {
                backend.kill_all(id, libc::SIGKILL);
            }
            match exit {
                Exit::Code(code) => Outcome::Exited(code),
                Exit::Signal(sig) => Outcome::Signaled(sig),
            }
        }
        Event::Timeout => {
            teardown(&init, backend, id);
            Outcome::TtlExpired
        }
        Event::Signal(sig) => {
            teardown(&init, backend, id);
            Outcome::Interrupted(sig as i32)
        }
    }
}
