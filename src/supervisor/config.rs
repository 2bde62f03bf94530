//! The supervisor's configuration, read from `CELLOS_*` variables.

use super::events::EventSink;
use super::{Refusal, exit};
use crate::cell::{Cell, Namespace};
use std::path::{Path, PathBuf};

/// Where the default state lives for `cellos-supervisor`.
pub const DEFAULT_STATE_DIR: &str = "/run/cellos-supervisor";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Skip an isolation feature the host lacks, with a warning.
    Portable,
    /// Refuse to start when an isolation feature is missing.
    Hardened,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// The built-in libcontainer engine, in process (`CELLOS_CELL_BACKEND=stub`,
    /// the seed contract's name for it).
    Builtin,
    /// An external OCI runtime driven through its CLI (cellos-runtime, runc, crun).
    Oci(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub namespaces: Vec<Namespace>,
    pub profile: Profile,
    pub backend: Backend,
    pub argv0_allow: Option<Vec<String>>,
    pub sink: EventSink,
    pub state_dir: PathBuf,
    /// Runtime state root for the built-in engine.
    pub runtime_root: PathBuf,
    pub systemd_cgroup: bool,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn refuse(msg: String) -> Refusal {
    Refusal::new(exit::REFUSED, msg)
}

impl Config {
    /// `cellos-supervisor`: everything from the environment.
    pub fn from_env() -> Result<Config, Refusal> {
        let state_dir = var("CELLOS_STATE_DIR")
            .map(PathBuf::from)
            .or_else(|| crate::runtime::rootless::user_dir("cellos-supervisor"))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR));
        Self::build(state_dir.clone(), state_dir.join("runtime"), false)
    }

    /// `cellos-runtime run --cell`: the runtime's own --root (`root`) holds
    /// the state unless CELLOS_STATE_DIR says otherwise. A refused setting
    /// is returned with the supervisor's exit code: `run --cell` shares the
    /// supervisor's exit codes, and the caller prints and exits.
    pub fn for_runtime(root: &Path, systemd_cgroup: bool) -> Result<Config, Refusal> {
        let (state, root) = match var("CELLOS_STATE_DIR") {
            Some(d) => (PathBuf::from(&d), PathBuf::from(d).join("runtime")),
            None => (root.to_path_buf(), root.to_path_buf()),
        };
        Self::build(state, root, systemd_cgroup)
    }

    fn build(state_dir: PathBuf, runtime_root: PathBuf, systemd: bool) -> Result<Config, Refusal> {
        if !state_dir.is_absolute() {
            return Err(refuse(format!(
                "CELLOS_STATE_DIR {:?} must be an absolute path",
                state_dir
            )));
        }
        let namespaces = match var("CELLOS_SUBPROCESS_UNSHARE") {
            Some(list) => {
                let ns = Namespace::parse_list(&list)
                    .map_err(|e| refuse(format!("CELLOS_SUBPROCESS_UNSHARE: {e}")))?;
                if ns.is_empty() {
                    return Err(refuse(
                        "CELLOS_SUBPROCESS_UNSHARE names no namespace".into(),
                    ));
                }
                ns
            }
            None => crate::cell::ConvertOptions::default().namespaces,
        };
        let profile = match var("CELLOS_DEPLOYMENT_PROFILE").as_deref() {
            None | Some("portable") => Profile::Portable,
            Some("hardened") => Profile::Hardened,
            Some(other) => {
                return Err(refuse(format!(
                    "CELLOS_DEPLOYMENT_PROFILE {other:?} is not one of: portable, hardened"
                )));
            }
        };
        let backend = match var("CELLOS_CELL_BACKEND").as_deref() {
            None | Some("stub") => Backend::Builtin,
            Some("oci") => Backend::Oci(match var("CELLOS_OCI_RUNTIME") {
                Some(p) => PathBuf::from(p),
                None => default_oci_runtime(),
            }),
            Some(other) => {
                return Err(refuse(format!(
                    "CELLOS_CELL_BACKEND {other:?} is not one of: stub, oci"
                )));
            }
        };
        let argv0_allow = match var("CELLOS_RUN_ARGV0_ALLOW_PREFIXES") {
            Some(list) => {
                let prefixes: Vec<String> = list
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect();
                for p in &prefixes {
                    if !p.starts_with('/') {
                        return Err(refuse(format!(
                            "CELLOS_RUN_ARGV0_ALLOW_PREFIXES: {p:?} is not an absolute path"
                        )));
                    }
                }
                Some(prefixes)
            }
            None => None,
        };
        // A malformed CELLOS_EVENT_SINK is refused even when the no-op sink
        // wins: a setting that is wrong must not go unnoticed.
        let configured = match var("CELLOS_EVENT_SINK") {
            Some(s) => EventSink::parse(&s).map_err(|e| refuse(e.to_string()))?,
            None => EventSink::Jsonl(state_dir.join("events.jsonl")),
        };
        // CELL_OS_USE_NOOP_SINK is the seed contract's spelling, kept as an alias.
        let noop = ["CELLOS_USE_NOOP_SINK", "CELL_OS_USE_NOOP_SINK"]
            .iter()
            .any(|n| var(n).as_deref() == Some("1"));
        let sink = if noop { EventSink::Noop } else { configured };
        Ok(Config {
            namespaces,
            profile,
            backend,
            argv0_allow,
            sink,
            state_dir,
            runtime_root,
            systemd_cgroup: systemd,
        })
    }

    pub fn sink(&self) -> EventSink {
        self.sink.clone()
    }

    pub fn bundles_dir(&self) -> PathBuf {
        // "@" cannot start a container ID, so this never collides with one.
        self.state_dir.join("@cells")
    }

    /// The namespaces to use on this host: a missing one is dropped with a
    /// warning (portable) or refuses the cell (hardened).
    pub fn usable_namespaces(&self, cell: &Cell) -> Result<Vec<Namespace>, Refusal> {
        if cell.working_directory().is_some() && !self.namespaces.contains(&Namespace::Mount) {
            return Err(refuse(
                "CELLOS_SUBPROCESS_UNSHARE must include \"mnt\" when spec.run.workingDirectory is set".into(),
            ));
        }
        let mut out = Vec::new();
        for ns in &self.namespaces {
            let probe = Path::new("/proc/self/ns").join(ns.name());
            if probe.exists() {
                out.push(*ns);
            } else if self.profile == Profile::Hardened {
                return Err(refuse(format!(
                    "hardened profile: this host has no {} namespace ({} is missing)",
                    ns.name(),
                    probe.display()
                )));
            } else {
                eprintln!(
                    "cellos: warning: this host has no {} namespace; running the cell without it (portable profile)",
                    ns.name()
                );
            }
        }
        // Without root, only a user namespace of its own lets the cell have
        // the others (the caller becomes its uid 0).
        if crate::runtime::rootless::is_rootless() && !out.contains(&Namespace::User) {
            out.push(Namespace::User);
        }
        Ok(out)
    }
}

/// The `cellos-runtime` installed beside the running binary.
///
/// After `seal::ensure_sealed` (which `run --cell` does first thing),
/// /proc/self/exe names the sealed image (a memfd or a detached overlay),
/// not the installed file, so argv[0] is the fallback: the re-exec keeps it.
fn default_oci_runtime() -> PathBuf {
    let beside = |exe: &Path| {
        exe.parent()
            .map(|d| d.join("cellos-runtime"))
            .filter(|p| p.is_file())
    };
    if let Some(p) = std::env::current_exe().ok().as_deref().and_then(beside) {
        return p;
    }
    if let Some(arg0) = std::env::args_os().next().map(PathBuf::from) {
        let invoked = if arg0.components().count() > 1 {
            Some(arg0)
        } else {
            // Found through PATH, like the shell found it.
            std::env::var_os("PATH").and_then(|path| {
                std::env::split_paths(&path)
                    .map(|d| d.join(&arg0))
                    .find(|p| p.is_file())
            })
        };
        if let Some(p) = invoked.as_deref().and_then(beside) {
            return p;
        }
    }
    PathBuf::from("cellos-runtime")
}
