//! Start the kernel's cgroup-attach wait early.
//!
//! The first write to any `cgroup.procs` after a quiet spell blocks for an
//! RCU grace period (6-17 ms) while the kernel switches its global
//! threadgroup lock to the slow path; writes that follow within a short
//! window share that wait. libcontainer's write comes late in `create`, so
//! we make a no-op write of our own (moving a short-lived child into the
//! cgroup it is already in) first thing, and the wait overlaps our own work
//! (the sealing re-exec, config load, clone) instead of adding to it.
//!
//! A forked child rather than a thread: it survives our re-exec, and it only
//! makes raw syscalls on memory prepared before the fork. It never touches
//! the container. We reap it ourselves when we exit (an atexit handler; the
//! sealing re-exec learns its pid from `PID_VAR`): a child left to our
//! caller's subreaper would linger there as a zombie.

use std::ffi::CString;
use std::sync::atomic::{AtomicI32, Ordering};

/// `<our pid>:<warm-up child's pid>`, for the image we re-exec into. Our
/// pid in it tells our own value from one inherited from a parent.
const PID_VAR: &str = "_CELLOS_WARMUP_PID";

/// The warm-up child to reap at exit (0: none), and the process that is
/// its parent (processes forked from us run the atexit handler too).
static CHILD: AtomicI32 = AtomicI32::new(0);
static PARENT: AtomicI32 = AtomicI32::new(0);

extern "C" fn reap_at_exit() {
    let pid = CHILD.swap(0, Ordering::SeqCst);
    // SAFETY: getpid has no preconditions.
    if pid <= 0 || PARENT.load(Ordering::SeqCst) != unsafe { libc::getpid() } {
        return;
    }
    let mut status = 0;
    // SAFETY: `pid` is our own unreaped child, so it cannot have been reused.
    // A child the scheduler has not run yet would otherwise make us wait a
    // whole grace period for a write nobody needs any more; one already in
    // its write finishes it first (the kill waits like waitpid would).
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, &mut status, 0)
    };
}

/// Sealed without a re-exec (`seal::in_place`): the hand-off variable would
/// only be inherited by whatever we start. Called while single-threaded.
pub fn forget_reexec_handoff() {
    // SAFETY: single-threaded (sealing happens before any thread starts).
    unsafe { std::env::remove_var(PID_VAR) };
}

/// Remember `pid` to be reaped when we exit.
fn reap_later(pid: i32) {
    // SAFETY: getpid has no preconditions.
    PARENT.store(unsafe { libc::getpid() }, Ordering::SeqCst);
    CHILD.store(pid, Ordering::SeqCst);
    // SAFETY: registers a plain extern "C" function.
    unsafe { libc::atexit(reap_at_exit) };
}

/// Our own `cgroup.procs` in some mounted hierarchy (v2, hybrid or v1).
fn own_cgroup_procs() -> Option<CString> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let bases: Vec<String> = if controllers.is_empty() {
            vec!["/sys/fs/cgroup/unified".into(), "/sys/fs/cgroup".into()]
        } else if let Some(name) = controllers.strip_prefix("name=") {
            vec![format!("/sys/fs/cgroup/{name}")]
        } else {
            vec![format!("/sys/fs/cgroup/{controllers}")]
        };
        for base in bases {
            let procs = format!("{base}{path}/cgroup.procs");
            if std::path::Path::new(&procs).exists() {
                return CString::new(procs).ok();
            }
        }
    }
    None
}

/// The verbs that join a cgroup: create, run (foreground, detached or a
/// cell) and exec.
const JOINING_VERBS: &[&str] = &["create", "run", "exec"];

/// Global flags that take a value in the next argument.
const VALUE_FLAGS: &[&str] = &["--root", "--log", "--log-format"];

/// The subcommand of a cellos-runtime command line, found without clap: the
/// first argument that is neither a global flag nor a flag's value. Clap
/// still parses (and judges) the whole line afterwards; this only decides
/// whether the warm-up is worth starting before it.
pub fn verb(args: &[String]) -> Option<&str> {
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        if VALUE_FLAGS.contains(&a.as_str()) {
            it.next();
        } else if !a.starts_with('-') {
            return Some(a);
        }
    }
    None
}

/// `start()` as the very first thing in cellos-runtime's main, for the verbs
/// that will join a cgroup: the earlier the wait begins, the earlier it ends.
pub fn start_for(args: &[String]) {
    if joins_cgroup(args) {
        start();
    }
}

/// Whether the command line is one of the verbs that join a cgroup (and so
/// put a process into a container).
pub fn joins_cgroup(args: &[String]) -> bool {
    verb(args).is_some_and(|v| JOINING_VERBS.contains(&v))
}

/// Whether the warm-up pays here. On a cgroup v1 (or hybrid) host the
/// container's join is a write of "0" to each `tasks` file (vendored
/// libcgroups, patch 1), which takes no grace period at all: there is
/// nothing to start early, and the warm-up's fork and its own wait only cost
/// (measured in README, Benchmarks). On a cgroup v2 host the join is still a
/// `cgroup.procs` write. `CELLOS_WARMUP=0|1` forces it off or on, for
/// measuring it (bench/perf-ab.py).
fn wanted() -> bool {
    match std::env::var("CELLOS_WARMUP").as_deref() {
        Ok("0") => false,
        Ok("1") => true,
        _ => std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists(),
    }
}

/// Begin the wait in the background. Best effort: without write access to
/// our own cgroup (rootless) nothing happens. Called while we have a single
/// thread (first thing in main), which makes the environment edits sound.
pub fn start() {
    let inherited = std::env::var(PID_VAR).ok();
    // SAFETY: single-threaded at this point (see above).
    unsafe { std::env::remove_var(PID_VAR) };
    // The image before our sealing re-exec already did it; its child is ours.
    if crate::runtime::seal::reexecuted() {
        let me = std::process::id().to_string();
        if let Some((parent, child)) = inherited.as_deref().and_then(|v| v.split_once(':'))
            && parent == me
            && let Ok(child) = child.parse()
        {
            reap_later(child);
        }
        return;
    }
    if !wanted() {
        return;
    }
    let Some(path) = own_cgroup_procs() else {
        return;
    };
    // SAFETY: the child only calls async-signal-safe syscalls on `path`,
    // prepared before the fork, then _exit.
    let child = unsafe {
        let child = libc::fork();
        if child == 0 {
            let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd >= 0 {
                libc::write(fd, c"0".as_ptr().cast(), 1);
            }
            libc::_exit(0);
        }
        child
    };
    if child > 0 {
        reap_later(child);
        // SAFETY: still single-threaded.
        unsafe { std::env::set_var(PID_VAR, format!("{}:{child}", std::process::id())) };
    }
}

#[cfg(test)]
mod tests {
    use super::verb;

    fn v(line: &str) -> Option<String> {
        let args: Vec<String> = line.split(' ').map(String::from).collect();
        verb(&args).map(String::from)
    }

    #[test]
    fn finds_the_verb_after_global_flags() {
        assert_eq!(v("rt create x").as_deref(), Some("create"));
        assert_eq!(
            v("rt --root /r --log /l --log-format json run -d x").as_deref(),
            Some("run")
        );
        assert_eq!(
            v("rt --root=/r --systemd-cgroup --debug exec x true").as_deref(),
            Some("exec")
        );
        assert_eq!(v("rt --log-format=json state x").as_deref(), Some("state"));
        assert_eq!(v("rt --version"), None);
    }
}
