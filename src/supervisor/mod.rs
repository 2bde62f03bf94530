//! Running one ExecutionCell to completion: policy, conversion, the
//! create → start → wait → delete lifecycle, the TTL, teardown on SIGTERM,
//! and lifecycle events. Shared by `cellos-supervisor` and `run --cell`.
//!
//! The pipeline, in order (each step named in events and errors):
//! load spec → check policy → probe host → write bundle → create → start →
//! wait (TTL, signals) → delete → remove bundle.

mod backend;
mod config;
mod events;
mod pins;
mod policy;
mod wait;

pub use config::{Backend, Config, Profile};
pub use events::{EventSink, emit_to};
pub use policy::{check_argv0, resolve_in_root};

use crate::cell::{Argv0Allow, Cell, ConvertOptions, write_bundle};
use crate::error::{ExecKind, chain_message};
use backend::{BackendError, Launch};
use oci_spec::runtime::LinuxIdMapping;
use serde_json::json;
use std::path::Path;
use std::time::Instant;

/// Exit codes shared by `cellos-supervisor` and `run --cell`.
pub mod exit {
    /// `lifetime.ttlSeconds` ran out.
    pub const TTL: i32 = 124;
    /// Invalid or refused spec, or a runtime failure before the process started.
    pub const REFUSED: i32 = 125;
    /// argv[0] cannot be executed.
    pub const NOT_EXECUTABLE: i32 = 126;
    /// argv[0] was not found.
    pub const NOT_FOUND: i32 = 127;
}

/// A refusal: the exit code and the one line that says why.
#[derive(Debug)]
pub struct Refusal {
    pub code: i32,
    pub msg: String,
}

impl Refusal {
    pub fn new(code: i32, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
        }
    }
}

/// The exit code of a failure before the process ran. Only a failed exec
/// of argv[0] maps to 127 / 126; anything else (a mount, a cgroup,
/// ptmx...) is a runtime failure, 125, even when its reason is "no such
/// file or directory".
pub fn start_error_code(e: &BackendError) -> i32 {
    match e.exec_kind() {
        Some(ExecKind::NotFound) => exit::NOT_FOUND,
        Some(ExecKind::NotExecutable) => exit::NOT_EXECUTABLE,
        Some(ExecKind::Refused) | None => exit::REFUSED,
    }
}

/// Run the cell in `path`; returns the process exit code to use.
pub fn run_cell_file(path: &Path, cfg: &Config) -> i32 {
    let sink = cfg.sink();
    let cell = match Cell::load(path) {
        Ok(c) => c,
        Err(e) => {
            sink.emit(
                "rejected",
                "",
                json!({"reason": chain_message(&e), "spec": path}),
            );
            eprintln!("cellos: {}", chain_message(&e));
            return exit::REFUSED;
        }
    };
    run_cell(&cell, cfg, &sink)
}

/// Run a validated cell; returns the exit code.
pub fn run_cell(cell: &Cell, cfg: &Config, sink: &EventSink) -> i32 {
    match prepare_and_run(cell, cfg, sink) {
        Ok(code) => code,
        Err(r) => {
            sink.emit(
                "rejected",
                cell.id(),
                json!({"reason": r.msg, "exitCode": r.code}),
            );
            eprintln!("cellos: cell {:?}: {}", cell.id(), r.msg);
            r.code
        }
    }
}

fn prepare_and_run(cell: &Cell, cfg: &Config, sink: &EventSink) -> Result<i32, Refusal> {
    check_stdio()?;
    let mut namespaces = cfg.usable_namespaces(cell)?;
    let root = cell.spec.rootfs.as_deref().unwrap_or(Path::new("/"));
    if let Some(prefixes) = &cfg.argv0_allow {
        check_argv0(&cell.argv()[0], prefixes, root)?;
    }
    let container_id = format!("{}-{}", cell.id(), random_hex(4));
    let cgroups_path = format!("/cellos-{container_id}");
    let id_maps = rootless_cell(cell, &mut namespaces, Path::new(&cgroups_path))?;
    // No cgroup to be had: name none, so that runc too goes on without one
    // (it refuses an explicit cgroupsPath it cannot create).
    let cgroups_path = (id_maps.is_none()
        || crate::runtime::rootless::cgroup_delegated(Path::new(&cgroups_path)) != Some(false))
    .then_some(cgroups_path);
    let bundle = cfg.bundles_dir().join(&container_id);
    std::fs::create_dir_all(cfg.bundles_dir()).map_err(|e| {
        Refusal::new(
            exit::REFUSED,
            format!("create {}: {e}", cfg.bundles_dir().display()),
        )
    })?;
    let mut pins = match pins::Pins::pin(cell, &bundle.join("grants")) {
        Ok(p) => p,
        Err(r) => {
            remove_bundle(&bundle);
            return Err(r);
        }
    };
    let opts = ConvertOptions {
        namespaces,
        cgroups_path,
        argv0_allow: cfg.argv0_allow.clone().map(Argv0Allow::new),
        bind_sources: pins.sources().clone(),
        id_maps,
    };
    let result = match write_bundle(cell, &opts, &bundle) {
        Ok(()) => {
            let own_pid_ns = opts.namespaces.contains(&crate::cell::Namespace::Pid);
            run_bundle(cell, cfg, sink, &container_id, &bundle, own_pid_ns)
        }
        Err(e) => Err(Refusal::new(exit::REFUSED, chain_message(&e))),
    };
    pins.release();
    remove_bundle(&bundle);
    result
}

/// For a caller without root (None for root): the id maps of the cell's
/// user namespace, once the cell is known to fit them. Without a cgroup of
/// its own the cell can have no limits, and it gets a pid namespace.
#[allow(clippy::type_complexity)]
fn rootless_cell(
    cell: &Cell,
    namespaces: &mut Vec<crate::cell::Namespace>,
    cgroup: &Path,
) -> Result<Option<(Vec<LinuxIdMapping>, Vec<LinuxIdMapping>)>, Refusal> {
    use crate::cell::Namespace;
    if !crate::runtime::rootless::is_rootless() {
        return Ok(None);
    }
    let refuse = |msg: String| Err(Refusal::new(exit::REFUSED, msg));
    let who = format!("uid {}", nix::unistd::geteuid());
    let a = &cell.spec.authority;
    for (field, paths) in [
        ("readOnlyPaths", &a.read_only_paths),
        ("writablePaths", &a.writable_paths),
    ] {
        if !paths.is_empty() {
            return refuse(format!(
                "spec.authority.{field} needs root: a granted path is pinned with a mount on the host, which {who} cannot make"
            ));
        }
    }
    let (uids, gids) = crate::runtime::rootless::caller_id_maps();
    let mapped = |maps: &[LinuxIdMapping], id: u32| {
        maps.iter()
            .any(|m| id >= m.container_id() && id - m.container_id() < m.size())
    };
    let user = cell.spec.run.user;
    for (field, id, maps, file) in [
        ("uid", user.uid, &uids, "/etc/subuid"),
        ("gid", user.gid, &gids, "/etc/subgid"),
    ] {
        if !mapped(maps, id) {
            return refuse(format!(
                "spec.run.user.{field} {id} is not mapped in the cell's user namespace: as {who}, only 0 is, plus what {file} grants (with newuidmap/newgidmap)"
            ));
        }
    }
    if crate::runtime::rootless::cgroup_delegated(cgroup) != Some(false) {
        return Ok(Some((uids, gids)));
    }
    let r = cell.spec.resources.unwrap_or_default();
    let limit = [
        (r.memory_bytes.is_some(), "memoryBytes"),
        (r.cpus.is_some(), "cpus"),
        (r.pids.is_some(), "pids"),
    ]
    .into_iter()
    .find_map(|(set, name)| set.then_some(name));
    if let Some(name) = limit {
        return refuse(format!(
            "spec.resources.{name} needs a cgroup, and {who} has no delegated one on this host; drop the limit or run as root"
        ));
    }
    // Without a cgroup, only a pid namespace lets the TTL and teardown kill
    // the whole tree (SIGKILL to its init): added like the user namespace.
    if !namespaces.contains(&Namespace::Pid) && Path::new("/proc/self/ns/pid").exists() {
        namespaces.push(Namespace::Pid);
    }
    Ok(Some((uids, gids)))
}

/// Remove a cell's bundle, unless something is still mounted in it: the
/// pinned grants are host directories, and a recursive removal would walk
/// into them.
fn remove_bundle(bundle: &Path) {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    if let Some(m) = mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(crate::cell::unescape_mountinfo)
        .find(|m| Path::new(m).starts_with(bundle))
    {
        eprintln!(
            "cellos: bundle {} kept: {m} is still mounted",
            bundle.display()
        );
        return;
    }
    let _ = std::fs::remove_dir_all(bundle);
}

fn run_bundle(
    cell: &Cell,
    cfg: &Config,
    sink: &EventSink,
    container_id: &str,
    bundle: &Path,
    own_pid_ns: bool,
) -> Result<i32, Refusal> {
    let backend = backend::for_config(cfg)?;
    // Signals are blocked before anything is forked: none can be lost, and
    // the wait loop reads them from a signalfd.
    let signals = wait::block_signals();
    let started_at = Instant::now();
    let launch = Launch {
        id: container_id,
        bundle,
    };
    let pid = match backend.create(&launch) {
        Ok(pid) => pid,
        Err(e) => {
            let _ = backend.delete(container_id);
            return Err(Refusal::new(start_error_code(&e), e.message()));
        }
    };
    sink.emit(
        "created",
        cell.id(),
        json!({"containerId": container_id, "pid": pid}),
    );
    if let Err(e) = backend.start(container_id) {
        let _ = backend.delete(container_id);
        sink.emit("deleted", cell.id(), json!({"containerId": container_id}));
        return Err(Refusal::new(start_error_code(&e), e.message()));
    }
    sink.emit(
        "started",
        cell.id(),
        json!({"containerId": container_id, "pid": pid}),
    );
    let outcome = wait::wait_cell(
        pid,
        cell.ttl(),
        &signals,
        &*backend,
        container_id,
        own_pid_ns,
    );
    let duration_ms = started_at.elapsed().as_millis() as u64;
    let code = match outcome {
        wait::Outcome::Exited(code) => {
            sink.emit(
                "exited",
                cell.id(),
                json!({"exitCode": code, "durationMs": duration_ms}),
            );
            code
        }
        wait::Outcome::Signaled(sig) => {
            sink.emit(
                "exited",
                cell.id(),
                json!({"signal": sig, "exitCode": 128 + sig, "durationMs": duration_ms}),
            );
            128 + sig
        }
        wait::Outcome::TtlExpired => {
            sink.emit(
                "ttl_expired",
                cell.id(),
                json!({"ttlSeconds": cell.ttl().map(|d| d.as_secs()), "durationMs": duration_ms}),
            );
            eprintln!(
                "cellos: cell {:?}: ttl of {}s expired, cell killed",
                cell.id(),
                cell.ttl().map(|d| d.as_secs()).unwrap_or(0)
            );
            exit::TTL
        }
        wait::Outcome::Interrupted(sig) => {
            sink.emit(
                "exited",
                cell.id(),
                json!({"interruptedBy": sig, "exitCode": 128 + sig, "durationMs": duration_ms}),
            );
            eprintln!(
                "cellos: cell {:?}: supervisor got signal {sig}, cell torn down",
                cell.id()
            );
            128 + sig
        }
    };
    if let Err(e) = backend.delete(container_id) {
        eprintln!("cellos: cell {:?}: delete: {}", cell.id(), e.message());
    }
    sink.emit("deleted", cell.id(), json!({"containerId": container_id}));
    Ok(code)
}

/// The cell's stdio is ours. A directory there would be a handle on the
/// host's tree inside the cell: `/proc/self/fd/0/etc/shadow` walks from it,
/// whatever the cell's root (the CVE-2024-21626 pattern). Streams and files
/// are data the caller chose to hand over; a directory never is.
fn check_stdio() -> Result<(), Refusal> {
    for (fd, name) in [(0, "stdin"), (1, "stdout"), (2, "stderr")] {
        // SAFETY: fstat into a zeroed stat we own; a closed fd just fails.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        if unsafe { libc::fstat(fd, &mut st) } != 0 || st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            continue;
        }
        let path = std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "?".into());
        return Err(Refusal::new(
            exit::REFUSED,
            format!(
                "{name} (fd {fd}) is the directory {path}: the cell's job could reach the host through it"
            ),
        ));
    }
    Ok(())
}

/// `n` random bytes from the kernel's pool as hex: container ID suffixes (so
/// overlapping runs of one spec differ) and event ids. Should getrandom
/// fail, the clock and pid still make them distinct enough.
pub(crate) fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    // SAFETY: getrandom fills the buffer we own.
    let got = unsafe { libc::getrandom(b.as_mut_ptr().cast(), n, 0) };
    if got != n as isize {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let seed = (t.subsec_nanos() ^ std::process::id()).to_le_bytes();
        for (i, x) in b.iter_mut().enumerate() {
            *x = seed[i % seed.len()].wrapping_add(i as u8);
        }
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exec_failures_map_to_126_and_127() {
        let lc = "failed to create container: exec process failed with error error in executing process : ";
        let cases = [
            (
                format!("{lc}exec: \"/x\": stat /x: no such file or directory"),
                127,
            ),
            (
                format!("{lc}exec: \"x\": executable file not found in $PATH"),
                127,
            ),
            (format!("{lc}exec: \"/etc\": permission denied"), 126),
            (
                "unable to start container process: exec: \"/a.out\": exec format error".into(),
                126,
            ),
            (
                "error setting up ptmx: symlink pts/ptmx /r/dev/ptmx: no such file or directory"
                    .into(),
                125,
            ),
            ("open /b/config.json: permission denied".into(), 125),
        ];
        for (msg, want) in cases {
            let e = BackendError::Runtime { msg: msg.clone() };
            assert_eq!(start_error_code(&e), want, "{msg}");
        }
        // The built-in engine's errors by their kind; a runtime that cannot
        // be run at all is a refusal whatever its errno says.
        let spawn = BackendError::Spawn {
            bin: "/nonexistent".into(),
            source: std::io::Error::from_raw_os_error(libc::ENOENT),
        };
        assert_eq!(start_error_code(&spawn), 125);
        let engine = |kind| {
            BackendError::Engine(crate::error::Error::Engine {
                op: "create",
                id: "c".into(),
                cause: crate::error::EngineCause::Exec {
                    kind,
                    msg: "exec: \"x\": whatever the words".into(),
                },
            })
        };
        assert_eq!(start_error_code(&engine(ExecKind::NotFound)), 127);
        assert_eq!(start_error_code(&engine(ExecKind::NotExecutable)), 126);
        assert_eq!(start_error_code(&engine(ExecKind::Refused)), 125);
        let gone = BackendError::Engine(crate::error::Error::NotExist("c".into()));
        assert_eq!(start_error_code(&gone), 125);
    }
}
