//! The cell's filesystem view, expressed as ordinary OCI mounts so that any
//! OCI runtime (runc, crun, ours) can run the bundle unchanged.

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Mount, MountBuilder};

use super::error::CellError;
use super::model::Cell;
use super::namespace::Namespace;

/// Host top-level entries that make up the system view; on merged-usr
/// hosts most are symlinks into /usr and are recreated as symlinks.
pub(crate) const HOST_SYSTEM_DIRS: &[&str] = &[
    "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/usr",
];

/// The only pieces of host /etc the cell sees: enough for name lookup, the
/// dynamic linker, time zone and Debian alternatives. Deliberately not
/// shadow, gshadow, ssh keys or anything else with secrets.
const HOST_ETC_ENTRIES: &[&str] = &[
    "/etc/passwd",
    "/etc/group",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/nsswitch.conf",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/localtime",
    "/etc/host.conf",
    "/etc/os-release",
    "/etc/alternatives",
];

// `ro` alone only covers the top mount of an rbind: every submount the host
// has below a read-only directory would stay writable. `rro` makes the whole
// tree read-only (mount_setattr with AT_RECURSIVE; runc >= 1.1, crun, ours).
const RO_BIND: &[&str] = &["rbind", "ro", "rro", "nosuid", "nodev"];
const RW_BIND: &[&str] = &["rbind", "rw", "nosuid", "nodev"];
const RO_FILE_BIND: &[&str] = &["bind", "ro", "rro", "nosuid", "nodev"];

/// The overflow group; only used as a group the cell is not in.
const NOGROUP: u32 = 65534;

/// What a host system entry is, as far as the cell is concerned.
pub(crate) enum HostEntry {
    /// Recreate as a symlink with this target inside the bundle rootfs.
    Symlink(PathBuf),
    /// Bind-mount read-only.
    Dir,
}

/// Inspect the host's system directories; absent (or odd) entries are left
/// out.
pub(crate) fn host_system_entries() -> Vec<(&'static str, HostEntry)> {
    let mut out = Vec::new();
    for &name in HOST_SYSTEM_DIRS {
        let Ok(meta) = fs::symlink_metadata(name) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            if let Ok(target) = fs::read_link(name) {
                out.push((name, HostEntry::Symlink(target)));
            }
        } else if meta.is_dir() {
            out.push((name, HostEntry::Dir));
        }
    }
    out
}

fn mount(dest: &Path, typ: &str, source: &Path, opts: &[&str]) -> Result<Mount, CellError> {
    let options: Vec<String> = opts.iter().map(|o| o.to_string()).collect();
    Ok(MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(options)
        .build()?)
}

/// Kernel filesystems take a dummy source; name it after the type.
fn special(dest: &str, typ: &str, opts: &[&str]) -> Result<Mount, CellError> {
    mount(Path::new(dest), typ, Path::new(typ), opts)
}

/// All mounts of the cell, in the order the runtime must apply them.
///
/// The namespaces decide between fresh kernel filesystems and binds of the
/// host's: sysfs can only be mounted from inside an own network namespace,
/// and inside a user namespace proc and mqueue can only be mounted when the
/// pid / ipc namespace is unshared too (the kernel wants the user namespace
/// to own them).
pub(crate) fn build_mounts(
    cell: &Cell,
    namespaces: &[Namespace],
    bind_sources: &BTreeMap<PathBuf, PathBuf>,
) -> Result<Vec<Mount>, CellError> {
    let net_unshared = namespaces.contains(&Namespace::Net);
    let in_userns = namespaces.contains(&Namespace::User);
    let own_proc = !in_userns || namespaces.contains(&Namespace::Pid);
    let own_mqueue = !in_userns || namespaces.contains(&Namespace::Ipc);
    let spec = &cell.spec;
    let host_view = spec.rootfs.is_none();
    let mut m = Vec::new();

    if host_view {
        for (name, entry) in host_system_entries() {
            if let HostEntry::Dir = entry {
                m.push(mount(Path::new(name), "bind", Path::new(name), RO_BIND)?);
            }
        }
    } else if let Some(root) = &spec.rootfs {
        check_host_path("spec.rootfs", root, true)?;
        // The runtime binds the rootfs recursively and makes only its top
        // mount read-only: a host mount below it would stay writable.
        // Bind each one over itself read-only, all the way down.
        for sub in host_mounts_below(root) {
            let dest = Path::new("/").join(sub.strip_prefix(root).unwrap_or(&sub));
            m.push(mount(&dest, "bind", &sub, RO_BIND)?);
        }
    }

    if own_proc && namespaces.contains(&Namespace::Pid) {
        m.push(special("/proc", "proc", &["nosuid", "noexec", "nodev"])?);
    } else if own_proc {
        // In the host's pid namespace a fresh proc lists every host
        // process: their fd tables and mount tables are readable to the
        // same uid without any capability. Show only the processes the cell
        // could ptrace, i.e. its own (proc's per-mount hidepid, Linux 5.8).
        // hidepid exempts the group named by gid=, by default 0: that must
        // be a group the cell's process is not in.
        let exempt = if spec.run.user.gid == NOGROUP {
            NOGROUP - 1
        } else {
            NOGROUP
        };
        let gid = format!("gid={exempt}");
        let opts = ["nosuid", "noexec", "nodev", "hidepid=invisible", &gid];
        m.push(special("/proc", "proc", &opts)?);
    } else {
        // The host's pid namespace is the cell's: its /proc shows the same.
        let opts = ["rbind", "nosuid", "noexec", "nodev"];
        m.push(mount(
            Path::new("/proc"),
            "bind",
            Path::new("/proc"),
            &opts,
        )?);
    }
    let dev_opts = ["nosuid", "strictatime", "mode=755", "size=65536k"];
    m.push(mount(
        Path::new("/dev"),
        "tmpfs",
        Path::new("tmpfs"),
        &dev_opts,
    )?);
    let pts_opts = [
        "nosuid",
        "noexec",
        "newinstance",
        "ptmxmode=0666",
        "mode=0620",
    ];
    m.push(special("/dev/pts", "devpts", &pts_opts)?);
    let shm_opts = ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"];
    m.push(mount(
        Path::new("/dev/shm"),
        "tmpfs",
        Path::new("shm"),
        &shm_opts,
    )?);
    let mq_opts = ["nosuid", "noexec", "nodev"];
    if own_mqueue {
        m.push(special("/dev/mqueue", "mqueue", &mq_opts)?);
    } else if Path::new("/dev/mqueue").is_dir() {
        // The host's ipc namespace is the cell's; share its mqueue view.
        let opts = ["rbind", "nosuid", "noexec", "nodev"];
        let mq = Path::new("/dev/mqueue");
        m.push(mount(mq, "bind", mq, &opts)?);
    }
    let sys_opts = ["nosuid", "noexec", "nodev", "ro"];
    if net_unshared {
        m.push(special("/sys", "sysfs", &sys_opts)?);
    } else {
        // The host's /sys carries its cgroup hierarchies as submounts.
        let opts = ["rbind", "nosuid", "noexec", "nodev", "ro", "rro"];
        m.push(mount(Path::new("/sys"), "bind", Path::new("/sys"), &opts)?);
    }

    if host_view {
        // A private /etc so that only the listed files leak in.
        let etc_opts = ["nosuid", "nodev", "noexec", "mode=755", "size=1m"];
        m.push(mount(
            Path::new("/etc"),
            "tmpfs",
            Path::new("tmpfs"),
            &etc_opts,
        )?);
        for &name in HOST_ETC_ENTRIES {
            // Resolve symlinks (localtime, os-release) to the real file so
            // the config says what is actually mounted; dangling ones skip.
            let Ok(source) = fs::canonicalize(name) else {
                continue;
            };
            let opts = if source.is_dir() {
                RO_BIND
            } else {
                RO_FILE_BIND
            };
            m.push(mount(Path::new(name), "bind", &source, opts)?);
        }
    }

    let tmp_opts = ["nosuid", "nodev", "mode=1777"];
    m.push(mount(
        Path::new("/tmp"),
        "tmpfs",
        Path::new("tmpfs"),
        &tmp_opts,
    )?);

    let a = &spec.authority;
    let grants = [
        ("readOnlyPaths", &a.read_only_paths, RO_BIND),
        ("writablePaths", &a.writable_paths, RW_BIND),
    ];
    for (name, paths, opts) in grants {
        for (i, p) in paths.iter().enumerate() {
            check_host_path(&format!("spec.authority.{name}[{i}]"), p, false)?;
            let source = bind_sources.get(p).unwrap_or(p);
            m.push(mount(p, "bind", source, opts)?);
        }
    }

    // Last, so that nothing can cover the workspace.
    if let Some(wd) = &spec.run.working_directory {
        let user = spec.run.user;
        let mut opts = vec!["nosuid".to_string(), "nodev".into(), "mode=755".into()];
        // A non-root process must be able to write its own workspace.
        if user.uid != 0 || user.gid != 0 {
            opts.push(format!("uid={}", user.uid));
            opts.push(format!("gid={}", user.gid));
        }
        let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
        m.push(mount(wd, "tmpfs", Path::new("tmpfs"), &opts)?);
    }
    Ok(m)
}

/// The host's mount points strictly below `root`, outermost first; one
/// below another listed one is left out (its rbind covers it).
fn host_mounts_below(root: &Path) -> Vec<PathBuf> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
        .filter(|p| p != root && p.starts_with(root))
        .collect();
    out.sort();
    out.dedup();
    let mut kept: Vec<PathBuf> = Vec::new();
    for p in out {
        if !kept.iter().any(|k| p.starts_with(k)) {
            kept.push(p);
        }
    }
    kept
}

/// mountinfo writes space, tab, newline and backslash as `\ooo` octal.
pub(crate) fn unescape_mountinfo(field: &str) -> String {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Host paths are only checked when the bundle is built: the spec may be
/// validated on a different machine than the one that runs it.
fn check_host_path(field: &str, p: &Path, want_dir: bool) -> Result<(), CellError> {
    let err = |reason: String| CellError::HostPath {
        field: field.into(),
        path: p.to_path_buf(),
        reason,
    };
    match fs::metadata(p) {
        Ok(meta) if want_dir && !meta.is_dir() => return Err(err("is not a directory".into())),
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(err("does not exist on the host".into()));
        }
        Err(e) => return Err(err(e.to_string())),
    }
    check_no_symlink(p).map_err(|e| err(e.to_string()))
}

/// Why a host path cannot be bound as it is named.
#[derive(Debug, thiserror::Error)]
enum SymlinkCheck {
    #[error("is or goes through a symlink (to \"{}\"); name the real path", .0.display())]
    Symlink(PathBuf),
    /// canonicalize failed; io::Error's words are the whole reason.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A bind follows symlinks in its source: a grant or rootfs that is, or
/// goes through, a symlink hands the cell the symlink's target, and a job
/// with a writable grant can plant one for the next cell (say
/// `data/out -> /etc`). The path is clean and absolute (validate), so it
/// crosses a symlink exactly when it differs from its canonical form.
fn check_no_symlink(p: &Path) -> Result<(), SymlinkCheck> {
    match fs::canonicalize(p)? {
        real if real == p => Ok(()),
        real => Err(SymlinkCheck::Symlink(real)),
    }
}
