//! cellos-runtime: a runc-compatible OCI runtime on top of libcontainer,
//! plus ExecutionCells (small declarative job specs run in sealed cells).
//!
//! The binaries in `src/bin/` only parse arguments; everything else lives here.

pub mod cell;
pub mod commands;
pub mod error;
pub mod ids;
pub mod logging;
pub mod paths;
pub mod runtime;
pub mod signals;
pub mod supervisor;
pub mod trace;
pub mod user;
pub mod validate;

/// Version printed by `--version`; engines parse the first line.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The OCI runtime-spec version we implement, the one constant for it. It is
/// what `--version` prints as `spec:`, `state` reports as `ociVersion` (the
/// state document's version, engine.rs), `features` reports as
/// `ociVersionMax`, and what a converted cell's config.json declares.
pub const OCI_VERSION: &str = "1.2.0";
/// Default state root, like runc's /run/runc.
pub const DEFAULT_ROOT: &str = "/run/cellos-runtime";

/// What `--version` prints; engines read the first line.
pub fn version_text() -> String {
    format!("cellos-runtime version {VERSION}\nspec: {OCI_VERSION}\nengine: libcontainer 0.7\n")
}
