use std::fs;
use std::path::Path;

use nix::unistd::Pid;

use crate::common::{self, CGROUP_PROCS, ControllerOpt, WrapIoResult, WrappedIoError};

pub(super) trait Controller {
    type Error: From<WrappedIoError>;
    type Resource;

    /// Adds a new task specified by its pid to the cgroup
    fn add_task(pid: Pid, cgroup_path: &Path) -> Result<(), Self::Error> {
        fs::create_dir_all(cgroup_path).wrap_create_dir(cgroup_path)?;
        join(pid, cgroup_path)?;
        Ok(())
    }

    /// Applies resource restrictions to the cgroup
    fn apply(controller_opt: &ControllerOpt, cgroup_root: &Path) -> Result<(), Self::Error>;

    /// Checks if the controller needs to handle this request
    fn needs_to_handle<'a>(controller_opt: &'a ControllerOpt) -> Option<&'a Self::Resource>;
}

/// Move `pid` into the v1 cgroup at `cgroup_path`.
///
/// A write to `cgroup.procs`, or of any non-zero pid to `tasks`, takes the
/// kernel's global threadgroup lock for writing, which waits for an RCU
/// grace period whenever the lock is in its fast mode (the usual case after
/// a quiet spell: 6-17 ms measured on 6.x kernels). Writing "0" to `tasks`
/// moves only the calling thread and skips that lock. For the caller itself
/// with a single thread (libcontainer's intermediate process joining its
/// container's cgroups) that is the same move, so it is done that way.
pub(super) fn join(pid: Pid, cgroup_path: &Path) -> Result<(), WrappedIoError> {
    if pid == nix::unistd::getpid() && single_threaded() {
        return common::write_cgroup_file(cgroup_path.join("tasks"), 0);
    }
    common::write_cgroup_file(cgroup_path.join(CGROUP_PROCS), pid)
}

/// Whether this process has exactly one thread (only it can make another,
/// so the answer holds until it does).
fn single_threaded() -> bool {
    fs::read_dir("/proc/self/task").is_ok_and(|d| d.take(2).count() == 1)
}
