//! Typed errors of the runtime library. The strings are an API: containerd
//! and podman match on "does not exist", "container not running",
//! "no such process", "executable file not found in", "permission denied".
//!
//! One rule for every error type of the crate: a variant's Display says
//! what failed and never includes its `#[source]`; whoever prints an error
//! prints the whole chain, each level once (`chain_message`, or anyhow's
//! `{:#}`, which join the levels with ": ").

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("container \"{0}\" does not exist")]
    NotExist(String),
    #[error("container with id \"{0}\" already exists")]
    Exists(String),
    #[error("invalid container id {id:?}: {reason}")]
    InvalidId { id: String, reason: &'static str },
    #[error("container not running: \"{0}\"")]
    NotRunning(String),
    #[error("container \"{id}\" is {status}: {what}")]
    WrongState {
        id: String,
        status: String,
        what: &'static str,
    },
    #[error("invalid signal {0:?}")]
    InvalidSignal(String),
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// config.json that is not a runtime-spec config; `msg` names the
    /// field and what is wrong with it (validate::parse_error).
    #[error("parse {path}: {msg}")]
    Parse { path: PathBuf, msg: String },
    #[error("rootfs {path}")]
    Rootfs {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("rootfs {path}: not a directory")]
    RootfsNotDir { path: PathBuf },
    #[error("{0}")]
    Unsupported(String),
    #[error("{syscall} {target}")]
    Sys {
        syscall: &'static str,
        target: String,
        #[source]
        source: nix::Error,
    },
    /// An error from libcontainer with the container it concerns; `cause`
    /// is libcontainer's own account of it (engine.rs, `engine_err`).
    #[error("{op} container \"{id}\": {cause}")]
    Engine {
        op: &'static str,
        id: String,
        cause: EngineCause,
    },
    /// A config.json without a section the runtime needs.
    #[error("{}: {field} is missing", config.display())]
    MissingSection {
        config: PathBuf,
        field: &'static str,
    },
    #[error("{}: process.cwd {cwd:?} must be an absolute path", config.display())]
    RelativeCwd { config: PathBuf, cwd: PathBuf },
    #[error("chdir to cwd {cwd:?} set in config.json failed: no such directory in the rootfs")]
    NoCwd { cwd: PathBuf },
    /// CVE-2024-21626: a cwd that could name a file the runtime holds open.
    #[error(
        "{what} {cwd:?} leads into /proc: refused (it could name a file the runtime holds open)"
    )]
    CwdInProc { what: String, cwd: PathBuf },
    /// A file of the image where the runtime mounts or creates something is a symlink.
    #[error(
        "{}: {} is a symlink in the rootfs (to {}) where the runtime mounts or creates {}: refused",
        config.display(), file.display(), target.display(), dest.display()
    )]
    ImageSymlink {
        config: PathBuf,
        file: PathBuf,
        target: PathBuf,
        dest: PathBuf,
    },
    /// Our own state (origin.json, an adjusted config, stats) failed to encode.
    #[error("encode {what}")]
    Encode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("state root {}: owned by uid {owner}, not by the caller (uid {euid})", root.display())]
    ForeignRoot {
        root: PathBuf,
        owner: u32,
        euid: u32,
    },
    #[error("{}: no pty master received", socket.display())]
    NoPtyMaster { socket: PathBuf },
    #[error("invalid pid file path {}", path.display())]
    PidFilePath { path: PathBuf },
    /// The copy of the image's content into a tmpcopyup tmpfs failed.
    #[error("tmpcopyup {}: {stderr}", dest.display())]
    Tmpcopyup { dest: PathBuf, stderr: String },
    /// A config field that breaks a rule of the runtime spec (validate.rs).
    #[error("container \"{id}\": {}", config.display())]
    InvalidConfig {
        id: String,
        config: PathBuf,
        #[source]
        source: Box<crate::validate::Invalid>,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

/// What libcontainer reported, sorted by what the caller may do about it.
/// libcontainer hands over a failure of the container's init as text (it
/// crosses a pipe), so `msg` is that text with its wrapping removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineCause {
    /// argv[0] could not be executed: the executor's own words, and why.
    Exec { kind: ExecKind, msg: String },
    /// Anything else libcontainer reported.
    Other { msg: String },
}

impl std::fmt::Display for EngineCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineCause::Exec { msg, .. } | EngineCause::Other { msg } => f.write_str(msg),
        }
    }
}

/// Why argv[0] was not executed. Shells and OCI engines (podman, the
/// supervisor) turn these into exit codes 127, 126 and 125.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecKind {
    /// No such file, or not found in $PATH.
    NotFound,
    /// Found but not executable (mode, a directory, exec format).
    NotExecutable,
    /// Refused by policy or failed for another reason.
    Refused,
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Why argv[0] could not be executed, when that is what failed.
    pub fn exec_kind(&self) -> Option<ExecKind> {
        match self {
            Error::Engine {
                cause: EngineCause::Exec { kind, .. },
                ..
            } => Some(*kind),
            _ => None,
        }
    }

    pub fn sys(syscall: &'static str, target: impl std::fmt::Display, source: nix::Error) -> Self {
        Error::Sys {
            syscall,
            target: target.to_string(),
            source,
        }
    }
}

/// An error and all its sources as one line, each level's own text joined
/// by ": " (see the rule at the top). Control characters are escaped:
/// serde quotes a bad key or variant as it was written, newline included.
pub fn chain_message(err: &(dyn std::error::Error + 'static)) -> String {
    chain_texts(err).collect::<Vec<_>>().join(": ")
}

/// Each level's own text (control characters escaped), outermost first,
/// empty ones left out.
pub fn chain_texts<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = String> + 'a {
    std::iter::successors(Some(err), |e| e.source())
        .map(|e| escape_controls(&e.to_string()))
        .filter(|s| !s.is_empty())
}

/// `s` with control characters written as escapes (`\n`, `\u{1b}`).
pub fn escape_controls(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// An errno in words, as runc prints them ("no such file or directory"),
/// for messages that would otherwise show `ENOENT` or `Os { code: 2, … }`.
/// The C library's text, as std's own I/O errors print it.
pub fn errno_words(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    let text = text
        .strip_suffix(&format!(" (os error {errno})"))
        .unwrap_or(&text);
    text.to_lowercase()
}

/// `EPERM` (an errno's name, as libcontainer's Debug text shows it) in words.
pub fn errno_name_words(name: &str) -> Option<String> {
    if !name.starts_with('E') || name.len() < 3 {
        return None;
    }
    (1..200)
        .map(nix::errno::Errno::from_raw)
        .find(|e| *e != nix::errno::Errno::UnknownErrno && format!("{e:?}") == name)
        .map(|e| errno_words(e as i32))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both ways of printing a chain: ours, and anyhow's `{:#}` (what a
    /// command's `?` leads to).
    fn printed(e: impl std::error::Error + Send + Sync + 'static) -> [String; 2] {
        let ours = chain_message(&e);
        let anyhow = format!("{:#}", anyhow::Error::new(e));
        [ours, anyhow]
    }

    #[test]
    fn an_io_cause_is_printed_once() {
        let e = Error::io(
            "/proc/nonexistent",
            std::io::Error::from_raw_os_error(libc::ENOENT),
        );
        for p in printed(e) {
            assert_eq!(
                p,
                "/proc/nonexistent: No such file or directory (os error 2)"
            );
        }
    }

    #[test]
    fn a_cell_spec_refusal_is_printed_once() {
        let dir = std::env::temp_dir().join(format!("cellos-once-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let spec = dir.join("x.json");
        std::fs::write(
            &spec,
            r#"{"apiVersion":"cellos.io/v1","kind":"ExecutionCell","spec":{"id":"-bad","run":{"argv":["/bin/true"]}}}"#,
        )
        .unwrap();
        let e = crate::cell::Cell::load(&spec).unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        for p in printed(e) {
            assert_eq!(
                p,
                format!(
                    "{}: spec.id \"-bad\" must start with a letter or digit",
                    spec.display()
                )
            );
        }
    }
}
