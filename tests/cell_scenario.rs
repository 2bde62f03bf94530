//! THE scenario from the issue, set up exactly as described: two cells
//! whose workingDirectory is a host temp dir holding a host file, run with
//! the portable/stub/mnt settings and an argv[0] allow-list, from inside
//! that dir. Run A's sentinel never reaches the host or run B, and the
//! host file stays hidden from both and unchanged.

mod support;

use serde_json::json;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use support::*;

const SCENARIO_ENV: [(&str, &str); 5] = [
    ("CELLOS_DEPLOYMENT_PROFILE", "portable"),
    ("CELL_OS_USE_NOOP_SINK", "1"),
    ("CELLOS_CELL_BACKEND", "stub"),
    ("CELLOS_SUBPROCESS_UNSHARE", "mnt"),
    (
        "CELLOS_RUN_ARGV0_ALLOW_PREFIXES",
        "/usr/bin,/bin,/usr/local/bin,/bin/sh,/usr/bin/sh",
    ),
];

const RUN_A: &str = "echo from-run-a > sentinel.txt && test -f sentinel.txt && echo sentinel-exists; \
                     test -f \"$PWD/sentinel.txt\" && echo sentinel-exists-abs; \
                     if [ -e host-file.txt ]; then echo HOST-FILE-VISIBLE; fi; \
                     echo cwd=$PWD; ls -A";
const RUN_B: &str = "if [ -e sentinel.txt ]; then echo SEES-SENTINEL; exit 1; fi; \
                     if [ -e host-file.txt ]; then echo HOST-FILE-VISIBLE; exit 1; fi; \
                     echo cwd=$PWD; echo entries=$(ls -A | wc -l)";

fn fingerprint(p: &Path) -> (Vec<u8>, i64, i64, u32) {
    let m = std::fs::metadata(p).unwrap();
    (
        std::fs::read(p).unwrap(),
        m.mtime(),
        m.mtime_nsec(),
        m.mode(),
    )
}

fn scenario(name: &str, front: Front) {
    let ctx = Ctx::new(name);
    // A temp dir holding a host file.
    let dir = ctx.dir("scenario-ws");
    let host_file = dir.join("host-file.txt");
    std::fs::write(&host_file, "host secret content\n").unwrap();
    let before_file = fingerprint(&host_file);
    let before_dir = snapshot(&dir);

    // Two specs whose workingDirectory is that dir.
    let mut a = sh_cell(&ctx.id("run-a"), RUN_A);
    set(&mut a, "/spec/run/workingDirectory", json!(dir));
    let mut b = sh_cell(&ctx.id("run-b"), RUN_B);
    set(&mut b, "/spec/run/workingDirectory", json!(dir));
    let (fa, fb) = (ctx.spec_file(&a), ctx.spec_file(&b));

    let launch = |spec: &Path| {
        let mut cmd = ctx.front_cmd(front, spec, &SCENARIO_ENV);
        // The process's current directory is that temp dir.
        cmd.current_dir(&dir);
        run(cmd)
    };

    let out_a = launch(&fa);
    out_a.ok().stdout_is(&format!(
        "sentinel-exists\nsentinel-exists-abs\ncwd={}\nsentinel.txt\n",
        dir.display()
    ));
    assert_eq!(out_a.stderr, "", "{out_a}");
    assert!(
        !dir.join("sentinel.txt").exists(),
        "run A's sentinel reached the host"
    );

    let out_b = launch(&fb);
    out_b
        .ok()
        .stdout_is(&format!("cwd={}\nentries=0\n", dir.display()));
    assert_eq!(out_b.stderr, "", "{out_b}");

    assert!(!dir.join("sentinel.txt").exists());
    assert_eq!(
        fingerprint(&host_file),
        before_file,
        "the host file changed"
    );
    assert_eq!(snapshot(&dir), before_dir, "the host dir changed");
    ctx.finish();
}

#[test]
fn the_scenario_with_cellos_supervisor() {
    scenario("scenario", Front::Supervisor);
}

#[test]
fn the_scenario_with_run_cell() {
    scenario("scenariorun", Front::RunCell);
}
