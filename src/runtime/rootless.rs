//! Containers of a caller without root on the host (an unprivileged user, or
//! root inside a user namespace, as rootless podman runs us).
//!
//! Such a caller can only have a cgroup where one was delegated to it: never
//! on cgroup v1, on v2 below a subtree it owns. Without one the container
//! runs in the caller's own cgroup (a libcontainer patch, see
//! vendor/libcontainer/PATCHES.md; runc and crun do the same), which is fine until the config asks for limits: those are refused
//! here, before anything is made, rather than silently dropped.

use crate::error::{Error, Result};
use oci_spec::runtime::{Linux, LinuxIdMapping, LinuxIdMappingBuilder, LinuxResources};
use std::path::{Path, PathBuf};

/// Whether the caller is not root on the host.
pub fn is_rootless() -> bool {
    !nix::unistd::geteuid().is_root() || libcontainer::utils::is_in_new_userns().unwrap_or(false)
}

/// A state directory of the caller's own when it is not root, like runc's:
/// `$XDG_RUNTIME_DIR/NAME`, else /run/user/UID/NAME, else /tmp/NAME-UID.
/// None for root, whose defaults are fixed paths.
/// Root in a user namespace (rootless podman runs us so) counts as a user
/// when XDG_RUNTIME_DIR is set and $USER is not root, as with runc.
pub fn user_dir(name: &str) -> Option<PathBuf> {
    let uid = nix::unistd::geteuid();
    let xdg = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty());
    if uid.is_root() {
        let user_in_userns = libcontainer::utils::is_in_new_userns().unwrap_or(false)
            && std::env::var_os("USER").is_none_or(|u| u != "root");
        return xdg
            .filter(|_| user_in_userns)
            .map(|d| PathBuf::from(d).join(name));
    }
    if let Some(dir) = xdg {
        return Some(PathBuf::from(dir).join(name));
    }
    let run_user = PathBuf::from(format!("/run/user/{uid}"));
    if run_user.is_dir() {
        return Some(run_user.join(name));
    }
    Some(PathBuf::from(format!("/tmp/{name}-{uid}")))
}

/// Whether the caller can have the cgroup `cgroup` (cgroupfs driver): it
/// is root, or every directory to make lies below one it may write.
/// None when the path cannot be placed (libcgroups then reports it).
pub fn cgroup_delegated(cgroup: &Path) -> Option<bool> {
    if !is_rootless() {
        return Some(true);
    }
    let (dirs, _) = cgroup_dirs(cgroup)?;
    Some(dirs.iter().all(|d| writable_below(d)))
}

/// Whether libcgroups drives this container's cgroup through systemd when
/// asked to: only on cgroup v2, for a cgroupsPath in the slice:prefix:name
/// form (an absolute one, or v1, is handled as with cgroupfs).
pub fn uses_systemd_manager(linux: &Linux) -> bool {
    use libcgroups::common::{CgroupSetup, get_cgroup_setup};
    matches!(get_cgroup_setup(), Ok(CgroupSetup::Unified))
        && !linux
            .cgroups_path()
            .as_ref()
            .is_some_and(|p| p.is_absolute())
}

/// How long the user's bus gets to answer the first line of a D-Bus
/// handshake (libcgroups allows 10 s per reply too).
const USER_BUS_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Whether the user's systemd can be reached, as the systemd driver of a
/// caller without root needs: its session bus (found as libcgroups finds
/// it, DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus) answers the
/// first line of a D-Bus handshake within USER_BUS_TIMEOUT.
pub fn check_user_bus() -> Result<()> {
    use std::io::{Read, Write};
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixStream};
    let fail = |what: String| {
        Error::Unsupported(format!(
            "--systemd-cgroup as uid {}: {what}; run it in the user's session (XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS) or drop --systemd-cgroup",
            nix::unistd::geteuid()
        ))
    };
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let (shown, addr) = if let Some(list) = env("DBUS_SESSION_BUS_ADDRESS") {
        // As libcgroups reads it: the first unix:path= that exists, or
        // a unix:abstract=.
        let found = list.split(';').find_map(|a| {
            if let Some(p) = a.strip_prefix("unix:path=") {
                let p = p.split(',').next().unwrap_or(p);
                Path::new(p)
                    .exists()
                    .then(|| SocketAddr::from_pathname(p).ok())
                    .flatten()
                    .map(|s| (a.to_string(), s))
            } else if let Some(n) = a.strip_prefix("unix:abstract=") {
                let n = n.split(',').next().unwrap_or(n);
                SocketAddr::from_abstract_name(n)
                    .ok()
                    .map(|s| (a.to_string(), s))
            } else {
                None
            }
        });
        found.ok_or_else(|| {
            fail(format!(
                "no user bus socket in DBUS_SESSION_BUS_ADDRESS {list:?}"
            ))
        })?
    } else if let Some(dir) = env("XDG_RUNTIME_DIR") {
        let p = Path::new(&dir).join("bus");
        if !p.exists() {
            return Err(fail(format!("the user bus {} does not exist", p.display())));
        }
        let a = SocketAddr::from_pathname(&p)
            .map_err(|e| fail(format!("the user bus {}: {e}", p.display())))?;
        (p.display().to_string(), a)
    } else {
        return Err(fail(
            "neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR names the user bus".into(),
        ));
    };
    let unreachable =
        |e: std::io::Error| fail(format!("the user bus {shown} does not answer: {e}"));
    let mut s = UnixStream::connect_addr(&addr).map_err(unreachable)?;
    s.set_read_timeout(Some(USER_BUS_TIMEOUT))
        .map_err(unreachable)?;
    s.set_write_timeout(Some(USER_BUS_TIMEOUT))
        .map_err(unreachable)?;
    // AUTH EXTERNAL without an identity: any reply (DATA, OK or REJECTED)
    // shows a live bus, whatever uid our user namespace makes us.
    s.write_all(b"\0AUTH EXTERNAL\r\n").map_err(unreachable)?;
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(n) if n > 0 => Ok(()),
        Ok(_) => Err(fail(format!("the user bus {shown} closed the connection"))),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Err(fail(format!(
            "the user bus {shown} did not answer within {} s",
            USER_BUS_TIMEOUT.as_secs()
        ))),
        Err(e) => Err(unreachable(e)),
    }
}

/// The uid and gid maps of a user namespace made for a caller without
/// root: the caller is 0 inside, and the subordinate ids that /etc/subuid
/// and /etc/subgid grant it follow from 1 (libcontainer writes more than
/// one mapping through newuidmap/newgidmap, so those are used only when
/// both are installed).
pub fn caller_id_maps() -> (Vec<LinuxIdMapping>, Vec<LinuxIdMapping>) {
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    let helpers = ["/usr/bin/newuidmap", "/usr/bin/newgidmap"]
        .iter()
        .all(|p| Path::new(p).exists());
    let name = user_name(uid);
    let maps = |own: u32, file: &str| {
        let mut out = vec![mapping(0, own, 1)];
        let mut next = 1u32;
        let granted = match helpers {
            true => std::fs::read_to_string(file).unwrap_or_default(),
            false => String::new(),
        };
        // Both files name the owner by login name or uid.
        for (start, count) in parse_subordinate(&granted, uid, name.as_deref()) {
            out.push(mapping(next, start, count));
            next = next.saturating_add(count);
        }
        out
    };
    (maps(uid, "/etc/subuid"), maps(gid, "/etc/subgid"))
}

fn mapping(inside: u32, outside: u32, size: u32) -> LinuxIdMapping {
    LinuxIdMappingBuilder::default()
        .container_id(inside)
        .host_id(outside)
        .size(size)
        .build()
        .expect("all fields set")
}

/// The login name of `uid`, read from /etc/passwd itself (never through
/// NSS): /etc/subuid may name the user rather than the number.
fn user_name(uid: u32) -> Option<String> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        (f.nth(1)? == uid.to_string()).then(|| name.to_string())
    })
}

/// The `start:count` ranges that `text` (/etc/subuid format) grants to
/// the user with uid `own` or login `name`.
fn parse_subordinate(text: &str, own: u32, name: Option<&str>) -> Vec<(u32, u32)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.trim().split(':');
            let who = f.next()?;
            let start = f.next()?.parse::<u32>().ok()?;
            let count = f.next()?.parse::<u32>().ok()?;
            let mine = who == own.to_string() || Some(who) == name;
            (mine && count > 0).then_some((start, count))
        })
        .collect()
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
            Some((crate::runtime::cgroupfs::v1_dirs(&mountinfo, cgroup)?, "v1"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subordinate_ranges_by_name_or_number() {
        let text = "alice:100000:65536\n1000:300000:10\nbob:200000:65536\nbad\nalice:5:0\n";
        assert_eq!(
            parse_subordinate(text, 1000, Some("alice")),
            [(100000, 65536), (300000, 10)]
        );
        assert_eq!(parse_subordinate(text, 1001, Some("carol")), []);
    }
}
