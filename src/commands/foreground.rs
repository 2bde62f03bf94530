//! The signals a foreground `run` or `exec` passes on to the container's
//! process; `crate::runtime::wait` does the waiting and forwarding.

use crate::runtime::wait::Signals;
use nix::sys::signal::Signal;

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

/// Block the forwarded signals. Call before creating the container's
/// process, so that none sent meanwhile is lost (youki 0.7 hangs on a
/// process that exits at once; we wait on its pidfd instead).
pub fn block() -> Signals {
    Signals::block(FORWARDED)
}
