//! The only door to libcontainer. Everything the commands need from the
//! container engine goes through `Runtime` and `Container` here, so the rest
//! of the code speaks our types and our error strings.

use crate::error::{EngineCause, Error, ExecKind, Result, chain_message};
use crate::runtime::bundle::{self, Origin, Prepared};
use crate::runtime::crashpoints::{self, pause_at};
use crate::runtime::executor::CellosExecutor;
use crate::runtime::lock::{self, ContainerLock};
use crate::runtime::{cgroupfs, pidfile};
use crate::{ids, trace};
use libcgroups::common::{CgroupConfig, CgroupManager, ControllerOpt, FreezerState};
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::container::{Container as LcContainer, ContainerStatus};
use libcontainer::error::LibcontainerError;
use libcontainer::syscall::syscall::SyscallType;
use nix::sys::signal::kill;
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Where we keep the engine-facing copy of each bundle's config. `@` cannot
/// appear in a container ID, so this never collides with a container.
const BUNDLES_DIR: &str = "@bundles";

pub struct Runtime {
    root: PathBuf,
    systemd: bool,
    /// The container locks this process holds (see lock.rs), by ID.
    locks: Mutex<HashMap<String, ContainerLock>>,
}

/// What `create` and `run` pass in.
#[derive(Debug, Default, Clone)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: i32,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// A foreground `run` keeps the container attached to our stdio.
    pub detach: bool,
    /// The caller already holds the ID (`Runtime::claim`), e.g. for a
    /// console socket in the scratch dir; `create` then owns the claim.
    pub claimed: bool,
}

/// What `exec` passes in: the complete process, already built by the
/// caller (commands/exec.rs), and how to attach it.
#[derive(Debug, Default, Clone)]
pub struct ExecOptions {
    pub process: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: i32,
    pub detach: bool,
    pub ignore_paused: bool,
    pub sub_cgroup: Option<String>,
}

fn engine_err(op: &'static str, id: &str, e: LibcontainerError) -> Error {
    match e {
        LibcontainerError::Exist => Error::Exists(id.to_string()),
        LibcontainerError::NoDirectory => Error::NotExist(id.to_string()),
        e => engine_failure(op, id, &e),
    }
}

/// A libcontainer or libcgroups error as the cause of `op`. Their errors
/// nest the same text several levels deep, and libcontainer hands a
/// failure of the container's init over as text (`CreateContainerError`
/// keeps its inner error private), so the cause is that text with the
/// wrapping libcontainer adds taken off; whether it is an exec failure is
/// read from the words our executor wrote (`ExecKind::of_reported`).
fn engine_failure(op: &'static str, id: &str, e: &(dyn std::error::Error + 'static)) -> Error {
    let msg = unwrap_engine_text(&engine_chain(e));
    let cause = match ExecKind::of_reported(&msg) {
        Some(kind) => EngineCause::Exec { kind, msg },
        None => EngineCause::Other { msg },
    };
    Error::Engine {
        op,
        id: id.to_string(),
        cause,
    }
}

/// A foreign error's chain in one line, each text once: libcontainer's
/// variants both print and return their source.
fn engine_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for s in crate::error::chain_texts(err) {
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}

/// The prefixes libcontainer's Display impls put around the init's own
/// error (`CreateContainerError`, `ChannelError::ExecError`/`OtherError`,
/// `LibcontainerError::OtherIO`); what is left says what went wrong.
fn unwrap_engine_text(msg: &str) -> String {
    let mut m = msg.to_string();
    for noise in [
        "failed to create container: ",
        "exec process failed with error ",
        "error in executing process : ",
        "intermediate process error ",
        "io error: ",
    ] {
        m = m.replace(noise, "");
    }
    m
}

impl Runtime {
    pub fn new(root: &Path, systemd: bool) -> Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(root)
            .map_err(|e| Error::io(root, e))?;
        let root = root.canonicalize().map_err(|e| Error::io(root, e))?;
        // Not root: a state root someone else owns (say a /tmp fallback that
        // another user made first) would let them forge our containers.
        let euid = nix::unistd::geteuid();
        if !euid.is_root() {
            use std::os::unix::fs::MetadataExt;
            let owner = std::fs::metadata(&root)
                .map_err(|e| Error::io(&root, e))?
                .uid();
            if owner != euid.as_raw() {
                return Err(Error::ForeignRoot {
                    root,
                    owner,
                    euid: euid.as_raw(),
                });
            }
        }
        Ok(Self {
            root,
            systemd,
            locks: Mutex::default(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Our private directory for container `id` (created on demand; removed
    /// by delete or a failed create): the patched config, origin.json, exec
    /// process files, console sockets, tmpcopyup staging.
    pub fn scratch_dir(&self, id: &str) -> PathBuf {
        self.root.join(BUNDLES_DIR).join(id)
    }

    fn read_origin(&self, id: &str) -> Origin {
        bundle::read_origin(&self.scratch_dir(id))
    }

    /// Take the ID for a new container: one mkdir of its scratch dir, which
    /// exists from here until `delete`, so exactly one of any number of
    /// racing creates gets it, before any of them has changed anything.
    /// Returns the scratch dir, which the caller then owns (see `release`).
    pub fn claim(&self, id: &str) -> Result<PathBuf> {
        use std::os::unix::fs::DirBuilderExt;
        ids::validate(id)?;
        let dir = self.scratch_dir(id);
        let parent = self.root.join(BUNDLES_DIR);
        let mut builder = std::fs::DirBuilder::new();
        builder.mode(0o700);
        // A delete removes an empty @bundles; make it again and retry.
        let mut tries = 0;
        loop {
            match builder.create(&dir) {
                // The lock is made with the ID; a delete that swept the
                // dir before (it took it for a dead claim) makes us go again.
                Ok(()) => match lock::create(&dir) {
                    Ok(Some(l)) => {
                        self.held().insert(id.to_string(), l);
                        break;
                    }
                    Ok(None) if tries < 100 => tries += 1,
                    Ok(None) => return Err(Error::Exists(id.to_string())),
                    Err(e) => {
                        remove_scratch(&dir);
                        return Err(Error::io(&dir, e));
                    }
                },
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(Error::Exists(id.to_string()));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && tries < 100 => {
                    tries += 1;
                    match builder.create(&parent) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                        Err(e) => return Err(Error::io(&parent, e)),
                    }
                }
                Err(e) => return Err(Error::io(&dir, e)),
            }
        }
        // A state dir without a scratch dir: a delete that failed halfway.
        if self.container_dir(id).exists() {
            remove_scratch(&dir);
            self.unlock(id);
            return Err(Error::Exists(id.to_string()));
        }
        Ok(dir)
    }

    /// Undo a `claim` whose create did not happen.
    pub fn release(&self, id: &str) {
        remove_scratch(&self.scratch_dir(id));
        self.unlock(id);
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, ContainerLock>> {
        self.locks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take the lock of container `id` (waiting for whoever holds it), or
    /// keep it if this process has it already. False: no such container
    /// any more, e.g. the holder we waited for deleted it.
    pub fn lock(&self, id: &str) -> Result<bool> {
        ids::validate(id)?;
        let mut held = self.held();
        if held.contains_key(id) {
            return Ok(true);
        }
        let dir = self.scratch_dir(id);
        match lock::acquire(&dir) {
            Ok(Some(l)) => {
                held.insert(id.to_string(), l);
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) => Err(Error::io(&dir, e)),
        }
    }

    /// Let other runtimes at container `id` again (e.g. while a foreground
    /// process runs). Dying releases it too.
    pub fn unlock(&self, id: &str) {
        self.held().remove(id);
    }

    /// `load` under the container's lock, for every verb that changes it.
    /// A container deleted while we waited does not exist.
    pub fn load_locked(&self, id: &str) -> Result<Container> {
        // A state dir without a scratch dir (and so without a lock) was
        // made by an older version: it is still loaded, unlocked.
        if !self.lock(id)? && !self.container_dir(id).join("state.json").exists() {
            return Err(Error::NotExist(id.to_string()));
        }
        self.load(id)
    }

    fn base_builder(&self, id: &str) -> Result<ContainerBuilder> {
        ContainerBuilder::new(id.to_string(), SyscallType::default())
            .with_executor(CellosExecutor)
            .with_root_path(&self.root)
            .map_err(|e| engine_err("open root for", id, e))
    }

    /// `create` (and the first half of `run`).
    pub fn create(&self, opts: &CreateOptions) -> Result<Container> {
        ids::validate(&opts.id)?;
        if self.systemd && !Path::new("/run/systemd/system").exists() {
            if opts.claimed {
                self.release(&opts.id);
            }
            return Err(Error::Unsupported(
                "--systemd-cgroup: systemd is not running on this host; use the cgroupfs driver (drop --systemd-cgroup)".into(),
            ));
        }
        // Nothing before this may touch the root: the ID may be another create's.
        if !opts.claimed {
            self.claim(&opts.id)?;
        }
        // From here on the scratch dir is ours, and so is undoing it.
        pause_at(crashpoints::CREATE_CLAIMED);
        let res = self
            .create_claimed(opts)
            .inspect_err(|_| self.release(&opts.id));
        // The library's callers (the supervisor) keep their Runtime for a
        // whole run: the lock must not outlive the verb.
        self.unlock(&opts.id);
        res
    }

    fn create_claimed(&self, opts: &CreateOptions) -> Result<Container> {
        let Prepared {
            config_dir,
            mut origin,
            mut staging,
            spec,
        } = bundle::prepare(&opts.id, &opts.bundle, &self.scratch_dir(&opts.id))?;
        trace::mark("config-load");
        pause_at(crashpoints::CREATE_PREPARED);
        // A rootless container may have no cgroup: refuse its limits then.
        if crate::runtime::rootless::is_rootless()
            && let Some(linux) = spec.linux()
        {
            let config = origin.bundle.join("config.json");
            crate::runtime::rootless::check_limits(linux, &config, self.systemd)?;
            // libcgroups waits on a silent user bus for minutes (busctl's
            // own 90 s auth timeout, twice): fail in seconds, in one line.
            if self.systemd && crate::runtime::rootless::uses_systemd_manager(linux) {
                crate::runtime::rootless::check_user_bus()?;
            }
        }
        if !opts.no_new_keyring {
            join_session_keyring()?;
        }
        let _marker = fork_marker(&self.scratch_dir(&opts.id));
        // A mount libcontainer fails is reported from its fields.
        crate::logging::expect_mounts(spec.mounts().as_deref().unwrap_or_default());
        // libcontainer runs our adjusted copy of the config (if any) but
        // records the caller's bundle, which hooks and `state` report.
        let mut init = self
            .base_builder(&opts.id)?
            .with_console_socket(opts.console_socket.as_ref())
            .with_preserved_fds(opts.preserve_fds)
            .as_init(&origin.bundle);
        if config_dir != origin.bundle {
            init = init.with_config_dir(&config_dir);
        }
        let built = init
            .with_systemd(self.systemd)
            .with_detach(opts.detach)
            .with_no_pivot(opts.no_pivot)
            .build();
        trace::mark("create");
        pause_at(crashpoints::CREATE_BUILT);
        // The container holds its own reference to staged mounts now (or failed).
        staging.release();
        let inner = built.map_err(|e| self.undo_failed_create(&opts.id, e))?;
        origin.init_start = inner.pid().and_then(|p| proc_start_time(p.as_raw()));
        origin.no_new_keyring = opts.no_new_keyring;
        let path = self.scratch_dir(&opts.id).join("origin.json");
        let saved = serde_json::to_vec(&origin)
            .map_err(|source| Error::Encode {
                what: "origin.json",
                source,
            })
            .and_then(|b| std::fs::write(&path, b).map_err(|e| Error::io(&path, e)));
        let container = Container {
            inner,
            origin,
            scratch: self.scratch_dir(&opts.id),
        };
        let pid = container.pid().unwrap_or(0);
        pause_at(crashpoints::CREATE_BEFORE_PID_FILE);
        if let Err(e) = saved.and_then(|()| match &opts.pid_file {
            Some(p) => pidfile::write_atomic(p, pid),
            None => Ok(()),
        }) {
            let mut c = container;
            let _ = c.delete(true);
            return Err(e);
        }
        Ok(container)
    }

    /// A create that libcontainer failed, maybe after it made the cgroups
    /// and forked the init. Its own cleanup gives the dying init about
    /// 0.2 s to leave them (libcgroups' `delete_with_retry`), then leaves
    /// them and adds "error during cleanup: ... could not delete" to the
    /// cause; a loaded host is slower than that. Finish the job as
    /// `delete --force` does: every process it forked killed and waited
    /// for, the cgroups on every hierarchy removed with retries, the state
    /// dir gone. The error then names only the cause; if our cleanup fails
    /// too, one warning says what is left.
    fn undo_failed_create(&self, id: &str, e: LibcontainerError) -> Error {
        if matches!(e, LibcontainerError::Exist | LibcontainerError::NoDirectory) {
            // Nothing was made: the state dir may be another container's.
            return engine_err("create", id, e);
        }
        let mut err = engine_err("create", id, e);
        kill_orphans(&self.scratch_dir(id));
        let cgroup = self.cgroup_path_of(id);
        if let Err(left) = self.sweep(id, cgroup.as_deref()) {
            warn(&format!(
                "container \"{id}\": cleanup after the failed create: {}",
                chain_message(&left)
            ));
        }
        // libcontainer appends its cleanup's failure to the cause as text
        // (`CreateContainerError` keeps it private); ours replaced it.
        if let Error::Engine {
            cause: EngineCause::Exec { msg, .. } | EngineCause::Other { msg },
            ..
        } = &mut err
            && let Some(i) = msg.find(". error during cleanup: ")
        {
            msg.truncate(i);
        }
        err
    }

    pub fn load(&self, id: &str) -> Result<Container> {
        ids::validate(id)?;
        let dir = self.container_dir(id);
        if !dir.join("state.json").exists() {
            return Err(Error::NotExist(id.to_string()));
        }
        let mut inner = load_state(&dir, id)?;
        inner
            .refresh_status()
            .map_err(|e| engine_err("load", id, e))?;
        let mut c = Container {
            inner,
            origin: self.read_origin(id),
            scratch: self.scratch_dir(id),
        };
        // The init died and its pid went to another process: the container
        // has stopped, and nothing may reach that process through it
        // (libcontainer's delete would SIGKILL it).
        if c.status() != Status::Stopped
            && let Some(pid) = c.inner.pid()
            && !c.is_init(pid.as_raw())
        {
            c.inner.state.pid = None;
            c.inner.set_status(ContainerStatus::Stopped);
        }
        Ok(c)
    }

    /// Every container under the root, sorted by ID. Unreadable entries are skipped.
    pub fn list(&self) -> Result<Vec<Container>> {
        let mut out = Vec::new();
        let entries = std::fs::read_dir(&self.root).map_err(|e| Error::io(&self.root, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if ids::validate(&name).is_ok()
                && entry.path().join("state.json").exists()
                && let Ok(c) = self.load(&name)
            {
                out.push(c);
            }
        }
        out.sort_by(|a, b| a.id().cmp(b.id()));
        Ok(out)
    }

    /// Start a new process in a running container, as the caller loaded
    /// it (under its lock). Returns the process's host pid.
    pub fn exec(&self, container: &Container, opts: &ExecOptions) -> Result<Pid> {
        let id = container.id();
        match container.status() {
            Status::Running => {}
            Status::Paused if opts.ignore_paused => {}
            s => {
                return Err(Error::WrongState {
                    id: id.to_string(),
                    status: s.as_str().into(),
                    what: "cannot exec in a container that is not running",
                });
            }
        }
        if !container.origin.no_new_keyring {
            join_session_keyring()?;
        }
        let _marker = fork_marker(&self.scratch_dir(id));
        pause_at(crashpoints::EXEC_BEFORE_BUILD);
        let pid = self
            .base_builder(id)?
            .with_console_socket(opts.console_socket.as_ref())
            .with_preserved_fds(opts.preserve_fds)
            .as_tenant()
            .with_detach(opts.detach)
            .with_process(Some(&opts.process))
            .with_ignore_paused(opts.ignore_paused)
            .with_sub_cgroup(opts.sub_cgroup.clone())
            .build()
            .map_err(|e| engine_err("exec in", id, e))?;
        pause_at(crashpoints::EXEC_BUILT);
        if let Some(p) = &opts.pid_file {
            pidfile::write_atomic(p, pid.as_raw())?;
        }
        Ok(pid)
    }
}

/// A container's status in the runtime spec's words: our own type, so
/// that no caller depends on libcontainer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Stopped,
    Paused,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Stopped => "stopped",
            Status::Paused => "paused",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<ContainerStatus> for Status {
    fn from(s: ContainerStatus) -> Self {
        match s {
            ContainerStatus::Creating => Status::Creating,
            ContainerStatus::Created => Status::Created,
            ContainerStatus::Running => Status::Running,
            ContainerStatus::Stopped => Status::Stopped,
            ContainerStatus::Paused => Status::Paused,
        }
    }
}

pub struct Container {
    inner: LcContainer,
    origin: Origin,
    /// Our private directory for the container (`Runtime::scratch_dir`).
    scratch: PathBuf,
}

/// The runc-shaped state that `state` and `list --format json` print.
#[derive(Debug, Serialize, Deserialize, Clone, PartialEq)]
pub struct StateView {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub annotations: HashMap<String, String>,
    pub owner: String,
}

impl Container {
    pub fn id(&self) -> &str {
        self.inner.id()
    }

    pub fn status(&self) -> Status {
        self.inner.status().into()
    }

    /// The init's host pid, or None once it has exited.
    pub fn pid(&self) -> Option<i32> {
        match self.status() {
            Status::Stopped => None,
            _ => self.inner.pid().map(|p| p.as_raw()),
        }
    }

    /// Whether create set HOME for the init's user (exec must not reuse it
    /// for another user).
    pub fn home_set(&self) -> bool {
        self.origin.home_set
    }

    pub fn bundle(&self) -> &Path {
        if self.origin.bundle.as_os_str().is_empty() {
            self.inner.bundle()
        } else {
            &self.origin.bundle
        }
    }

    pub fn view(&self) -> StateView {
        StateView {
            oci_version: crate::OCI_VERSION.to_string(),
            id: self.id().to_string(),
            pid: self.pid().unwrap_or(0),
            status: self.status().to_string(),
            bundle: self.bundle().to_path_buf(),
            rootfs: self.origin.rootfs.clone(),
            created: self
                .inner
                .created()
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
                .unwrap_or_default(),
            annotations: self.inner.state.annotations.clone().unwrap_or_default(),
            owner: String::new(),
        }
    }

    pub fn start(&mut self) -> Result<()> {
        let id = self.id().to_string();
        if self.status() != Status::Created {
            return Err(Error::WrongState {
                id,
                status: self.status().as_str().into(),
                what: "cannot start a container that is not created",
            });
        }
        pause_at(crashpoints::START_LOCKED);
        match self.inner.start() {
            Ok(()) => {}
            // The process runs already: per the runtime spec a failed
            // poststart hook is a warning and the lifecycle goes on.
            Err(LibcontainerError::Hook(e)) if self.status() == Status::Running => {
                warn(&format!(
                    "container \"{id}\": poststart hook failed: {}",
                    engine_chain(&e)
                ));
            }
            Err(e) => return Err(engine_err("start", &id, e)),
        }
        trace::mark("start");
        Ok(())
    }

    fn cgroup_manager(&self) -> Result<libcgroups::common::AnyCgroupManager> {
        let id = self.id().to_string();
        let config = self
            .inner
            .spec()
            .map_err(|e| engine_err("read config of", &id, e))?;
        libcgroups::common::create_cgroup_manager(CgroupConfig {
            cgroup_path: config.cgroup_path,
            systemd_cgroup: self.inner.systemd(),
            container_name: id.clone(),
        })
        .map_err(|e| engine_failure("open cgroup of", &id, &e))
    }

    /// Host pids of every process in the container's cgroup.
    pub fn pids(&self) -> Result<Vec<i32>> {
        let m = self.cgroup_manager()?;
        let mut pids: Vec<i32> = m
            .get_all_pids()
            .map_err(|e| engine_failure("list processes of", self.id(), &e))?
            .into_iter()
            .map(|p| p.as_raw())
            .collect();
        pids.sort_unstable();
        Ok(pids)
    }

    /// Whether `pid` is still the init this container was created with
    /// (same start time), not a later process that got its pid.
    fn is_init(&self, pid: i32) -> bool {
        match self.origin.init_start {
            Some(start) => proc_start_time(pid) == Some(start),
            // Created before start times were recorded.
            None => true,
        }
    }

    /// Send a signal to the init, or with `all` to every process in the cgroup.
    /// Done here rather than in libcontainer: it marks a container stopped
    /// after any signal, and it cannot send real-time signals.
    pub fn kill(&mut self, sig: i32, all: bool) -> Result<()> {
        if all {
            return self.kill_all(sig);
        }
        let id = self.id().to_string();
        let pid = match (self.status(), self.inner.pid()) {
            (Status::Stopped, _) | (_, None) => return Err(Error::NotRunning(id)),
            (_, Some(pid)) => pid.as_raw(),
        };
        // A pidfd pins the process; checked after opening it, the start time
        // proves it is the init and not a process that reused its pid since.
        let pidfd = match pidfd_open(pid) {
            Ok(fd) => Some(fd),
            Err(nix::Error::ESRCH) => return Err(Error::NotRunning(id)),
            Err(_) => None,
        };
        if !self.is_init(pid) {
            return Err(Error::NotRunning(id));
        }
        let sent = match &pidfd {
            Some(fd) => pidfd_send_signal(fd, sig),
            None => raw_kill(pid, sig),
        };
        match sent {
            Ok(()) => {}
            Err(nix::Error::ESRCH) => return Err(Error::NotRunning(id)),
            Err(e) => {
                return Err(Error::sys(
                    "kill",
                    format!("pid {pid} of container {id:?}"),
                    e,
                ));
            }
        }
        // A frozen v1 cgroup holds even SIGKILL until thawed.
        if sig == libc::SIGKILL && self.status() == Status::Paused {
            self.thaw_after_kill();
        }
        Ok(())
    }

    /// Signal every process of the container. The cgroup is frozen
    /// meanwhile, so that no process can fork a new one between our reading
    /// the list and signalling it; v2's cgroup.kill does that in the kernel.
    fn kill_all(&mut self, sig: i32) -> Result<()> {
        // Stopped, and its cgroup gone (systemd removes a scope with its last
        // process): nothing is left to signal. Succeed, as runc does;
        // containerd's shim sends this after every exit and retries on error.
        if self.status() == Status::Stopped && self.pids().is_err() {
            return Ok(());
        }
        // No cgroup to list: the init is all we can reach, and a SIGKILL to it
        // takes the rest of its pid namespace along.
        if self.cgroupless() {
            return self.kill(sig, false);
        }
        if sig == libc::SIGKILL
            && let Some(file) = self.cgroup_kill_file()
            && std::fs::write(&file, "1").is_ok()
        {
            return Ok(());
        }
        let paused = self.status() == Status::Paused;
        let m = self.cgroup_manager()?;
        if !paused && let Err(e) = m.freeze(FreezerState::Frozen) {
            warn(&format!(
                "container \"{}\": freeze before kill --all failed: {}",
                self.id(),
                engine_chain(&e)
            ));
        }
        let pids = self.pids();
        for pid in pids.as_deref().unwrap_or_default() {
            let _ = raw_kill(*pid, sig);
        }
        // A paused container stays paused, except that a frozen v1 cgroup
        // holds SIGKILL until thawed.
        if !paused || sig == libc::SIGKILL {
            self.thaw_after_kill();
        }
        pids.map(drop)
    }

    fn thaw_after_kill(&self) {
        let thawed = self.cgroup_manager().and_then(|m| {
            m.freeze(FreezerState::Thawed)
                .map_err(|e| engine_failure("thaw", self.id(), &e))
        });
        if let Err(e) = thawed {
            warn(&chain_message(&e));
        }
    }

    /// cgroup v2's cgroup.kill of this container's cgroup (cgroupfs
    /// driver, kernel 5.14+), if there is one.
    fn cgroup_kill_file(&self) -> Option<PathBuf> {
        use libcgroups::common::{CgroupSetup, DEFAULT_CGROUP_ROOT, get_cgroup_setup};
        if self.inner.systemd() || !matches!(get_cgroup_setup().ok()?, CgroupSetup::Unified) {
            return None;
        }
        let config = self.inner.spec().ok()?;
        let rel = config.cgroup_path.strip_prefix("/").ok()?.to_path_buf();
        let file = Path::new(DEFAULT_CGROUP_ROOT).join(rel).join("cgroup.kill");
        file.exists().then_some(file)
    }

    pub fn delete(&mut self, force: bool) -> Result<()> {
        let id = self.id().to_string();
        match self.status() {
            Status::Running | Status::Paused | Status::Creating if !force => {
                return Err(Error::WrongState {
                    id,
                    status: self.status().as_str().into(),
                    what: "cannot delete a container that is not stopped (use --force)",
                });
            }
            _ => {}
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let running = self.status() != Status::Stopped;
        // What we kill, with start times: gone, not just dying, when we
        // return (a killed task leaves its cgroup before it has exited).
        let mut killed = Vec::new();
        let mut v1 = None;
        // Killed here rather than inside libcontainer's delete, so that the
        // kill and the cgroup removal are steps a crash can fall between;
        // either way a later `delete --force` finishes the job.
        if running && self.cgroupless() {
            // No cgroup to kill through (rootless): SIGKILL to the init
            // takes its pid namespace along; wait until it is gone.
            self.kill_init_and_wait(deadline);
        } else if let Some(dirs) = (running || force).then(|| self.plain_v1_dirs()).flatten() {
            // Without libcgroups' manager, which reads mountinfo once per
            // controller for each of a freeze, a list and a thaw. A stopped
            // init may have left processes behind (no pid namespace) or
            // child cgroups; usually its pid namespace took everything
            // along, and each directory goes with one rmdir. Only what
            // refuses (EBUSY) is searched and killed.
            let dirs = if running {
                dirs
            } else {
                cgroupfs::remove_empty(dirs)
            };
            let mut all = Vec::new();
            for d in &dirs {
                collect_post_order(d, &mut all);
            }
            killed = kill_in_cgroups(&all);
            v1 = Some(all);
        } else if running {
            if let Ok(config) = self.inner.spec() {
                for d in cgroup_dirs_of(Some(&config.cgroup_path)) {
                    killed.extend(cgroup_procs(&d));
                }
            }
            if let Err(e) = self.kill_all(libc::SIGKILL) {
                tracing::warn!(
                    "container {id:?}: kill before delete: {}",
                    chain_message(&e)
                );
            }
        }
        if running {
            pause_at(crashpoints::DELETE_KILLED);
            // What is left in the cgroup dies while it is removed.
            self.inner.set_status(ContainerStatus::Stopped);
        }
        let res = if let Some(dirs) = v1.or_else(|| self.plain_v1_delete()) {
            cgroupfs::remove_dirs(&dirs, deadline)
                .map_err(|(path, e)| Error::io(&path, e))
                .and_then(|()| {
                    pause_at(crashpoints::DELETE_CGROUPS_REMOVED);
                    std::fs::remove_dir_all(&self.inner.root)
                        .map_err(|e| Error::io(&self.inner.root, e))
                })
        } else {
            self.delete_through_libcontainer(&id, deadline)
        };
        remove_scratch(&self.scratch);
        wait_gone(&killed);
        trace::mark("delete");
        res
    }

    fn delete_through_libcontainer(
        &mut self,
        id: &str,
        deadline: std::time::Instant,
    ) -> Result<()> {
        loop {
            match self.inner.delete(true) {
                // libcontainer runs the poststop hooks after killing the processes
                // and removing the cgroup (all of them, even after a failing one:
                // vendor patch 2), and then stops before it removes the state dir.
                // The runtime spec makes that a warning: a delete (and
                // containerd's `delete --force`) must still succeed.
                Err(LibcontainerError::Hook(e)) => {
                    warn(&format!(
                        "container \"{id}\": poststop hook failed: {}",
                        engine_chain(&e)
                    ));
                    break std::fs::remove_dir_all(&self.inner.root)
                        .map_err(|e| Error::io(&self.inner.root, e));
                }
                // A killed process keeps its cgroup busy until it has fully
                // exited, and libcontainer gives up on the rmdir after ~100 ms:
                // too short on a loaded host. It is safe to go again.
                Err(LibcontainerError::CgroupManager(_))
                    if std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                r => break r.map_err(|e| engine_err("delete", id, e)),
            }
        }
    }

    /// A rootless container whose cgroup could not be made runs without one
    /// (see rootless.rs).
    /// Checked whoever asks, so that root can clean up after a user.
    fn cgroupless(&self) -> bool {
        if self.inner.systemd() {
            return false;
        }
        let Ok(config) = self.inner.spec() else {
            return false;
        };
        crate::runtime::rootless::cgroup_dirs(&config.cgroup_path)
            .is_some_and(|(dirs, _)| dirs.iter().all(|d| !d.exists()))
    }

    /// SIGKILL the init, if it still is ours, and wait for it to exit.
    fn kill_init_and_wait(&self, deadline: std::time::Instant) {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        use std::os::fd::AsFd;
        let Some(pid) = self.inner.pid().map(|p| p.as_raw()) else {
            return;
        };
        let Ok(fd) = pidfd_open(pid) else { return };
        if !self.is_init(pid) || pidfd_send_signal(&fd, libc::SIGKILL).is_err() {
            return;
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let ms = PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32)
            .unwrap_or(PollTimeout::NONE);
        // A pidfd becomes readable when its process exits.
        let _ = poll(&mut [PollFd::new(fd.as_fd(), PollFlags::POLLIN)], ms);
    }

    /// The cgroup v1 directories to remove when deleting this container needs
    /// nothing else from libcontainer: it has stopped, has no poststop hooks
    /// and no Intel RDT group, and its cgroups are plain cgroupfs v1 ones.
    /// Then one read of mountinfo replaces libcgroups' two dozen (see
    /// cgroupfs.rs); in every other case libcontainer deletes it.
    fn plain_v1_delete(&self) -> Option<Vec<PathBuf>> {
        if self.status() != Status::Stopped {
            return None;
        }
        self.plain_v1_dirs()
    }

    /// This container's cgroup v1 directories, when they are plain cgroupfs
    /// ones and its delete needs nothing else from libcontainer (see
    /// `plain_v1_delete`), whatever its status.
    fn plain_v1_dirs(&self) -> Option<Vec<PathBuf>> {
        use libcgroups::common::{CgroupSetup, get_cgroup_setup};
        if self.inner.systemd() || self.inner.intel_rdt_dir().is_some() {
            return None;
        }
        let config = self.inner.spec().ok()?;
        let poststop = config.hooks.as_ref().and_then(|h| h.poststop().as_ref());
        if poststop.is_some_and(|h| !h.is_empty()) {
            return None;
        }
        if !matches!(
            get_cgroup_setup().ok()?,
            CgroupSetup::Legacy | CgroupSetup::Hybrid
        ) {
            return None;
        }
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        cgroupfs::v1_dirs(&mountinfo, &config.cgroup_path)
    }

    pub fn pause(&mut self) -> Result<()> {
        let id = self.id().to_string();
        if self.status() != Status::Running {
            return Err(Error::WrongState {
                id,
                status: self.status().as_str().into(),
                what: "cannot pause a container that is not running",
            });
        }
        self.inner.pause().map_err(|e| engine_err("pause", &id, e))
    }

    pub fn resume(&mut self) -> Result<()> {
        let id = self.id().to_string();
        if self.status() != Status::Paused {
            return Err(Error::WrongState {
                id,
                status: self.status().as_str().into(),
                what: "cannot resume a container that is not paused",
            });
        }
        self.inner
            .resume()
            .map_err(|e| engine_err("resume", &id, e))
    }

    /// Apply new cgroup limits to a live container.
    pub fn update(&self, resources: &LinuxResources) -> Result<()> {
        if self.status() == Status::Stopped {
            return Err(Error::NotRunning(self.id().into()));
        }
        // Like runc, an update that does not mention disableOOMKiller keeps
        // the container's own setting instead of resetting it.
        let disable_oom_killer = resources
            .memory()
            .as_ref()
            .and_then(|m| m.disable_oom_killer())
            .or_else(|| self.configured_disable_oom_killer())
            .unwrap_or(false);
        self.cgroup_manager()?
            .apply(&ControllerOpt {
                resources,
                disable_oom_killer,
                oom_score_adj: None,
                freezer_state: None,
            })
            .map_err(|e| engine_failure("update", self.id(), &e))
    }

    /// `linux.resources.memory.disableOOMKiller` of the config the container runs.
    fn configured_disable_oom_killer(&self) -> Option<bool> {
        let spec = oci_spec::runtime::Spec::load(self.engine_config_path()).ok()?;
        spec.linux()
            .as_ref()?
            .resources()
            .as_ref()?
            .memory()
            .as_ref()?
            .disable_oom_killer()
    }

    /// Stats as JSON, for `events --stats`.
    pub fn stats(&self) -> Result<serde_json::Value> {
        let s = self
            .cgroup_manager()?
            .stats()
            .map_err(|e| engine_failure("read stats of", self.id(), &e))?;
        serde_json::to_value(&s).map_err(|source| Error::Encode {
            what: "stats",
            source,
        })
    }
}

/// A problem that does not fail the command: to the log, and one line on stderr.
fn warn(msg: &str) {
    tracing::warn!("{msg}");
    eprintln!("cellos-runtime: warning: {msg}");
}

/// Remove a container's scratch dir, and `@bundles` with it once empty,
/// so that the root is left as empty as runc leaves it. A create racing
/// with us makes `@bundles` again (see `Runtime::claim`).
fn remove_scratch(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    if let Some(parent) = dir.parent() {
        let _ = std::fs::remove_dir(parent);
    }
}

/// Field 22 of /proc/<pid>/stat: when the process started, in clock ticks
/// since boot. With the pid, it names one process for the host's uptime.
fn proc_start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses.
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Give the processes we fork next a new anonymous session keyring. Done
/// here, on the thread that forks, because the container's own seccomp
/// filter may deny keyctl; keyrings are inherited. Like runc, only a kernel
/// without keyrings (ENOSYS) is no error.
fn join_session_keyring() -> Result<()> {
    // SAFETY: KEYCTL_JOIN_SESSION_KEYRING with a NULL name reads no memory.
    let r = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            libc::KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    match nix::Error::result(r) {
        Ok(_) | Err(nix::Error::ENOSYS) => Ok(()),
        Err(e) => Err(Error::sys("keyctl", "join a new session keyring", e)),
    }
}

fn pidfd_open(pid: i32) -> nix::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open returns a new fd that we own, or -1.
    let fd = nix::Error::result(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: the fd was just returned to us and nothing else owns it.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) })
}

fn pidfd_send_signal(fd: &std::os::fd::OwnedFd, sig: i32) -> nix::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a signal number and a pidfd we own; no siginfo.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    nix::Error::result(r).map(drop)
}

fn raw_kill(pid: i32, sig: i32) -> nix::Result<()> {
    match crate::signals::as_standard(sig) {
        Some(s) => kill(Pid::from_raw(pid), Some(s)),
        // SAFETY: kill(2) with a validated real-time signal number.
        None => nix::Error::result(unsafe { libc::kill(pid, sig) }).map(drop),
    }
}

impl Container {
    /// Our private directory for this container (never the caller's bundle).
    pub fn scratch_dir(&self) -> &Path {
        &self.scratch
    }

    /// The config.json libcontainer runs this container from (the caller's,
    /// or our patched copy of it).
    pub fn engine_config_path(&self) -> PathBuf {
        self.inner.config_dir().join("config.json")
    }
}

/// libcontainer's state of a container, read without the lock: a reader
/// can meet state.json while libcontainer rewrites it in place (it is
/// truncated, then written), so a torn read is tried again, and a file
/// that a delete removed meanwhile means the container is gone.
fn load_state(dir: &Path, id: &str) -> Result<LcContainer> {
    let mut tries = 0;
    loop {
        match LcContainer::load(dir.to_path_buf()) {
            Ok(c) => return Ok(c),
            Err(_) if !dir.join("state.json").exists() => {
                return Err(Error::NotExist(id.to_string()));
            }
            Err(_) if tries < 5 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            Err(e) => return Err(engine_err("load", id, e)),
        }
    }
}

impl Runtime {
    /// `delete [--force] ID`, under the container's lock. A forced delete
    /// ends with nothing of the container left, whatever state a runtime
    /// killed halfway through create, start, exec or delete left it in:
    /// after the normal path, `sweep` removes what is still there. A
    /// container that went through create with nothing of it half-done
    /// skips the look for orphans and the sweep unless its delete fails.
    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        ids::validate(id)?;
        let locked = self.lock(id)?;
        if !locked && !self.container_dir(id).exists() {
            // A create killed before its claim leaves an empty @bundles.
            let _ = std::fs::remove_dir(self.root.join(BUNDLES_DIR));
            return if force {
                Ok(())
            } else {
                Err(Error::NotExist(id.to_string()))
            };
        }
        if !force {
            return self.load(id)?.delete(false);
        }
        // The normal path: a container whose create went through (its
        // init's start time is recorded) and with no process of a create or
        // exec still alive is deleted as a plain delete would be, after a
        // kill. Only when that leaves something behind is there a sweep.
        let scratch = self.scratch_dir(id);
        if !forks_alive(&scratch)
            && let Ok(mut c) = self.load(id)
            && c.origin.init_start.is_some()
        {
            let cgroup = c.inner.spec().ok().map(|s| s.cgroup_path.clone());
            let res = match c.delete(true) {
                Ok(()) if !self.container_dir(id).exists() && !scratch.exists() => Ok(()),
                r => {
                    if let Err(e) = r {
                        tracing::warn!("container {id:?}: delete: {e}; cleaning up by hand");
                    }
                    self.sweep(id, cgroup.as_deref())
                }
            };
            self.unlock(id);
            return res;
        }
        // Read before the normal path removes the configs it is named in.
        let cgroup = self.cgroup_path_of(id);
        // Whatever runs in the container now must be gone when we return,
        // not just dying: the caller may look right after.
        let mut procs = Vec::new();
        for d in cgroup_dirs_of(cgroup.as_deref()) {
            procs.extend(cgroup_procs(&d));
        }
        let loaded = self.load(id);
        // A create killed before libcontainer recorded the init's pid looks
        // stopped too; only one that got as far as the init's start time
        // (written after the build) has no forks of a dead create left.
        let complete =
            |c: &Container| c.status() == Status::Stopped && c.origin.init_start.is_some();
        if !loaded.as_ref().is_ok_and(complete) {
            kill_orphans(&scratch);
        }
        match loaded.and_then(|mut c| c.delete(true)) {
            Ok(()) | Err(Error::NotExist(_)) => {}
            Err(e) => tracing::warn!(
                "container {id:?}: delete: {}; cleaning up by hand",
                chain_message(&e)
            ),
        }
        let res = self.sweep(id, cgroup.as_deref());
        wait_gone(&procs);
        self.unlock(id);
        res
    }

    /// The container's cgroups path: from libcontainer's copy of the config
    /// if it got that far, else from the config we prepared or the
    /// caller's; our default when none of them is left.
    fn cgroup_path_of(&self, id: &str) -> Option<PathBuf> {
        if let Ok(c) = libcontainer::config::YoukiConfig::load(self.container_dir(id)) {
            return Some(c.cgroup_path);
        }
        let scratch = self.scratch_dir(id);
        let origin = self.read_origin(id);
        let from_spec = |dir: &Path| {
            oci_spec::runtime::Spec::load(dir.join("config.json"))
                .ok()?
                .linux()
                .as_ref()?
                .cgroups_path()
                .clone()
        };
        from_spec(&scratch)
            .or_else(|| {
                (!origin.bundle.as_os_str().is_empty()).then(|| from_spec(&origin.bundle))?
            })
            .or_else(|| Some(PathBuf::from(format!("/cellos-{id}"))))
    }

    /// Remove whatever is left of container `id` with no help from
    /// libcontainer: every process in its cgroups, the cgroups on every
    /// hierarchy (children first), mounts below its state or scratch dir,
    /// then the state dir and, last, the scratch dir that holds the lock.
    fn sweep(&self, id: &str, cgroup: Option<&Path>) -> Result<()> {
        let state = self.container_dir(id);
        let scratch = self.scratch_dir(id);
        let dirs = cgroup_dirs_of(cgroup);
        if !dirs.is_empty() {
            let killed = kill_in_cgroups(&dirs);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            cgroupfs::remove_dirs(&dirs, deadline).map_err(|(path, e)| Error::io(&path, e))?;
            wait_gone(&killed);
        }
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        // Deepest first, so that no mount holds up one below it.
        let mut mounts: Vec<PathBuf> = mount_points(&mountinfo, |_| true)
            .into_iter()
            .filter(|m| m.starts_with(&state) || m.starts_with(&scratch))
            .collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
        for m in mounts {
            let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
        }
        match std::fs::remove_dir_all(&state) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::io(&state, e));
            }
            _ => {}
        }
        remove_scratch(&scratch);
        if scratch.exists() {
            return Err(Error::io(
                &scratch,
                std::io::Error::from(std::io::ErrorKind::DirectoryNotEmpty),
            ));
        }
        Ok(())
    }
}

/// A cgroups path as a relative path of plain names, or None (a systemd
/// slice:prefix:name, `..`, or nothing at all).
fn plain_relative(p: &Path) -> Option<PathBuf> {
    use std::path::Component;
    let mut rel = PathBuf::new();
    for c in p.components() {
        match c {
            Component::RootDir => {}
            Component::Normal(n) if !n.to_string_lossy().contains(':') => rel.push(n),
            _ => return None,
        }
    }
    (!rel.as_os_str().is_empty()).then_some(rel)
}

/// Mount points in `mountinfo` whose filesystem type passes `fs`, with
/// the kernel's octal escapes (`\040` for a space) undone.
fn mount_points(mountinfo: &str, fs: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((fields, rest)) = line.split_once(" - ") else {
            continue;
        };
        let (Some(mp), Some(typ)) = (fields.split(' ').nth(4), rest.split(' ').next()) else {
            continue;
        };
        if !fs(typ) {
            continue;
        }
        let b = mp.as_bytes();
        let mut raw = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            let oct = b.get(i + 1..i + 4).and_then(|o| {
                std::str::from_utf8(o)
                    .ok()
                    .and_then(|o| u8::from_str_radix(o, 8).ok())
            });
            match (b[i], oct) {
                (b'\\', Some(c)) => {
                    raw.push(c);
                    i += 4;
                }
                (c, _) => {
                    raw.push(c);
                    i += 1;
                }
            }
        }
        out.push(PathBuf::from(std::ffi::OsString::from_vec(raw)));
    }
    out
}

/// `dir` and every cgroup below it, children before their parent.
fn collect_post_order(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            collect_post_order(&e.path(), out);
        }
    }
    out.push(dir.to_path_buf());
}

/// The container's directory on every cgroup hierarchy (v1 and v2) with
/// every cgroup below it, children first; empty for a path we do not sweep.
fn cgroup_dirs_of(cgroup: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(rel) = cgroup.and_then(plain_relative) {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for m in mount_points(&mountinfo, |fs| fs == "cgroup" || fs == "cgroup2") {
            collect_post_order(&m.join(&rel), &mut dirs);
        }
    }
    dirs
}

/// The processes in one cgroup, each with its start time (so that a pid
/// reused later is not taken for it).
fn cgroup_procs(dir: &Path) -> Vec<(i32, Option<u64>)> {
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    procs
        .lines()
        .filter_map(|l| l.trim().parse::<i32>().ok())
        .map(|pid| (pid, proc_start_time(pid)))
        .collect()
}

/// Wait (2 s at most) until each killed process is gone or a zombie: a
/// SIGKILLed task leaves its cgroup before it has finished exiting.
fn wait_gone(procs: &[(i32, Option<u64>)]) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    for &(pid, start) in procs {
        while std::time::Instant::now() < deadline
            && start.is_some()
            && proc_start_time(pid) == start
            && !is_zombie(pid)
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

/// SIGKILL every process in `dirs` (a container's cgroup directories, v1
/// or v2, children first), returning them once each with their start
/// times for `wait_gone`. No freeze first: whatever forks meanwhile is born
/// in the same cgroups, and `cgroupfs::remove_dirs` kills what it finds
/// there until each rmdir goes through. A frozen cgroup (paused, or a
/// `kill --all` that died frozen) holds SIGKILL until thawed, so each is
/// thawed after the kill.
fn kill_in_cgroups(dirs: &[PathBuf]) -> Vec<(i32, Option<u64>)> {
    let mut pids = Vec::new();
    for d in dirs {
        let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
        pids.extend(procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    }
    pids.sort_unstable();
    pids.dedup();
    let procs: Vec<_> = pids.into_iter().map(|p| (p, proc_start_time(p))).collect();
    for &(pid, _) in &procs {
        let _ = raw_kill(pid, libc::SIGKILL);
    }
    for d in dirs {
        for (file, thawed) in [("freezer.state", "THAWED"), ("cgroup.freeze", "0")] {
            let f = d.join(file);
            if f.exists() {
                let _ = std::fs::write(f, thawed);
            }
        }
    }
    procs
}

/// Kill what a runtime killed in the middle of `create` or `exec` left
/// running outside the container's cgroups: libcontainer's intermediate
/// process goes on creating and joining the cgroups one controller at a
/// time after its parent died, and would make them again behind our
/// removal. Every process libcontainer forks inherits our fd of the
/// marker file (until it execs), which names them, and only them.
fn kill_orphans(scratch: &Path) {
    let lock = scratch.join(FORK_MARKER);
    let me = std::process::id().to_string();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return;
    };
    let mut killed = Vec::new();
    for p in procs.flatten() {
        let name = p.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if name == me.as_str() {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        if fds
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t == lock))
        {
            killed.push((pid, proc_start_time(pid)));
            let _ = raw_kill(pid, libc::SIGKILL);
        }
    }
    // Gone (or a zombie) before we look at the cgroups they were making.
    wait_gone(&killed);
}

/// The file that `fork_marker` opens in the scratch dir.
const FORK_MARKER: &str = "forks";

/// Held open (close-on-exec) while libcontainer forks for a create or an
/// exec, so that `kill_orphans` can tell its processes by their copy of
/// the fd. Nothing else opens this file. Best effort: without it (a
/// container made by an older version has no scratch dir) only that
/// detection is lost.
fn fork_marker(scratch: &Path) -> Option<std::fs::File> {
    use std::os::fd::AsRawFd;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(scratch.join(FORK_MARKER))
        .ok()?;
    // A shared flock belongs to the open file, which every fork shares: it
    // is held until the last of them has exec'd or exited, so
    // `forks_alive` can tell without looking through every process's fds.
    // SAFETY: flock(2) on an fd we own.
    unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
    Some(f)
}

/// Whether a process of a create or exec (ours, or left by a runtime
/// killed halfway) still holds the fork marker open. Without a marker (a
/// container made by an older version) nothing is known: say yes.
fn forks_alive(scratch: &Path) -> bool {
    use std::os::fd::AsRawFd;
    let Ok(f) = std::fs::File::open(scratch.join(FORK_MARKER)) else {
        return true;
    };
    // SAFETY: flock(2) on an fd we own; the lock goes with it.
    unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) != 0 }
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with(['Z', 'X']))
        })
        .unwrap_or(true)
}

#[cfg(test)]
mod sweep_tests {
    use super::*;

    #[test]
    fn mount_points_undo_octal_escapes_and_filter_by_type() {
        let mi = "\
36 26 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
90 30 0:50 / /run/r/@bundles/a\\040b/tmpcopyup-0 rw - tmpfs tmpfs rw
91 30 0:51 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";
        let cg = mount_points(mi, |t| t == "cgroup" || t == "cgroup2");
        assert_eq!(
            cg,
            [
                PathBuf::from("/sys/fs/cgroup/memory"),
                PathBuf::from("/sys/fs/cgroup/unified")
            ]
        );
        let all = mount_points(mi, |_| true);
        assert_eq!(all[1], PathBuf::from("/run/r/@bundles/a b/tmpcopyup-0"));
    }

    #[test]
    fn only_plain_cgroup_paths_are_swept() {
        assert_eq!(
            plain_relative(Path::new("/cellos-x")),
            Some(PathBuf::from("cellos-x"))
        );
        assert_eq!(plain_relative(Path::new("a/b")), Some(PathBuf::from("a/b")));
        assert_eq!(plain_relative(Path::new("/a/../../etc")), None);
        assert_eq!(plain_relative(Path::new("system.slice:cellos:x")), None);
        assert_eq!(plain_relative(Path::new("/")), None);
    }
}
