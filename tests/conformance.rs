//! The OCI runtime-tools validation suite (tests/conformance/run.sh) against
//! the runtime cargo just built, compared program by program with
//! tests/conformance/expected.txt: a program that should pass and fails, or
//! one expected to fail that now passes, fails this test. Needs root and Go
//! (`make test` installs golang-go); the suite is built once into
//! target/runtime-tools/. CELLOS_CONFORMANCE=0 skips it.

mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;
use support::*;

const EXPECTED: &str = include_str!("conformance/expected.txt");

/// program name -> whether it is expected to pass (None: either result).
fn expectations() -> BTreeMap<&'static str, Option<bool>> {
    EXPECTED
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut w = l.split_whitespace();
            let name = w.next().unwrap();
            let want = w
                .next()
                .unwrap_or_else(|| panic!("expected.txt: no result for {name}"));
            let want = match want {
                "PASS" => Some(true),
                "FAIL" => Some(false),
                "ANY" => None,
                w => panic!("expected.txt: {name}: {w:?} is not PASS, FAIL or ANY"),
            };
            (name, want)
        })
        .collect()
}

#[test]
fn runtime_tools_validation_suite() {
    require_root!();
    if std::env::var("CELLOS_CONFORMANCE").is_ok_and(|v| v == "0") {
        println!("CELLOS_CONFORMANCE=0: runtime-tools suite skipped");
        return;
    }
    let expected = expectations();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance/run.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(script).arg(BIN);
    // The first run also builds the suite with Go.
    let out = run_script(cmd, Duration::from_secs(3600));
    let stdout = &out.stdout;
    println!("{stdout}");
    let mut wrong = Vec::new();
    let mut seen = 0;
    for line in stdout.lines() {
        let (verdict, rest) = line.split_once(' ').unwrap_or((line, ""));
        let name = rest.split(':').next().unwrap_or("");
        let passed = match verdict {
            "PASS" => true,
            "FAIL" => false,
            _ => continue, // SKIP lines say why themselves; the summary line.
        };
        seen += 1;
        match expected.get(name) {
            None => wrong.push(format!("{name}: not in tests/conformance/expected.txt")),
            Some(&Some(want)) if want != passed => wrong.push(if want {
                format!("{line}\n    (expected to pass)")
            } else {
                format!("PASS {name}\n    (expected to fail: update expected.txt)")
            }),
            Some(_) => {}
        }
    }
    assert!(
        out.code != 2 && seen > 0,
        "tests/conformance/run.sh could not run the suite:\n{stdout}\n{}",
        out.stderr
    );
    assert!(
        wrong.is_empty(),
        "runtime-tools results differ from tests/conformance/expected.txt:\n{}",
        wrong.join("\n")
    );
}
