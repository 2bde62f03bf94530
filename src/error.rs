//! Typed errors of the runtime library. The strings are an API: containerd
//! and podman match on "does not exist", "container not running",
//! "no such process", "executable file not found in", "permission denied".

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
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} {path}: {msg}")]
    BadFile {
        what: &'static str,
        path: PathBuf,
        msg: String,
    },
    #[error("{0}")]
    Unsupported(String),
    #[error("{syscall} {target}: {source}")]
    Sys {
        syscall: &'static str,
        target: String,
        #[source]
        source: nix::Error,
    },
    /// An error from libcontainer, flattened into one line with the container it concerns.
    #[error("{op} container \"{id}\": {msg}")]
    Engine {
        op: &'static str,
        id: String,
        msg: String,
    },
    #[error("{0}")]
    Other(String),
    /// A config field that breaks a rule of the runtime spec (validate.rs).
    #[error("container \"{id}\": {}: {source}", config.display())]
    InvalidConfig {
        id: String,
        config: PathBuf,
        #[source]
        source: Box<crate::validate::Invalid>,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
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

/// Join an error and all its sources into one line, skipping repeats
/// (libcontainer nests the same text several levels deep). Control
/// characters are escaped: serde quotes a bad key or variant as it was
/// written, newline included.
pub fn chain_message(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        let s = escape_controls(&e.to_string());
        if !s.is_empty() && !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    parts.join(": ")
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
