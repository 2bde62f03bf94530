//! The ExecutionCell document (version 1) as Rust types.
//!
//! Every struct denies unknown fields: a typo in a security-relevant field
//! (say `authorty`) must fail loudly instead of silently granting defaults.
//! Semantic rules live in `validate.rs`; this file only fixes the shape.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use oci_spec::runtime::Capability;
use serde::{Deserialize, Deserializer, Serialize, de::Error as _};

use super::error::CellError;

/// The only accepted `apiVersion`.
pub const API_VERSION: &str = "cellos.io/v1";
/// The only accepted `kind`.
pub const KIND: &str = "ExecutionCell";

/// A parsed and validated ExecutionCell document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cell {
    /// Must be `cellos.io/v1`.
    pub api_version: String,
    /// Must be `ExecutionCell`.
    pub kind: String,
    pub spec: CellSpec,
}

/// `spec`: what to run and with which authority.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CellSpec {
    /// Required. `[A-Za-z0-9][A-Za-z0-9_.-]*`, 1..=128 chars.
    pub id: String,
    /// Optional; default (and `{}`) is least privilege, see [`Authority`].
    #[serde(default)]
    pub authority: Authority,
    /// Optional; default: no time limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifetime: Option<Lifetime>,
    /// Required.
    pub run: RunSpec,
    /// Optional; default: no cgroup limits beyond what the caller sets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// Optional absolute host path of a root filesystem directory.
    /// Default: none, i.e. the read-only host-system view (host /usr and
    /// friends, a minimal /etc).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootfs: Option<PathBuf>,
}

/// `spec.run`: the process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunSpec {
    /// Required, non-empty; `argv[0]` non-empty.
    pub argv: Vec<String>,
    /// Optional absolute, clean path; gets a fresh exec-able tmpfs and
    /// becomes the cwd. Default: none (cwd is `/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<PathBuf>,
    /// Optional `KEY=VALUE` entries. Default environment is
    /// `PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`
    /// and `HOME=<workingDirectory or />`; entries given here are added and
    /// override those two by key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Optional; default uid 0 / gid 0 (root inside the cell, but with no
    /// capabilities unless granted).
    #[serde(default)]
    pub user: UserSpec,
}

/// `spec.run.user`; each id defaults to 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    #[serde(default)]
    pub uid: u32,
    #[serde(default)]
    pub gid: u32,
}

/// `spec.lifetime`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Lifetime {
    /// Required when `lifetime` is present; an integer >= 1.
    #[serde(deserialize_with = "de_ttl")]
    pub ttl_seconds: u64,
}

/// `spec.resources`; every limit is optional (default: unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    /// Memory limit in bytes, >= 1 MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// CPU bandwidth in CPUs (quota over a 100ms period), 0.01..=1024.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// Maximum number of tasks, >= 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<i64>,
}

/// `spec.authority`: everything the cell may do beyond the bare minimum.
/// The default (also `{}`) is least privilege: no capabilities in any set,
/// an own empty network namespace, nothing of the host writable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Authority {
    /// Default false. True means the host network (no net namespace).
    #[serde(default)]
    pub network: bool,
    /// Default []. Exact `CAP_*` names as in capabilities(7).
    #[serde(
        default,
        deserialize_with = "de_caps",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub capabilities: Vec<Capability>,
    /// Default []. Absolute clean host paths bind-mounted read-only at the
    /// same path; they must exist when the bundle is built.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_only_paths: Vec<PathBuf>,
    /// Default []. Like `readOnlyPaths`, but writable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writable_paths: Vec<PathBuf>,
}

impl Cell {
    /// Parse and validate a cell document.
    pub fn from_json(text: &str) -> Result<Cell, CellError> {
        super::validate::parse(text)
    }

    /// Read `path` and parse it; every error names the file.
    pub fn load(path: &Path) -> Result<Cell, CellError> {
        let text = std::fs::read_to_string(path).map_err(|source| CellError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Cell::from_json(&text).map_err(|e| CellError::InFile {
            path: path.to_path_buf(),
            source: Box::new(e),
        })
    }

    pub fn id(&self) -> &str {
        &self.spec.id
    }

    pub fn ttl(&self) -> Option<Duration> {
        self.spec
            .lifetime
            .map(|l| Duration::from_secs(l.ttl_seconds))
    }

    pub fn argv(&self) -> &[String] {
        &self.spec.run.argv
    }

    pub fn working_directory(&self) -> Option<&Path> {
        self.spec.run.working_directory.as_deref()
    }
}

/// Messages starting with "must" are full sentences about the field; the
/// parser in validate.rs joins them to the field path with a space.
fn de_ttl<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    match v.as_u64() {
        Some(n) if n >= 1 => Ok(n),
        _ => Err(D::Error::custom(format!(
            "must be an integer >= 1, got {v}"
        ))),
    }
}

/// Stricter than `Capability`'s own Deserialize, which accepts lower case
/// and missing or repeated `CAP_` prefixes: a spec should say exactly what
/// it grants.
fn de_caps<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Capability>, D::Error> {
    let names = Vec::<String>::deserialize(d)?;
    names
        .iter()
        .map(|name| parse_capability(name).map_err(D::Error::custom))
        .collect()
}

/// A name that is not exactly one of the kernel's `CAP_*` names.
#[derive(Debug, thiserror::Error)]
#[error("\"{0}\" is not a known capability name (like CAP_NET_BIND_SERVICE)")]
pub(crate) struct UnknownCapability(String);

/// Parse one exact `CAP_*` name.
pub(crate) fn parse_capability(name: &str) -> Result<Capability, UnknownCapability> {
    let bad = || UnknownCapability(name.to_string());
    let rest = name.strip_prefix("CAP_").ok_or_else(bad)?;
    let cap = Capability::from_str(rest).map_err(|_| bad())?;
    // Guard against strum accepting spellings serde would print differently.
    match serde_json::to_value(cap) {
        Ok(serde_json::Value::String(s)) if s == name => Ok(cap),
        _ => Err(bad()),
    }
}
