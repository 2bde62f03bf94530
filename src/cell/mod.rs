//! ExecutionCell: the cell spec format (v1), its validation, and its
//! conversion into an OCI runtime bundle.
//!
//! - `model`: the document types and `Cell::{from_json, load}`
//! - `validate`: located parse errors and the semantic rules
//! - `convert` / `mounts` / `namespace`: the OCI `Spec` and the bundle on disk

mod argv0;
mod convert;
mod error;
mod model;
mod mounts;
mod namespace;
mod validate;

pub use argv0::{ARGV0_ALLOW_ANNOTATION, Argv0Allow, lexically_clean, under_prefix};
pub use convert::{ConvertOptions, Namespace, to_oci_spec, write_bundle};
pub use error::CellError;
pub use model::{Authority, Cell, CellSpec, Lifetime, Resources, RunSpec, UserSpec};
pub(crate) use mounts::unescape_mountinfo;
