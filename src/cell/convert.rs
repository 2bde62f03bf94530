//! Turning a validated [`Cell`] into an OCI runtime bundle.
//!
//! oci-spec's builders start from opinionated defaults (a "youki" hostname,
//! a handful of capabilities, default mounts), so every field that matters
//! is set explicitly here and the tests check nothing else slipped in.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Arch, Capabilities, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxCpuBuilder, LinuxIdMapping,
    LinuxIdMappingBuilder, LinuxMemoryBuilder, LinuxNamespaceBuilder, LinuxPidsBuilder,
    LinuxResources, LinuxResourcesBuilder, LinuxSeccomp, LinuxSeccompAction,
    LinuxSeccompArgBuilder, LinuxSeccompBuilder, LinuxSeccompOperator, LinuxSyscallBuilder, Mount,
    PosixRlimitBuilder, PosixRlimitType, Process, ProcessBuilder, RootBuilder, Spec, SpecBuilder,
    UserBuilder,
};

use super::argv0::{ARGV0_ALLOW_ANNOTATION, Argv0Allow};
use super::error::CellError;
use super::model::{Cell, Resources};
use super::mounts::{HostEntry, build_mounts, host_system_entries};
pub use super::namespace::Namespace;
use super::validate::validate;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const CPU_PERIOD_US: u64 = 100_000;
/// runc's default lists: kernel interfaces a container has no business with.
const MASKED_PATHS: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
];
const READONLY_PATHS: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Caller-side choices that are not part of the cell spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertOptions {
    /// Namespaces to unshare. Default: mnt, pid, net, ipc, uts, cgroup.
    /// `net` is dropped when the cell is granted `authority.network`.
    pub namespaces: Vec<Namespace>,
    /// Copied into `linux.cgroupsPath`.
    pub cgroups_path: Option<String>,
    /// Written as the `io.cellos.argv0.allow` annotation, which our
    /// executor enforces inside the cell on the file it executes.
    pub argv0_allow: Option<Argv0Allow>,
    /// Grant path → the path to bind it from instead: a copy the caller
    /// pinned, so that the runtime does not look the grant up by name.
    pub bind_sources: BTreeMap<PathBuf, PathBuf>,
    /// uid and gid maps for the `user` namespace; None is the identity
    /// map, which only root can write (a caller without root passes
    /// `rootless::caller_id_maps`).
    pub id_maps: Option<(Vec<LinuxIdMapping>, Vec<LinuxIdMapping>)>,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        use Namespace::*;
        ConvertOptions {
            namespaces: vec![Mount, Pid, Net, Ipc, Uts, Cgroup],
            cgroups_path: None,
            argv0_allow: None,
            bind_sources: BTreeMap::new(),
            id_maps: None,
        }
    }
}

/// Build the OCI runtime Spec for this cell. `root.path` is `"rootfs"`
/// (relative to a bundle) or the cell's own `rootfs`. Reads the host to
/// decide which system directories to bind and checks that granted paths
/// exist.
pub fn to_oci_spec(cell: &Cell, opts: &ConvertOptions) -> Result<Spec, CellError> {
    validate(cell)?;
    let mut namespaces: Vec<Namespace> = Vec::new();
    for ns in &opts.namespaces {
        if !namespaces.contains(ns) {
            namespaces.push(*ns);
        }
    }
    if cell.working_directory().is_some() && !namespaces.contains(&Namespace::Mount) {
        return Err(CellError::NeedsMountNamespace);
    }
    // Network authority means the host network, i.e. no own namespace.
    if cell.spec.authority.network {
        namespaces.retain(|ns| *ns != Namespace::Net);
    }

    let root_path = cell.spec.rootfs.clone().unwrap_or_else(|| "rootfs".into());
    let root = RootBuilder::default()
        .path(root_path)
        .readonly(true)
        .build()?;
    let mut spec = SpecBuilder::default()
        // The spec version we implement (was a second constant, "1.0.2").
        .version(crate::OCI_VERSION)
        .root(root)
        .mounts(build_mounts(cell, &namespaces, &opts.bind_sources)?)
        .process(build_process(cell)?)
        .linux(build_linux(cell, opts, &namespaces)?)
        .build()?;
    let hostname = namespaces
        .contains(&Namespace::Uts)
        .then(|| "cell".to_string());
    spec.set_hostname(hostname);
    spec.set_annotations(opts.argv0_allow.as_ref().map(|p| {
        [(ARGV0_ALLOW_ANNOTATION.to_string(), p.annotation_value())]
            .into_iter()
            .collect()
    }));
    Ok(spec)
}

fn build_process(cell: &Cell) -> Result<Process, CellError> {
    let run = &cell.spec.run;
    let user = UserBuilder::default()
        .uid(run.user.uid)
        .gid(run.user.gid)
        .build()?;
    // Root gets its capabilities from the bounding set on exec; a non-root
    // process keeps them only through the ambient (and inheritable) sets.
    let granted: Capabilities = cell.spec.authority.capabilities.iter().copied().collect();
    let carried = if run.user.uid != 0 {
        granted.clone()
    } else {
        Capabilities::new()
    };
    let caps = LinuxCapabilitiesBuilder::default()
        .bounding(granted.clone())
        .effective(granted.clone())
        .permitted(granted)
        .inheritable(carried.clone())
        .ambient(carried)
        .build()?;
    let nofile = PosixRlimitBuilder::default()
        .typ(PosixRlimitType::RlimitNofile)
        .soft(1024u64)
        .hard(1024u64)
        .build()?;
    let cwd = run
        .working_directory
        .clone()
        .unwrap_or_else(|| PathBuf::from("/"));
    Ok(ProcessBuilder::default()
        .terminal(false)
        .user(user)
        .args(run.argv.clone())
        .env(build_env(cell))
        .cwd(cwd)
        .no_new_privileges(true)
        .capabilities(caps)
        .rlimits(vec![nofile])
        .build()?)
}

/// PATH and HOME defaults, overridden by key by `run.env`.
fn build_env(cell: &Cell) -> Vec<String> {
    let run = &cell.spec.run;
    let home = cell.working_directory().unwrap_or(Path::new("/"));
    let given: HashSet<&str> = run
        .env
        .iter()
        .filter_map(|e| e.split_once('=').map(|(k, _)| k))
        .collect();
    let defaults = [
        ("PATH", DEFAULT_PATH.to_string()),
        ("HOME", home.display().to_string()),
    ];
    defaults
        .into_iter()
        .filter(|(k, _)| !given.contains(k))
        .map(|(k, v)| format!("{k}={v}"))
        .chain(run.env.iter().cloned())
        .collect()
}

fn build_linux(
    cell: &Cell,
    opts: &ConvertOptions,
    namespaces: &[Namespace],
) -> Result<oci_spec::runtime::Linux, CellError> {
    let ns = namespaces
        .iter()
        .map(|n| LinuxNamespaceBuilder::default().typ(n.oci_type()).build())
        .collect::<Result<Vec<_>, _>>()?;
    let strings = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut readonly = strings(READONLY_PATHS);
    if cell.spec.rootfs.is_none() {
        // The host view's private /etc is a tmpfs so that the listed host
        // files can be bound into it; afterwards it must be as read-only
        // as the rest of the system view. readonlyPaths are applied after
        // all mounts, by every OCI runtime.
        readonly.push("/etc".to_string());
    }
    let mut linux = LinuxBuilder::default()
        .namespaces(ns)
        .masked_paths(strings(MASKED_PATHS))
        .readonly_paths(readonly)
        .build()?;
    linux.set_resources(build_resources(cell.spec.resources.as_ref())?);
    linux.set_seccomp(Some(no_setid_files()?));
    linux.set_cgroups_path(opts.cgroups_path.as_ref().map(PathBuf::from));
    if namespaces.contains(&Namespace::User)
        && let Some((uids, gids)) = &opts.id_maps
    {
        linux.set_uid_mappings(Some(uids.clone()));
        linux.set_gid_mappings(Some(gids.clone()));
    } else if namespaces.contains(&Namespace::User) {
        let identity = LinuxIdMappingBuilder::default()
            .container_id(0u32)
            .host_id(0u32)
            .size(u32::MAX)
            .build()?;
        linux.set_uid_mappings(Some(vec![identity]));
        linux.set_gid_mappings(Some(vec![identity]));
    }
    Ok(linux)
}

/// A cell's uid 0 is the host's: in a writable grant it could leave a
/// set-user-ID (or set-group-ID) root binary for any host user to run
/// (nosuid and no_new_privileges only protect the cell itself). The kernel
/// lets a file's owner set those bits without any capability, so the
/// syscalls that set a mode refuse them (EPERM): chmod and friends, and
/// the creating ones (open with O_CREAT keeps S_ISUID). openat2 carries
/// its mode in a struct a filter cannot read: it reports ENOSYS, to which
/// callers fall back to openat.
fn no_setid_files() -> Result<LinuxSeccomp, CellError> {
    const S_ISUID: u64 = 0o4000;
    const S_ISGID: u64 = 0o2000;
    // Syscalls by the index of their mode argument.
    let by_mode_index: [(usize, &[&str]); 3] = [
        (1, &["chmod", "fchmod", "creat", "mknod"]),
        (2, &["fchmodat", "fchmodat2", "open", "mknodat"]),
        (3, &["openat"]),
    ];
    let mut rules = Vec::new();
    for (index, names) in by_mode_index {
        for bit in [S_ISUID, S_ISGID] {
            let arg = LinuxSeccompArgBuilder::default()
                .index(index)
                .value(bit)
                .value_two(bit)
                .op(LinuxSeccompOperator::ScmpCmpMaskedEq)
                .build()?;
            rules.push(
                LinuxSyscallBuilder::default()
                    .names(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                    .action(LinuxSeccompAction::ScmpActErrno)
                    .errno_ret(libc::EPERM as u32)
                    .args(vec![arg])
                    .build()?,
            );
        }
    }
    rules.push(
        LinuxSyscallBuilder::default()
            .names(vec!["openat2".to_string()])
            .action(LinuxSeccompAction::ScmpActErrno)
            .errno_ret(libc::ENOSYS as u32)
            .build()?,
    );
    let mut b = LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActAllow)
        .syscalls(rules);
    // 32-bit syscalls of the same machine must meet the same rules.
    if cfg!(target_arch = "x86_64") {
        b = b.architectures(vec![
            Arch::ScmpArchX86_64,
            Arch::ScmpArchX86,
            Arch::ScmpArchX32,
        ]);
    }
    Ok(b.build()?)
}

fn build_resources(r: Option<&Resources>) -> Result<Option<LinuxResources>, CellError> {
    let Some(r) = r.filter(|r| **r != Resources::default()) else {
        return Ok(None);
    };
    let mut b = LinuxResourcesBuilder::default();
    if let Some(bytes) = r.memory_bytes {
        // validate() caps memoryBytes at i64::MAX.
        let limit = i64::try_from(bytes).unwrap_or(i64::MAX);
        b = b.memory(LinuxMemoryBuilder::default().limit(limit).build()?);
    }
    if let Some(cpus) = r.cpus {
        let quota = (cpus * CPU_PERIOD_US as f64).round() as i64;
        let cpu = LinuxCpuBuilder::default()
            .quota(quota)
            .period(CPU_PERIOD_US)
            .build()?;
        b = b.cpu(cpu);
    }
    if let Some(pids) = r.pids {
        b = b.pids(LinuxPidsBuilder::default().limit(pids).build()?);
    }
    Ok(Some(b.build()?))
}

/// Write DIR/config.json and create DIR/rootfs (empty dir with the
/// symlinks/mountpoints described below). DIR is created if missing (its parent
/// must exist). Refuses if DIR/config.json already exists.
///
/// In the host-system view, rootfs/ receives the host's merged-usr symlinks
/// (`bin -> usr/bin`, ...) and a mountpoint for each top-level mount; the
/// runtime creates nested ones inside the tmpfs mounts. config.json is
/// written last, with O_EXCL, so its presence marks a complete bundle.
pub fn write_bundle(cell: &Cell, opts: &ConvertOptions, dir: &Path) -> Result<(), CellError> {
    let spec = to_oci_spec(cell, opts)?;
    let fail = |reason: String| CellError::Bundle {
        path: dir.to_path_buf(),
        reason,
    };
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists && dir.is_dir() => {}
        Err(e) => return Err(fail(format!("cannot create directory: {e}"))),
    }
    let config = dir.join("config.json");
    if fs::symlink_metadata(&config).is_ok() {
        return Err(fail("config.json already exists".into()));
    }
    let rootfs = dir.join("rootfs");
    match fs::create_dir(&rootfs) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists && is_empty_dir(&rootfs) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            return Err(fail("rootfs exists and is not an empty directory".into()));
        }
        Err(e) => return Err(fail(format!("cannot create rootfs: {e}"))),
    }
    if cell.spec.rootfs.is_none() {
        populate_rootfs(&rootfs, &spec).map_err(|e| fail(format!("cannot prepare rootfs: {e}")))?;
    }

    let mut text = serde_json::to_string_pretty(&spec).map_err(|e| fail(e.to_string()))?;
    text.push('\n');
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&config)
        .map_err(|e| fail(format!("cannot create config.json: {e}")))?;
    file.write_all(text.as_bytes())
        .map_err(|e| fail(format!("cannot write config.json: {e}")))?;
    tracing::debug!(bundle = %dir.display(), cell = cell.id(), "wrote OCI bundle");
    Ok(())
}

fn is_empty_dir(p: &Path) -> bool {
    fs::read_dir(p).is_ok_and(|mut it| it.next().is_none())
}

fn populate_rootfs(rootfs: &Path, spec: &Spec) -> std::io::Result<()> {
    for (name, entry) in host_system_entries() {
        if let HostEntry::Symlink(target) = entry {
            std::os::unix::fs::symlink(target, rootfs.join(&name[1..]))?;
        }
    }
    // Pre-create only top-level mountpoints; anything nested in an earlier
    // mount is the runtime's job (it lives on that mount, not in rootfs/).
    let mut covered: Vec<&Path> = Vec::new();
    for m in spec.mounts().iter().flatten() {
        let dest = m.destination();
        if covered.iter().any(|c| dest.starts_with(c)) {
            continue;
        }
        covered.push(dest);
        let rel = dest.strip_prefix("/").unwrap_or(dest);
        if crosses_symlink(rootfs, rel) {
            // Never follow a symlink out of the bundle; the runtime resolves
            // it inside the container root instead.
            continue;
        }
        let target = rootfs.join(rel);
        let is_file_bind =
            m.typ().as_deref() == Some("bind") && m.source().as_ref().is_some_and(|s| !s.is_dir());
        if is_file_bind {
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&target)?;
        } else {
            fs::create_dir_all(&target)?;
            // runc re-applies the mountpoint's own mode to a fresh tmpfs,
            // so the directory must already carry the intended mode= (1777
            // for /tmp).
            if let Some(mode) = tmpfs_mode(m) {
                fs::set_permissions(&target, fs::Permissions::from_mode(mode))?;
            }
        }
    }
    Ok(())
}

fn tmpfs_mode(m: &Mount) -> Option<u32> {
    if m.typ().as_deref() != Some("tmpfs") {
        return None;
    }
    let opts = m.options().as_ref()?;
    let mode = opts.iter().find_map(|o| o.strip_prefix("mode="))?;
    u32::from_str_radix(mode, 8).ok()
}

fn crosses_symlink(rootfs: &Path, rel: &Path) -> bool {
    let mut p = rootfs.to_path_buf();
    rel.components().any(|c| {
        p.push(c);
        fs::symlink_metadata(&p).is_ok_and(|m| m.file_type().is_symlink())
    })
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
