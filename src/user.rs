//! Users and groups of an image, read by the runtime itself.
//!
//! Never through glibc NSS: inside a container, `getpwuid` would honour the
//! image's /etc/nsswitch.conf and load the image's `libnss_*.so` into the
//! runtime (issue 9). We parse /etc/passwd and /etc/group ourselves, opened
//! so that no symlink in the image leads out of its root, and hand
//! libcontainer a process env that already has `HOME`, so it never looks
//! the user up.

use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The largest id runc accepts for a uid or gid (2^31 - 1): above it,
/// (uid_t)-1 means "no change" to the kernel and runs the process as root.
pub const MAX_ID: u32 = i32::MAX as u32;

/// runc's words for an id out of range; callers add the value and where it is.
pub const RANGE_MSG: &str = "uids and gids must be in range 0-2147483647";

/// Files larger than this are not an account database; read no further.
const MAX_FILE: u64 = 16 << 20;

/// One line of /etc/passwd: `name:password:uid:gid:gecos:home:shell`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub gecos: String,
    pub home: String,
    pub shell: String,
}

/// One line of /etc/group: `name:password:gid:member,member`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// The first id of a process's `user` that runc would refuse, as the field
/// (relative to the process, e.g. `user.additionalGids[1]`) and its value.
pub fn id_out_of_range(user: &oci_spec::runtime::User) -> Option<(String, u32)> {
    let gids = user.additional_gids().as_deref().unwrap_or_default();
    [
        ("user.uid".to_string(), user.uid()),
        ("user.gid".into(), user.gid()),
    ]
    .into_iter()
    .chain(
        gids.iter()
            .enumerate()
            .map(|(i, &g)| (format!("user.additionalGids[{i}]"), g)),
    )
    .find(|&(_, v)| v > MAX_ID)
}

/// Lines worth parsing: not blank, not a comment.
fn records(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.trim_start().is_empty() && !l.trim_start().starts_with('#'))
}

/// Parse an ID field. Out-of-range or non-numeric ids make the line
/// malformed (skipped), as they can name no process of ours.
fn id(field: &str) -> Option<u32> {
    field.trim().parse::<u32>().ok().filter(|&v| v <= MAX_ID)
}

/// The well-formed entries of a passwd file, in order; malformed lines
/// (too few fields, bad ids, NIS `+`/`-` lines) are skipped.
pub fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    records(text)
        .filter_map(|line| {
            let f: Vec<&str> = line.splitn(7, ':').collect();
            if f.len() < 3 || f[0].is_empty() || f[0].starts_with(['+', '-']) {
                return None;
            }
            let get = |i: usize| f.get(i).copied().unwrap_or("").to_string();
            Some(PasswdEntry {
                name: f[0].to_string(),
                uid: id(f[2])?,
                gid: f.get(3).map_or(Some(0), |g| id(g))?,
                gecos: get(4),
                home: get(5),
                shell: get(6),
            })
        })
        .collect()
}

/// The well-formed entries of a group file, in order.
pub fn parse_group(text: &str) -> Vec<GroupEntry> {
    records(text)
        .filter_map(|line| {
            let f: Vec<&str> = line.splitn(4, ':').collect();
            if f.len() < 3 || f[0].is_empty() || f[0].starts_with(['+', '-']) {
                return None;
            }
            let members = f
                .get(3)
                .map(|m| {
                    m.split(',')
                        .map(str::trim)
                        .filter(|m| !m.is_empty())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default();
            Some(GroupEntry {
                name: f[0].to_string(),
                gid: id(f[2])?,
                members,
            })
        })
        .collect()
}

/// HOME for `uid` by runc's rule: the first passwd entry with that uid and
/// a non-empty home, else "/".
pub fn home_for(entries: &[PasswdEntry], uid: u32) -> String {
    entries
        .iter()
        .find(|e| e.uid == uid)
        .map(|e| e.home.clone())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".to_string())
}

/// The value libcontainer reads for HOME: the last `HOME` entry wins, and
/// an entry without `=` counts as empty. None or empty makes it look the
/// user up.
pub fn env_home(env: &[String]) -> Option<&str> {
    env.iter()
        .rev()
        .find(|e| e.split('=').next() == Some("HOME"))
        .map(|e| e.split_once('=').map_or("", |(_, v)| v))
        .filter(|v| !v.is_empty())
}

/// Make sure `env` carries a non-empty HOME; when it has none, set it from
/// `passwd` (the text of the image's /etc/passwd, if any). Returns whether
/// `env` changed.
pub fn ensure_home(env: &mut Vec<String>, uid: u32, passwd: Option<&str>) -> bool {
    if env_home(env).is_some() {
        return false;
    }
    let home = home_for(&passwd.map(parse_passwd).unwrap_or_default(), uid);
    env.retain(|e| e.split('=').next() != Some("HOME"));
    env.push(format!("HOME={home}"));
    true
}

/// `openat2(2)` with RESOLVE_IN_ROOT: the kernel resolves `path` as if
/// `dir` were `/`, so neither `..` nor an absolute symlink can leave it.
fn openat2_in_root(dir: &File, path: &Path) -> std::io::Result<File> {
    use std::os::fd::AsRawFd;
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: open_how is plain data; all-zero is its documented default.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: openat2 with a valid dirfd, a NUL-terminated path and an
    // open_how of the size passed; the returned fd is ours alone.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh fd returned by the kernel, owned by nobody else.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
}

/// Open `path` inside `root` for reading, never leaving `root`: openat2
/// RESOLVE_IN_ROOT on a handle of the root, or, on kernels without it
/// (before 5.6), our own resolution (paths.rs) and an open that follows no
/// final symlink. Non-blocking, so an image's FIFO cannot hang us.
pub fn open_in_root(root: &Path, path: &Path) -> std::io::Result<File> {
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(root)?;
    match openat2_in_root(&dir, path) {
        // ENOSYS before 5.6; EPERM from a seccomp filter that does not know it.
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {
            open_resolved(root, path)
        }
        r => r,
    }
}

/// The fallback of `open_in_root`: resolve in userspace, then open what
/// that names without following a final symlink (which a racing image
/// could have put there since).
fn open_resolved(root: &Path, path: &Path) -> std::io::Result<File> {
    let inside = crate::paths::resolve_in_root(root, path)?;
    let rel = inside.strip_prefix("/").unwrap_or(&inside);
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(root.join(rel))
}

/// The text of a regular file `path` inside `root`, or None if it is
/// missing, unreadable, not a regular file or not UTF-8: an account file
/// that cannot be read names nobody, as runc treats it.
pub fn read_in_root(root: &Path, path: &Path) -> Option<String> {
    read_regular(open_in_root(root, path).ok()?)
}

/// The text of an already opened regular file (size-capped).
fn read_regular(f: File) -> Option<String> {
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = String::new();
    f.take(MAX_FILE).read_to_string(&mut text).ok()?;
    Some(text)
}

/// The text of a host file the caller named (a bind-mount source), with the
/// same care: regular files only, non-blocking open.
pub fn read_host_file(path: &Path) -> Option<String> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .ok()?;
    read_regular(f)
}

/// The root directory a running process sees, as a path on the host.
pub fn proc_root(pid: i32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/root"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "\
# comment line
root:x:0:0:root:/root:/bin/sh

daemon:x:1:1::/usr/sbin:/usr/sbin/nologin
broken-line
bad:x:notanumber:0::/bad:/bin/sh
huge:x:4294967295:0::/huge:/bin/sh
+nis::::::
short:x:5
nohome:x:6:6:::
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
dup:x:0:0::/second-root:/bin/sh
";

    #[test]
    fn passwd_entries() {
        let e = parse_passwd(PASSWD);
        let names: Vec<&str> = e.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            ["root", "daemon", "short", "nohome", "nobody", "dup"]
        );
        assert_eq!(
            e[0],
            PasswdEntry {
                name: "root".into(),
                uid: 0,
                gid: 0,
                gecos: "root".into(),
                home: "/root".into(),
                shell: "/bin/sh".into(),
            }
        );
        assert_eq!(e[2].uid, 5);
        assert_eq!(e[2].home, "");
    }

    #[test]
    fn home_by_runc_rule() {
        let e = parse_passwd(PASSWD);
        // The first entry with the uid wins.
        assert_eq!(home_for(&e, 0), "/root");
        assert_eq!(home_for(&e, 65534), "/nonexistent");
        // No entry, an empty home, or an entry that was malformed: "/".
        assert_eq!(home_for(&e, 1234), "/");
        assert_eq!(home_for(&e, 6), "/");
        assert_eq!(home_for(&e, 4294967295), "/");
        assert_eq!(home_for(&[], 0), "/");
    }

    #[test]
    fn id_range_as_runc() {
        use oci_spec::runtime::UserBuilder;
        let u = |uid: u32, gid: u32, extra: Vec<u32>| {
            UserBuilder::default()
                .uid(uid)
                .gid(gid)
                .additional_gids(extra)
                .build()
                .unwrap()
        };
        assert_eq!(id_out_of_range(&u(0, 0, vec![])), None);
        assert_eq!(id_out_of_range(&u(MAX_ID, MAX_ID, vec![MAX_ID])), None);
        assert_eq!(
            id_out_of_range(&u(u32::MAX, 0, vec![])),
            Some(("user.uid".into(), u32::MAX))
        );
        assert_eq!(
            id_out_of_range(&u(1, MAX_ID + 1, vec![])),
            Some(("user.gid".into(), MAX_ID + 1))
        );
        assert_eq!(
            id_out_of_range(&u(1, 1, vec![2, u32::MAX])),
            Some(("user.additionalGids[1]".into(), u32::MAX))
        );
    }

    #[test]
    fn group_entries() {
        let g =
            parse_group("root:x:0:\n# c\nwheel:x:10:alice, bob,,\nbad:x:x:\nshort:x\nstaff:x:50\n");
        assert_eq!(g.len(), 3);
        assert_eq!(g[0].name, "root");
        assert!(g[0].members.is_empty());
        assert_eq!(g[1].gid, 10);
        assert_eq!(g[1].members, ["alice", "bob"]);
        assert_eq!(g[2].name, "staff");
        assert_eq!(g[2].gid, 50);
    }

    #[test]
    fn env_home_as_libcontainer_reads_it() {
        let v = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(env_home(&v(&["HOME=/x"])), Some("/x"));
        assert_eq!(env_home(&v(&["PATH=/bin"])), None);
        assert_eq!(env_home(&v(&["HOME="])), None);
        assert_eq!(env_home(&v(&["HOME"])), None);
        assert_eq!(env_home(&v(&["HOME=/a", "HOME="])), None);
        assert_eq!(env_home(&v(&["HOME=", "HOME=/b"])), Some("/b"));
        assert_eq!(env_home(&v(&["HOMEX=/a"])), None);
        assert_eq!(env_home(&v(&["HOME=/a=b"])), Some("/a=b"));
    }

    #[test]
    fn ensure_home_sets_only_when_missing() {
        let mut env = vec!["PATH=/bin".to_string(), "HOME=".to_string()];
        assert!(ensure_home(&mut env, 0, Some(PASSWD)));
        assert_eq!(env, ["PATH=/bin", "HOME=/root"]);
        assert!(!ensure_home(&mut env, 65534, Some(PASSWD)));
        assert_eq!(env, ["PATH=/bin", "HOME=/root"]);
        let mut env = vec![];
        assert!(ensure_home(&mut env, 0, None));
        assert_eq!(env, ["HOME=/"]);
    }

    #[test]
    fn reads_stay_inside_the_root() {
        let dir = std::env::temp_dir().join(format!("cellos-user-{}", std::process::id()));
        let root = dir.join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(dir.join("outside"), "out:x:0:0::/outside:/bin/sh\n").unwrap();
        std::fs::write(root.join("etc/inside"), "in:x:0:0::/inside:/bin/sh\n").unwrap();
        let passwd = root.join("etc/passwd");
        // Both ways of opening, the kernel's and the fallback, must agree.
        let read = || {
            let a = read_in_root(&root, Path::new("/etc/passwd"));
            let b = open_resolved(&root, Path::new("/etc/passwd"))
                .ok()
                .and_then(read_regular);
            assert_eq!(a, b, "openat2 and the fallback disagree");
            a
        };
        assert_eq!(read(), None, "missing file");
        for escape in ["../../outside", "/../outside", "/outside"] {
            std::os::unix::fs::symlink(escape, &passwd).unwrap();
            assert_eq!(read(), None, "{escape} must not leave the root");
            std::fs::remove_file(&passwd).unwrap();
        }
        std::os::unix::fs::symlink("/etc/inside", &passwd).unwrap();
        assert!(read().unwrap().contains("/inside"));
        std::fs::remove_file(&passwd).unwrap();
        // Not a regular file: names nobody, and a FIFO does not block.
        std::fs::create_dir(&passwd).unwrap();
        assert_eq!(read(), None);
        std::fs::remove_dir(&passwd).unwrap();
        nix::unistd::mkfifo(&passwd, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert_eq!(read(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
