//! The one harness of the integration tests (`mod support;` in each
//! tests/*.rs). Every test drives the real binaries against real
//! containers built from the busybox fixture (`make fixtures`).
//!
//! - [`run`]: running commands (timeouts, captured output).
//! - [`fixture`]: the busybox bundle, rootfs copies, compiled helpers.
//! - [`env`]: [`Env`], one runtime test's `--root` and temp dir, and the
//!   force-delete and leak checks at its end.
//! - [`cell`]: [`Ctx`], one ExecutionCell test's state dir, and cell specs.
//! - [`host`]: what the host shows of a container: cgroups, processes, mounts.

#![allow(dead_code, unused_imports, unused_macros)]

pub mod cell;
pub mod env;
pub mod fixture;
pub mod host;
pub mod run;

pub use cell::*;
pub use env::*;
pub use fixture::*;
pub use host::*;
pub use run::*;

pub const BIN: &str = env!("CARGO_BIN_EXE_cellos-runtime");
pub const SUPERVISOR: &str = env!("CARGO_BIN_EXE_cellos-supervisor");
/// Debian's runc, the control runtime.
pub const RUNC: &str = "/usr/sbin/runc";

/// The runtime the tests drive: ours, or another one as a control
/// (`CELLOS_TEST_RUNTIME=/usr/sbin/runc cargo test --test security_…`).
pub fn runtime() -> String {
    std::env::var("CELLOS_TEST_RUNTIME").unwrap_or_else(|_| BIN.to_string())
}

/// True when the tests drive a control runtime rather than cellos-runtime.
pub fn is_control() -> bool {
    std::env::var_os("CELLOS_TEST_RUNTIME").is_some()
}
