//! The one error type of the cell module.
//!
//! Every variant renders as a single line that names the offending field,
//! file or path, because these messages are shown verbatim to whoever wrote
//! the cell spec. As everywhere in the crate (see crate::error), a variant
//! with a `#[source]` does not repeat it: print with `chain_message`.

use std::path::PathBuf;

/// Everything that can go wrong while loading, validating or converting a
/// cell.
#[derive(Debug, thiserror::Error)]
pub enum CellError {
    /// The spec file could not be read.
    #[error("cannot read cell spec {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The text is not JSON at all (serde_json's message carries line/column).
    #[error("invalid JSON: {0}")]
    Json(String),

    /// A field the schema does not know.
    #[error("unknown field \"{field}\" {place} ({expected})")]
    UnknownField {
        field: String,
        /// "in spec.run", "at top level", ...
        place: String,
        /// serde's list of accepted names
        expected: String,
    },

    /// A required field is absent; `field` is the full JSON path.
    #[error("{field} is required")]
    MissingField { field: String },

    /// A field has the wrong JSON type or shape; `msg` is serde's wording.
    #[error("{field}: {msg}")]
    Type { field: String, msg: String },

    /// A field is well-typed but breaks a rule; `msg` continues the sentence
    /// after the field path (e.g. `"work" must be an absolute path`).
    #[error("{field} {msg}")]
    Invalid { field: String, msg: String },

    /// A namespace name not in the supported list.
    #[error(
        "unknown namespace \"{0}\" (expected a comma-separated list of: mnt, pid, net, ipc, uts, user, cgroup)"
    )]
    UnknownNamespace(String),

    /// Without a mount namespace the workspace tmpfs would land on the host.
    #[error("CELLOS_SUBPROCESS_UNSHARE must include \"mnt\" when spec.run.workingDirectory is set")]
    NeedsMountNamespace,

    /// A host path the spec refers to cannot be used (checked at convert time).
    #[error("{field} \"{}\" cannot be used: {reason}", path.display())]
    HostPath {
        field: String,
        path: PathBuf,
        reason: String,
    },

    /// Writing the bundle directory failed.
    #[error("cannot write bundle {}: {reason}", path.display())]
    Bundle { path: PathBuf, reason: String },

    /// oci-spec refused to build a structure (should not happen with
    /// validated input, but its builders are fallible).
    #[error("cannot build OCI spec: {0}")]
    Oci(String),

    /// Any of the above, raised while loading a particular file.
    #[error("{}", path.display())]
    InFile {
        path: PathBuf,
        #[source]
        source: Box<CellError>,
    },

    /// A cellos annotation in an OCI config that cannot be read.
    #[error("annotation {key}: {reason}")]
    Annotation { key: String, reason: String },
}

impl CellError {
    /// Shorthand for the most common variant.
    pub(crate) fn invalid(field: impl Into<String>, msg: impl Into<String>) -> Self {
        CellError::Invalid {
            field: field.into(),
            msg: msg.into(),
        }
    }
}

impl From<oci_spec::OciSpecError> for CellError {
    fn from(e: oci_spec::OciSpecError) -> Self {
        CellError::Oci(e.to_string())
    }
}
