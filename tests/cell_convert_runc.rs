//! `cellos-runtime convert SPEC --bundle DIR` writes a plain OCI bundle
//! that Debian's runc runs with the same behaviour as the supervisor.

mod support;

use serde_json::json;
use std::process::Command;
use support::*;

fn convert(ctx: &Ctx, spec: &std::path::Path, bundle: &std::path::Path) -> Out {
    let mut cmd = ctx.command(BIN, &[]);
    cmd.arg("convert").arg(spec).arg("--bundle").arg(bundle);
    run(cmd)
}

fn runc_run(ctx: &Ctx, root: &std::path::Path, bundle: &std::path::Path, id: &str) -> Out {
    let mut cmd = Command::new(RUNC);
    cmd.arg("--root")
        .arg(root)
        .args(["run", "--bundle"])
        .arg(bundle)
        .arg(id)
        .current_dir(&ctx.tmp);
    run(cmd)
}

#[test]
fn runc_runs_a_converted_cell_like_the_supervisor() {
    require_root!();
    let ctx = Ctx::new("convertrunc");
    let host_dir = ctx.dir("host-ws");
    std::fs::write(host_dir.join("host-file.txt"), "host\n").unwrap();
    let before = snapshot(&host_dir);
    let script = "echo cwd=$(pwd) home=$HOME; \
                  grep \" $(pwd) \" /proc/self/mounts | cut -d' ' -f3; \
                  ls -A; echo data > made-here; cat made-here; \
                  test -e /etc/shadow && echo SHADOW; \
                  hostname; echo to-stderr >&2; exit 3";
    let mut spec = sh_cell(&ctx.id("conv"), script);
    set(&mut spec, "/spec/run/workingDirectory", json!(host_dir));
    let f = ctx.spec_file(&spec);

    let sup = ctx.supervise(&f, &[("CELL_OS_USE_NOOP_SINK", "1")]);
    let want = format!("cwd={0} home={0}\ntmpfs\ndata\ncell\n", host_dir.display());
    sup.code(3).stdout_is(&want);
    assert_eq!(sup.stderr, "to-stderr\n", "{sup}");

    let bundle = ctx.tmp.join("bundle");
    let out = convert(&ctx, &f, &bundle);
    out.ok().stdout_is("");
    assert!(bundle.join("config.json").is_file());
    assert!(bundle.join("rootfs").is_dir());
    let root = ctx.runc_root();
    let id = ctx.runc_id("runc");
    let out = runc_run(&ctx, &root, &bundle, &id);
    out.code(3).stdout_is(&sup.stdout);
    assert_eq!(out.stderr, "to-stderr\n", "{out}");
    assert_eq!(snapshot(&host_dir), before, "the host workspace changed");

    // The bundle can be run again (nothing of the first run stuck to it).
    let id2 = ctx.runc_id("again");
    runc_run(&ctx, &root, &bundle, &id2)
        .code(3)
        .stdout_is(&sup.stdout);
    std::fs::remove_dir_all(&bundle).unwrap();
    ctx.finish();
}

/// Own code, 128+N, 127 and a read-only system view agree between the
/// supervisor and runc on the converted bundle.
#[test]
fn runc_agrees_on_exit_codes_and_the_read_only_view() {
    require_root!();
    let ctx = Ctx::new("convertcodes");
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["/bin/sh", "-c", "exit 0"], 0),
        (vec!["/bin/sh", "-c", "exit 42"], 42),
        // Without a pid namespace the shell could kill itself; the
        // converted bundle has one, so the shell (pid 1) survives its own
        // SIGKILL: both must agree on that too.
        (vec!["/bin/sh", "-c", "kill -9 $$; exit 5"], 5),
        (
            vec![
                "/bin/sh",
                "-c",
                "for p in /usr/x /etc/x /x; do touch $p 2>/dev/null && exit 1; done; exit 0",
            ],
            0,
        ),
    ];
    let root = ctx.runc_root();
    for (argv, code) in cases {
        let f = ctx.spec_file(&cell(&ctx.id("c"), &argv));
        ctx.supervise(&f, &[("CELL_OS_USE_NOOP_SINK", "1")])
            .code(code);
        let bundle = ctx.tmp.join(format!("bundle-{}", ctx.marker()));
        convert(&ctx, &f, &bundle).ok();
        runc_run(&ctx, &root, &bundle, &ctx.runc_id("r")).code(code);
        std::fs::remove_dir_all(&bundle).unwrap();
    }
    // argv[0] missing: runc fails before starting the process.
    let f = ctx.spec_file(&cell(&ctx.id("nf"), &["/no/such/program"]));
    ctx.supervise(&f, &[("CELL_OS_USE_NOOP_SINK", "1")])
        .refused_with(127, &["/no/such/program"]);
    let bundle = ctx.tmp.join("bundle-nf");
    convert(&ctx, &f, &bundle).ok();
    let out = runc_run(&ctx, &root, &bundle, &ctx.runc_id("nf"));
    assert_ne!(out.code, 0, "{out}");
    assert!(out.stderr.contains("/no/such/program"), "{out}");
    std::fs::remove_dir_all(&bundle).unwrap();
    for leftover in ["/usr/x", "/etc/x", "/x"] {
        assert!(
            !std::path::Path::new(leftover).exists(),
            "{leftover} on the host"
        );
    }
    ctx.finish();
}

#[test]
fn convert_refuses_bad_specs_without_writing_a_bundle() {
    let ctx = Ctx::new("convertbad");
    let mut spec = cell(&ctx.id("bad"), &["/bin/true"]);
    set(&mut spec, "/spec/run/surprise", json!(1));
    let f = ctx.spec_file(&spec);
    let bundle = ctx.tmp.join("bundle");
    let out = convert(&ctx, &f, &bundle);
    assert_ne!(out.code, 0, "{out}");
    assert_eq!(out.stderr_lines().len(), 1, "{out}");
    assert!(out.stderr.contains("surprise"), "{out}");
    assert!(!bundle.join("config.json").exists());

    // A bundle is never overwritten.
    let good = ctx.spec_file(&cell(&ctx.id("good"), &["/bin/true"]));
    convert(&ctx, &good, &bundle).ok();
    let first = std::fs::read(bundle.join("config.json")).unwrap();
    let out = convert(&ctx, &good, &bundle);
    assert_ne!(out.code, 0, "{out}");
    assert!(out.stderr.contains("config.json already exists"), "{out}");
    assert_eq!(std::fs::read(bundle.join("config.json")).unwrap(), first);
    std::fs::remove_dir_all(&bundle).unwrap();
    ctx.finish();
}
