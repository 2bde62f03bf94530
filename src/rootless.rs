//! Containers of a caller without root on the host (an unprivileged user, or
//! root inside a user namespace, as rootless podman runs us).
//!
//! Such a caller can only have a cgroup where one was delegated to it: never
//! on cgroup v1, on v2 below a subtree it owns. Without one the container
//! runs in the caller's own cgroup (a libcontainer patch, see
//! vendor/libcontainer/PATCHES.md; runc and crun do the same), which is fine until the config asks for limits: those are refused
//! here, before anything is made, rather than silently dropped.

use crate::error::{Error, Result};
use oci_spec::runtime::{Linux, LinuxResources};
use std::path::{Path, PathBuf};

/// Whether the caller is not root on the host.
pub fn is_rootless() -> bool {
    !nix::unistd::geteuid().is_root() || libcontainer::utils::is_in_new_userns().unwrap_or(false)
}

/// Refuse a rootless container's limits when it can have no cgroup.
/// `config` names the file in the message. No-op for the systemd driver
/// (the user's systemd decides there).
pub fn check_limits(linux: &Linux, config: &Path, systemd: bool) -> Result<()> {
    if systemd {
        return Ok(());
    }
    let Some(limit) = linux.resources().as_ref().and_then(first_limit) else {
        return Ok(());
    };
    let Some(cgroup) = linux.cgroups_path() else {
        return Ok(());
    };
    match cgroup_dirs(cgroup) {
        Some((dirs, _)) if dirs.iter().all(|d| writable_below(d)) => Ok(()),
        Some((_, kind)) => Err(Error::Unsupported(format!(
            "{}: linux.resources.{limit} needs a cgroup, and uid {} has no delegated {kind} cgroup on this host; drop the limit or run as root",
            config.display(),
            nix::unistd::geteuid()
        ))),
        // A cgroups path we cannot place: let libcgroups report it.
        None => Ok(()),
    }
}

/// The first resource limit in `r`, by its name in the config.
/// `devices` is no limit here: rootless runtimes cannot use the device
/// cgroup and leave access to the user namespace (runc does the same).
pub fn first_limit(r: &LinuxResources) -> Option<&'static str> {
    if let Some(m) = r.memory() {
        let set = [
            (m.limit().is_some(), "memory.limit"),
            (m.reservation().is_some(), "memory.reservation"),
            (m.swap().is_some(), "memory.swap"),
            (m.kernel().is_some(), "memory.kernel"),
            (m.kernel_tcp().is_some(), "memory.kernelTCP"),
            (m.swappiness().is_some(), "memory.swappiness"),
            (
                m.disable_oom_killer() == Some(true),
                "memory.disableOOMKiller",
            ),
        ];
        if let Some((_, name)) = set.iter().find(|(on, _)| *on) {
            return Some(name);
        }
    }
    if let Some(c) = r.cpu() {
        let set = [
            (c.shares().is_some(), "cpu.shares"),
            (c.quota().is_some(), "cpu.quota"),
            (c.period().is_some(), "cpu.period"),
            (c.burst().is_some(), "cpu.burst"),
            (c.idle().is_some(), "cpu.idle"),
            (c.realtime_runtime().is_some(), "cpu.realtimeRuntime"),
            (c.realtime_period().is_some(), "cpu.realtimePeriod"),
            (c.cpus().is_some(), "cpu.cpus"),
            (c.mems().is_some(), "cpu.mems"),
        ];
        if let Some((_, name)) = set.iter().find(|(on, _)| *on) {
            return Some(name);
        }
    }
    if r.pids().as_ref().is_some_and(|p| p.limit() > 0) {
        return Some("pids.limit");
    }
    let nonempty = [
        (r.block_io().is_some(), "blockIO"),
        (
            r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()),
            "hugepageLimits",
        ),
        (r.network().is_some(), "network"),
        (r.rdma().as_ref().is_some_and(|h| !h.is_empty()), "rdma"),
        (
            r.unified().as_ref().is_some_and(|h| !h.is_empty()),
            "unified",
        ),
    ];
    nonempty.iter().find(|(on, _)| *on).map(|(_, name)| *name)
}

/// The container's cgroup directories (one per v1 hierarchy, or the one v2
/// directory) and the kind of hierarchy, for the cgroupfs driver.
pub fn cgroup_dirs(cgroup: &Path) -> Option<(Vec<PathBuf>, &'static str)> {
    use libcgroups::common::{CgroupSetup, DEFAULT_CGROUP_ROOT, get_cgroup_setup};
    match get_cgroup_setup().ok()? {
        CgroupSetup::Legacy | CgroupSetup::Hybrid => {
            let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
            Some((crate::cgroupfs::v1_dirs(&mountinfo, cgroup)?, "v1"))
        }
        CgroupSetup::Unified => {
            let rel = cgroup.strip_prefix("/").unwrap_or(cgroup);
            Some((vec![Path::new(DEFAULT_CGROUP_ROOT).join(rel)], "v2"))
        }
    }
}

/// Whether we may create `dir`: its nearest existing ancestor is writable
/// by us (a delegated subtree is chowned to its user).
fn writable_below(dir: &Path) -> bool {
    use nix::unistd::{AccessFlags, access};
    dir.ancestors()
        .find(|d| d.exists())
        .is_some_and(|d| access(d, AccessFlags::W_OK).is_ok())
}
