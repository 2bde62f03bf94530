//! The one harness of the integration tests (`mod support;` in each
//! tests/*.rs). Every test drives the real binaries against real
//! containers built from the busybox fixture (`make fixtures`).
//!
//! - [`run`]: running commands (timeouts, captured output, the check that
//!   our binaries never print a cause twice).
//! - [`fixture`]: the busybox bundle, rootfs copies, compiled helpers.
//! - [`env`]: [`Env`], one runtime test's `--root` and temp dir, and the
//!   force-delete and leak checks at its end.
//! - [`cell`]: [`Ctx`], one ExecutionCell test's state dir, and cell specs.
//! - [`host`]: what the host shows of a container: cgroups, processes, mounts.
//!
//! Tests that need root start with [`require_root!`]: as another user they
//! print `SKIPPED (needs root): <test>` and pass.

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

pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Say on the terminal (not in libtest's captured output) that the current
/// test is skipped and why.
pub fn report_skip(why: &str) {
    use std::io::Write;
    let current = std::thread::current();
    let name = current.name().unwrap_or("?");
    // One write, so the line stays whole among libtest's own output.
    let line = format!("SKIPPED ({why}): {name}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// First line of a test that needs root: as another user it reports the
/// skip and returns.
macro_rules! require_root {
    () => {
        if !$crate::support::is_root() {
            $crate::support::report_skip("needs root");
            return;
        }
    };
}
pub(crate) use require_root;
