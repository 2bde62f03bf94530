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
//! makes raw syscalls on memory prepared before the fork. It is reaped by
//! whoever reaps us (our exit reparents it), or by the kernel at once when
//! SIGCHLD is ignored; it never touches the container.

use std::ffi::CString;

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

/// Begin the wait in the background. Best effort: without write access to
/// our own cgroup (rootless) nothing happens.
pub fn start() {
    // The image before our sealing re-exec already did it.
    if crate::seal::reexecuted() {
        return;
    }
    let Some(path) = own_cgroup_procs() else {
        return;
    };
    // SAFETY: the child only calls async-signal-safe syscalls on `path`,
    // prepared before the fork, then _exit.
    unsafe {
        if libc::fork() == 0 {
            let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd >= 0 {
                libc::write(fd, c"0".as_ptr().cast(), 1);
            }
            libc::_exit(0);
        }
    }
}
