//! Named pause points for the crash tests (tests/runtime_crash.rs).
//!
//! With `CELLOS_TEST_PAUSE_AT=<point>` the runtime stops itself with
//! SIGSTOP when it reaches that point, after writing its pid to
//! `CELLOS_TEST_PAUSE_FILE` (or stderr). A test then SIGKILLs it there, the
//! worst moment a shim can die, and checks that `delete --force` still
//! cleans everything. The environment is read once; an unset variable
//! costs one comparison per point.

use std::sync::OnceLock;

/// After the ID is claimed and locked (@bundles/<id> exists).
pub const CREATE_CLAIMED: &str = "create-claimed";
/// After the bundle was prepared (our config copy, origin.json, staging mounts).
pub const CREATE_PREPARED: &str = "create-prepared";
/// Right after libcontainer built the container: state dir, cgroups and
/// an init waiting for `start` exist. (Inside the build is not ours to stop.)
pub const CREATE_BUILT: &str = "create-built";
/// After origin.json is complete, before the pid file is written.
pub const CREATE_BEFORE_PID_FILE: &str = "create-before-pid-file";
/// `start` holds the lock and is about to start the init.
pub const START_LOCKED: &str = "start-locked";
/// `delete --force` killed the processes, the cgroups are still there.
pub const DELETE_KILLED: &str = "delete-killed";
/// The cgroups are removed, the state dir and scratch dir are not.
pub const DELETE_CGROUPS_REMOVED: &str = "delete-cgroups-removed";
/// `exec` holds the lock and wrote its process file; nothing forked yet.
pub const EXEC_BEFORE_BUILD: &str = "exec-before-build";
/// The exec'd process exists; the pid file is not written yet.
pub const EXEC_BUILT: &str = "exec-built";

pub const ALL: &[&str] = &[
    CREATE_CLAIMED,
    CREATE_PREPARED,
    CREATE_BUILT,
    CREATE_BEFORE_PID_FILE,
    START_LOCKED,
    DELETE_KILLED,
    DELETE_CGROUPS_REMOVED,
    EXEC_BEFORE_BUILD,
    EXEC_BUILT,
];

struct Armed {
    point: String,
    file: Option<std::path::PathBuf>,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let point = std::env::var("CELLOS_TEST_PAUSE_AT").ok()?;
            let file = std::env::var_os("CELLOS_TEST_PAUSE_FILE").map(Into::into);
            Some(Armed { point, file })
        })
        .as_ref()
}

/// Stop here (SIGSTOP) if the tests asked for this point.
pub fn pause_at(point: &str) {
    let Some(a) = armed() else { return };
    if a.point != point {
        return;
    }
    let pid = std::process::id();
    match &a.file {
        Some(f) => {
            // Written whole and renamed, so a polling test never reads half a pid.
            let tmp = f.with_extension("tmp");
            if std::fs::write(&tmp, pid.to_string()).is_ok() {
                let _ = std::fs::rename(&tmp, f);
            }
        }
        None => eprintln!("cellos-runtime: paused at {point}: pid {pid}"),
    }
    // SAFETY: raise(3) with a constant signal.
    unsafe { libc::raise(libc::SIGSTOP) };
}
