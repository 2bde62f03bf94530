//! What the host shows of the tests' containers: cgroups, processes,
//! mounts and directory entries, for the leak checks and assertions.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The cgroup directories a container with this ID could own on this host.
pub fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let name = format!("cellos-{id}");
    cgroups_where(|n| n == name)
}

/// Cgroup directories of containers of spec `id` (`/cellos-<id>-<8 hex>`)
/// in every hierarchy.
pub fn cell_cgroups(spec_id: &str) -> Vec<PathBuf> {
    let prefix = format!("cellos-{spec_id}-");
    cgroups_where(|name| {
        name.strip_prefix(&prefix)
            .is_some_and(|rest| rest.len() == 8 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
    })
}

/// Cgroup directories named exactly `name` (or `cellos-<name>`) at the top
/// of any hierarchy.
pub fn named_cgroups(name: &str) -> Vec<PathBuf> {
    let prefixed = format!("cellos-{name}");
    cgroups_where(|n| n == name || n == prefixed)
}

/// Directories whose name satisfies `pred`, at the top of the cgroup2 root
/// and of every hierarchy below /sys/fs/cgroup.
fn cgroups_where(pred: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut roots = vec![PathBuf::from("/sys/fs/cgroup")];
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                roots.push(e.path());
            }
        }
    }
    for root in roots {
        let Ok(rd) = std::fs::read_dir(&root) else {
            continue;
        };
        for e in rd.flatten() {
            if e.file_name().to_str().is_some_and(&pred) && e.path().is_dir() {
                out.push(e.path());
            }
        }
    }
    out
}

/// The memory controller's directory for the container (v1 or v2).
pub fn memory_cgroup(id: &str) -> PathBuf {
    let v1 = PathBuf::from(format!("/sys/fs/cgroup/memory/cellos-{id}"));
    if Path::new("/sys/fs/cgroup/memory").is_dir() {
        return v1;
    }
    unified_cgroup(id)
}

/// The container's cgroup2 directory (hybrid: under /unified).
pub fn unified_cgroup(id: &str) -> PathBuf {
    if Path::new("/sys/fs/cgroup/unified").is_dir() {
        PathBuf::from(format!("/sys/fs/cgroup/unified/cellos-{id}"))
    } else {
        PathBuf::from(format!("/sys/fs/cgroup/cellos-{id}"))
    }
}

/// Remove a cgroup dir, children first (e.g. exec sub-cgroups). rmdir
/// fails with EBUSY for a moment after the last process died: retry.
pub fn remove_cgroup(d: &Path) {
    if let Ok(rd) = std::fs::read_dir(d) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup(&e.path());
            }
        }
    }
    for _ in 0..20 {
        if std::fs::remove_dir(d).is_ok() || !d.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Host pids, with the /proc entry of each.
fn host_pids() -> Vec<(i32, PathBuf)> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_str()?.parse::<i32>().ok()?;
            Some((pid, e.path()))
        })
        .collect()
}

/// Live (non-zombie) host pids whose cgroup path names the container.
pub fn pids_in_cgroup_of(id: &str) -> Vec<i32> {
    let needle = format!("/cellos-{id}");
    let mut out = Vec::new();
    for (pid, proc_dir) in host_pids() {
        let Ok(cg) = std::fs::read_to_string(proc_dir.join("cgroup")) else {
            continue;
        };
        let hit = cg.lines().any(|l| {
            l.split(':').nth(2).is_some_and(|path| {
                path == needle
                    || path.starts_with(&format!("{needle}/"))
                    || path.ends_with(&needle)
                    || path.contains(&format!("{needle}/"))
            })
        });
        if hit && !is_zombie(pid) {
            out.push(pid);
        }
    }
    out
}

/// Pids (other than ours) whose command line contains `needle`; zombies
/// (empty cmdline) do not count.
pub fn pids_matching(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    for (pid, proc_dir) in host_pids() {
        if pid == me {
            continue;
        }
        let Ok(raw) = std::fs::read(proc_dir.join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        if cmdline.contains(needle) {
            out.push(pid);
        }
    }
    out
}

/// Pids of the `sleep MARKER` processes themselves (not the shells whose
/// command line merely mentions the marker).
pub fn sleep_pids(marker: &str) -> Vec<i32> {
    pids_matching(marker)
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|raw| {
                let args: Vec<&[u8]> = raw.split(|b| *b == 0).collect();
                args.len() >= 2 && args[0].ends_with(b"sleep") && args[1] == marker.as_bytes()
            })
        })
        .collect()
}

/// SIGKILL every pid `find` returns until it returns none (at most ~1 s).
pub fn kill_all(find: impl Fn() -> Vec<i32>) {
    for _ in 0..50 {
        let pids = find();
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            // SAFETY: plain kill(2).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().next().map(|st| st == "Z" || st == "X"))
        })
        .unwrap_or(true)
}

pub fn pid_alive(pid: i32) -> bool {
    pid > 0 && Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(pid)
}

/// CapEff (etc.) line value from /proc/<pid>/status text.
pub fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|l| {
        l.strip_prefix(key)
            .and_then(|r| r.strip_prefix(':'))
            .map(str::trim)
    })
}

/// Mount points (field 5 of mountinfo) at or below `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let d = dir.to_string_lossy().to_string();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| *m == d || m.starts_with(&format!("{d}/")))
        .map(String::from)
        .collect()
}

/// Lines of /proc/self/mountinfo that name `path` (a rootfs, a state root).
pub fn mounts_naming(path: &Path) -> Vec<String> {
    let needle = path.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&needle))
        .map(str::to_string)
        .collect()
}

/// Lazily unmount everything at or below `dir`, deepest first.
pub fn detach_mounts_under(dir: &Path) {
    let mut m = mounts_under(dir);
    m.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for p in m {
        if let Ok(c) = std::ffi::CString::new(p) {
            // SAFETY: umount2 on a NUL-terminated path.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

/// Entries of `dir`, sorted; empty if it does not exist.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Entries left in a state root (none once the last container is deleted).
pub fn root_entries(root: &Path) -> Vec<PathBuf> {
    entries(root).into_iter().map(|e| root.join(e)).collect()
}

/// The namespace links of the test process (`mnt` → `mnt:[4026531841]`).
pub fn host_ns(name: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{name}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}
