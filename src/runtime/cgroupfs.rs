//! Removing a stopped container's cgroup v1 directories ourselves.
//!
//! libcgroups' v1 manager finds each controller's hierarchy by reading and
//! parsing /proc/self/mountinfo and /proc/self/cgroup once per controller,
//! through a freshly verified /proc handle each time: 24 file reads before a
//! delete can start (about 2.5 ms, the largest part of `delete`, measured
//! with bench/profile.sh). One read of mountinfo gives the same paths. The
//! removal itself is what libcgroups does: kill what is left in each
//! directory, then rmdir it, retrying while the kernel still counts the
//! killed tasks.

use libcgroups::v1::ControllerType;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

/// The v1 controllers libcgroups puts every container in. Its own list
/// (`v1::controller_type::CONTROLLERS`) is private; the exhaustive match in
/// `mount_names` makes a controller added to libcgroups a build error here
/// rather than a directory left behind.
const CONTROLLERS: [ControllerType; 12] = [
    ControllerType::Cpu,
    ControllerType::CpuAcct,
    ControllerType::CpuSet,
    ControllerType::Devices,
    ControllerType::HugeTlb,
    ControllerType::Memory,
    ControllerType::Pids,
    ControllerType::PerfEvent,
    ControllerType::Blkio,
    ControllerType::NetworkPriority,
    ControllerType::NetworkClassifier,
    ControllerType::Freezer,
];

/// The mount directory names a controller's hierarchy may have: co-mounted
/// with its usual partner, or alone under its own name, as libcgroups'
/// `get_subsystem_mount_point` looks for them.
fn mount_names(c: ControllerType) -> Vec<String> {
    let co: &[&str] = match c {
        ControllerType::Cpu | ControllerType::CpuAcct => &["cpu,cpuacct"],
        ControllerType::NetworkPriority | ControllerType::NetworkClassifier => {
            &["net_cls,net_prio", "net_prio,net_cls"]
        }
        ControllerType::CpuSet
        | ControllerType::Devices
        | ControllerType::HugeTlb
        | ControllerType::Memory
        | ControllerType::Pids
        | ControllerType::PerfEvent
        | ControllerType::Blkio
        | ControllerType::Freezer => &[],
    };
    co.iter()
        .map(|n| n.to_string())
        .chain([c.to_string()])
        .collect()
}

/// The container's directory in every v1 hierarchy libcgroups uses, from one
/// read of `mountinfo` (the text of /proc/self/mountinfo). None when the
/// answer would not be exactly libcgroups' (an escaped mount point, a
/// cgroups path that is empty or climbs with ".."): the caller then lets
/// libcgroups do it.
pub fn v1_dirs(mountinfo: &str, cgroup_path: &Path) -> Option<Vec<PathBuf>> {
    let rel = relative(cgroup_path)?;
    let mut mounts = Vec::new();
    for line in mountinfo.lines() {
        let (fields, rest) = line.split_once(" - ")?;
        if rest.split(' ').next() != Some("cgroup") {
            continue;
        }
        let mount_point = fields.split(' ').nth(4)?;
        if mount_point.contains('\\') {
            return None;
        }
        mounts.push(Path::new(mount_point));
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    for c in CONTROLLERS {
        let names = mount_names(c);
        let found = mounts.iter().find(|m| names.iter().any(|n| m.ends_with(n)));
        if let Some(m) = found {
            let dir = m.join(&rel);
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    }
    Some(dirs)
}

/// `cgroup_path` without its leading "/", refusing anything but plain names.
fn relative(cgroup_path: &Path) -> Option<PathBuf> {
    let mut rel = PathBuf::new();
    for c in cgroup_path.components() {
        match c {
            Component::RootDir => {}
            Component::Normal(n) => rel.push(n),
            _ => return None,
        }
    }
    (!rel.as_os_str().is_empty()).then_some(rel)
}

/// Kill whatever is left in each directory and remove it, retrying EBUSY
/// until `deadline` (a killed task keeps its cgroup busy until it is gone).
/// A directory that does not exist is already removed.
pub fn remove_dirs(dirs: &[PathBuf], deadline: Instant) -> Result<(), (PathBuf, io::Error)> {
    for dir in dirs {
        let mut pause = Duration::from_millis(1);
        loop {
            match std::fs::remove_dir(dir) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                    kill_tasks(dir);
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Err(e) => return Err((dir.clone(), e)),
            }
        }
    }
    Ok(())
}

/// Remove each directory that goes with one rmdir (no task, no child
/// cgroup); return the others, untouched.
pub fn remove_empty(dirs: Vec<PathBuf>) -> Vec<PathBuf> {
    dirs.into_iter()
        .filter(|d| match std::fs::remove_dir(d) {
            Ok(()) => false,
            Err(e) => e.kind() != io::ErrorKind::NotFound,
        })
        .collect()
}

fn kill_tasks(dir: &Path) {
    let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) else {
        return;
    };
    for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        // SAFETY: kill(2) with a pid read from the container's own cgroup.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
24 30 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 24 0:24 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
27 26 0:25 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw
28 26 0:26 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd
31 26 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct
32 26 0:30 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory
33 26 0:31 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,net_cls,net_prio
34 26 0:32 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,pids
";

    #[test]
    fn one_dir_per_hierarchy_in_controller_order() {
        let dirs = v1_dirs(HYBRID, Path::new("/cellos-x")).unwrap();
        let want: Vec<PathBuf> = [
            "/sys/fs/cgroup/cpu,cpuacct/cellos-x",
            "/sys/fs/cgroup/memory/cellos-x",
            "/sys/fs/cgroup/pids/cellos-x",
            "/sys/fs/cgroup/net_cls,net_prio/cellos-x",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        assert_eq!(dirs, want);
    }

    #[test]
    fn nested_paths_and_refusals() {
        let dirs = v1_dirs(HYBRID, Path::new("a/b")).unwrap();
        assert_eq!(dirs[0], PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/a/b"));
        assert!(v1_dirs(HYBRID, Path::new("/a/../../etc")).is_none());
        assert!(v1_dirs(HYBRID, Path::new("/")).is_none());
        assert!(v1_dirs(HYBRID, Path::new("")).is_none());
        let escaped = "40 26 0:33 / /sys/fs/cgroup/my\\040cg rw - cgroup cgroup rw,freezer\n";
        assert!(v1_dirs(escaped, Path::new("/x")).is_none());
    }
}
