//! The end-to-end suite (tests/e2e/run.sh) against the runtime cargo just
//! built: containerd's runc shim, podman/conmon and containerd's CRI plugin
//! drive `cellos-runtime` through real containers. Needs root and the engines
//! (.ci/run installs them). Set CELLOS_E2E=0 to skip it.

mod support;

use std::process::Command;
use std::time::Duration;
use support::*;

/// Ours first, then Debian's runc: the same checks passing with runc show
/// that they are fair. Run one after the other: both use the engines' global
/// caches.
#[test]
fn engines_drive_the_runtime_end_to_end() {
    require_root!();
    if std::env::var("CELLOS_E2E").is_ok_and(|v| v == "0") {
        eprintln!("CELLOS_E2E=0: end-to-end suite skipped");
        return;
    }
    run_suite(BIN);
    run_suite("/usr/sbin/runc");
}

/// A bound far above a full run of the suite, so a hung engine fails the test.
const SUITE_TIMEOUT: Duration = Duration::from_secs(3600);

fn run_suite(runtime: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/run.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(script).arg(runtime).env_remove("E2E_SUITES");
    let out = run_script(cmd, SUITE_TIMEOUT);
    let (stdout, stderr) = (&out.stdout, &out.stderr);
    // Shown with --nocapture, and with the failure below.
    println!("{stdout}");
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.ends_with(" failed") && l.contains(" passed, "))
        .unwrap_or("no summary line");
    assert!(
        out.code == 0,
        "tests/e2e/run.sh {runtime} exited {} ({summary}).\nFailed checks:\n{}\n--- stderr ---\n{stderr}",
        out.code,
        stdout
            .lines()
            .filter(|l| l.starts_with("FAIL ") || l.starts_with("# "))
            .collect::<Vec<_>>()
            .join("\n"),
    );
}
