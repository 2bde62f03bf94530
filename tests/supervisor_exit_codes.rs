//! The exit-code contract shared by `cellos-supervisor SPEC` and
//! `cellos-runtime run --cell SPEC`: the cell's own code, 128+N for a
//! signal, 124 for an expired TTL, 125 for a failure before the process
//! started, 126 / 127 for argv[0] not executable / not found.

mod support;

use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;
use support::*;

const NOOP: (&str, &str) = ("CELL_OS_USE_NOOP_SINK", "1");

#[test]
fn the_cells_own_exit_code_is_returned() {
    let ctx = Ctx::new("owncode");
    for code in [0, 1, 3, 42, 255] {
        let spec = sh_cell(
            &ctx.id("code"),
            &format!("echo out-{code}; echo err-{code} >&2; exit {code}"),
        );
        let f = ctx.spec_file(&spec);
        let sup = ctx.supervise(&f, &[NOOP]);
        sup.code(code).stdout_is(&format!("out-{code}\n"));
        assert_eq!(sup.stderr, format!("err-{code}\n"), "{sup}");
        let rt = ctx.run_cell(&f, &[NOOP]);
        rt.code(code).stdout_is(&format!("out-{code}\n"));
        assert_eq!(rt.stderr, format!("err-{code}\n"), "{rt}");
    }
    ctx.finish();
}

/// Without a pid namespace the shell is not pid 1, so it can kill itself.
#[test]
fn a_cell_killed_by_a_signal_exits_128_plus_n() {
    require_root!();
    let ctx = Ctx::new("selfsig");
    let env = [NOOP, ("CELLOS_SUBPROCESS_UNSHARE", "mnt")];
    for (sig, n) in [("KILL", 9), ("TERM", 15), ("USR1", 10)] {
        let spec = sh_cell(
            &ctx.id("sig"),
            &format!("echo before; kill -{sig} $$; echo after"),
        );
        let f = ctx.spec_file(&spec);
        ctx.supervise(&f, &env).code(128 + n).stdout_is("before\n");
        ctx.run_cell(&f, &env).code(128 + n).stdout_is("before\n");
    }
    // The oci backends report the same.
    let f = ctx.spec_file(&sh_cell(&ctx.id("oci"), "echo before; kill -KILL $$"));
    for rt in [BIN, RUNC] {
        let env = [
            NOOP,
            ("CELLOS_SUBPROCESS_UNSHARE", "mnt"),
            ("CELLOS_CELL_BACKEND", "oci"),
            ("CELLOS_OCI_RUNTIME", rt),
        ];
        ctx.supervise(&f, &env).code(137).stdout_is("before\n");
    }
    ctx.finish();
}

/// With all default namespaces the init is pid 1 of its own namespace; a
/// SIGKILL from the host still ends it, and the code says so.
#[test]
fn an_init_killed_from_outside_exits_137() {
    let ctx = Ctx::new("outsidekill");
    for front in FRONTS {
        let m = ctx.marker();
        let spec = cell(&ctx.id("victim"), &["/bin/sleep", &m]);
        let f = ctx.spec_file(&spec);
        let cmd = ctx.front_cmd(front, &f, &[NOOP]);
        let running = spawn(cmd);
        let pid = poll_until("the cell's sleep", Duration::from_secs(20), || {
            sleep_pids(&m).first().copied()
        });
        // SAFETY: kill(2) on the cell's init, found by its unique argument.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
        let out = running.wait();
        out.code(137).stdout_is("");
    }
    ctx.finish();
}

/// TTL: the whole cell goes, including a child that ignores SIGTERM, and
/// the code is 124.
fn ttl_case(name: &str, front: Front, env: &[(&str, &str)]) {
    let ctx = Ctx::new(name);
    let (m1, m2) = (ctx.marker(), ctx.marker());
    let mut spec = sh_cell(
        &ctx.id("ttl"),
        &format!("(trap \"\" TERM; sleep {m1}) & trap \"\" TERM; echo started; sleep {m2}"),
    );
    set(&mut spec, "/spec/lifetime/ttlSeconds", json!(1));
    let f = ctx.spec_file(&spec);
    let mut env = env.to_vec();
    env.push(NOOP);
    let out = ctx.run_front(front, &f, &env);
    out.code(124).stdout_is("started\n");
    assert!(
        out.stderr.contains("ttl") && out.stderr_lines().len() == 1,
        "one line about the ttl expected:\n{out}"
    );
    assert!(
        out.elapsed >= Duration::from_secs(1) && out.elapsed < Duration::from_secs(10),
        "TERM, a short grace, then KILL:\n{out}"
    );
    for m in [&m1, &m2] {
        assert!(pids_matching(m).is_empty(), "`sleep {m}` survived the ttl");
    }
    ctx.finish();
}

#[test]
fn ttl_with_a_pid_namespace() {
    ttl_case("ttlpidns", Front::Supervisor, &[]);
}

/// Without a pid namespace the processes are not killed with an init:
/// every one of them must be found and killed.
#[test]
fn ttl_without_a_pid_namespace() {
    ttl_case(
        "ttlmnt",
        Front::Supervisor,
        &[("CELLOS_SUBPROCESS_UNSHARE", "mnt")],
    );
}

#[test]
fn ttl_with_run_cell() {
    ttl_case("ttlruncell", Front::RunCell, &[]);
}

#[test]
fn ttl_with_runc_without_a_pid_namespace() {
    ttl_case(
        "ttlrunc",
        Front::Supervisor,
        &[
            ("CELLOS_SUBPROCESS_UNSHARE", "mnt"),
            ("CELLOS_CELL_BACKEND", "oci"),
            ("CELLOS_OCI_RUNTIME", RUNC),
        ],
    );
}

/// An init that exits leaves no process behind: with a pid namespace the
/// kernel takes them along, without one the supervisor sweeps them.
#[test]
fn what_the_init_leaves_behind_goes_with_it() {
    require_root!();
    let ctx = Ctx::new("leftbehind");
    for (front, unshare) in [
        (Front::Supervisor, None),
        (Front::RunCell, None),
        (Front::Supervisor, Some("mnt")),
    ] {
        let m = ctx.marker();
        let script =
            format!("(trap '' TERM; sleep {m}) & (trap '' TERM; sleep {m}) & echo started");
        let f = ctx.spec_file(&sh_cell(&ctx.id("left"), &script));
        let mut env = vec![NOOP];
        env.extend(unshare.map(|u| ("CELLOS_SUBPROCESS_UNSHARE", u)));
        let out = ctx.run_front(front, &f, &env);
        out.code(0).stdout_is("started\n");
        let left = pids_matching(&m);
        assert!(
            left.is_empty(),
            "{front} {unshare:?}: {left:?} outlived the init:\n{out}"
        );
    }
    ctx.finish();
}

/// A tree of processes that all ignore SIGTERM: the TTL still takes every
/// one of them (a cell without limits may have no cgroup to kill through,
/// so this rests on the pid namespace), and nothing is left behind.
#[test]
fn ttl_kills_a_tree_that_ignores_sigterm() {
    let ctx = Ctx::new("ttltree");
    for front in FRONTS {
        let m = ctx.marker();
        let script = format!(
            "trap '' TERM; for i in 1 2 3; do (trap '' TERM; sleep {m}) & done; \
             (trap '' TERM; (trap '' TERM; sleep {m}) & sleep {m}) & echo started; sleep {m}"
        );
        let mut spec = sh_cell(&ctx.id("tree"), &script);
        set(&mut spec, "/spec/lifetime/ttlSeconds", json!(2));
        let f = ctx.spec_file(&spec);
        let out = ctx.run_front(front, &f, &[NOOP]);
        out.code(124).stdout_is("started\n");
        let left = pids_matching(&m);
        assert!(
            left.is_empty(),
            "{front}: {left:?} of the tree survived the ttl:\n{out}"
        );
    }
    ctx.finish();
}

/// The TTL asks first: SIGTERM reaches the cell, and a cell that leaves on
/// SIGTERM is not kept waiting for the grace period.
#[test]
fn ttl_sends_sigterm_first() {
    require_root!();
    let ctx = Ctx::new("ttlterm");
    let grant = ctx.dir("grant");
    let m = ctx.marker();
    let script = format!(
        "trap 'echo got-term > {g}/term; exit 0' TERM; echo started; sleep {m} & wait",
        g = grant.display()
    );
    let mut spec = sh_cell(&ctx.id("term"), &script);
    set(&mut spec, "/spec/lifetime/ttlSeconds", json!(1));
    set(&mut spec, "/spec/authority/writablePaths", json!([grant]));
    let out = ctx.supervise_spec(&spec, &[NOOP]);
    out.code(124).stdout_is("started\n");
    assert_eq!(
        std::fs::read_to_string(grant.join("term")).unwrap_or_default(),
        "got-term\n",
        "the cell never saw SIGTERM:\n{out}"
    );
    assert!(
        out.elapsed < Duration::from_millis(2500),
        "no need to wait for the grace when the cell left:\n{out}"
    );
    assert!(pids_matching(&m).is_empty());
    ctx.finish();
}

#[test]
fn argv0_not_executable_exits_126() {
    require_root!();
    let ctx = Ctx::new("noexec");
    let bin = ctx.dir("bin");
    let script = bin.join("not-executable.sh");
    std::fs::write(&script, "#!/bin/sh\necho ran\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cases = [script.to_str().unwrap().to_string(), "/usr".to_string()];
    for argv0 in &cases {
        let mut spec = cell(&ctx.id("x"), &[argv0]);
        set(&mut spec, "/spec/authority/readOnlyPaths", json!([bin]));
        let f = ctx.spec_file(&spec);
        ctx.supervise(&f, &[NOOP])
            .refused_with(126, &[argv0, "permission denied"]);
        ctx.run_cell(&f, &[NOOP])
            .refused_with(126, &[argv0, "permission denied"]);
    }
    ctx.finish();
}

#[test]
fn argv0_not_found_exits_127() {
    let ctx = Ctx::new("notfound");
    for argv0 in ["/no/such/program", "no-such-program-on-path"] {
        let f = ctx.spec_file(&cell(&ctx.id("x"), &[argv0, "arg"]));
        ctx.supervise(&f, &[NOOP]).refused_with(127, &[argv0]);
        ctx.run_cell(&f, &[NOOP]).refused_with(127, &[argv0]);
    }
    ctx.finish();
}

/// Failures before the process starts that are not about argv[0]: 125,
/// even when the underlying error text says "no such file or directory".
#[test]
fn failures_before_start_exit_125() {
    require_root!();
    let ctx = Ctx::new("prestart");
    let missing = ctx.tmp.join("missing-grant");
    let mut grant = sh_cell(&ctx.id("grant"), "echo should-not-run");
    set(
        &mut grant,
        "/spec/authority/writablePaths",
        json!([missing]),
    );
    let mut rootfs = sh_cell(&ctx.id("rootfs"), "echo should-not-run");
    set(
        &mut rootfs,
        "/spec/rootfs",
        json!(ctx.tmp.join("missing-rootfs")),
    );
    // A rootfs whose /tmp is a file: the tmpfs cannot be mounted there.
    let broken = ctx.rootfs_copy();
    std::fs::remove_dir(broken.join("tmp")).unwrap();
    std::fs::write(broken.join("tmp"), "not a directory").unwrap();
    let mut mountfail = sh_cell(&ctx.id("mount"), "echo should-not-run");
    set(&mut mountfail, "/spec/rootfs", json!(broken));
    // A rootfs whose /dev is a dangling symlink: runc fails setting up
    // /dev/ptmx with "no such file or directory", which is not argv[0].
    let dangling = ctx.rootfs_copy();
    std::fs::remove_dir(dangling.join("dev")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/dev", dangling.join("dev")).unwrap();
    let mut devfail = sh_cell(&ctx.id("dev"), "echo should-not-run");
    set(&mut devfail, "/spec/rootfs", json!(dangling));
    let cases = [
        (grant, vec!["writablePaths[0]", "does not exist"]),
        (rootfs, vec!["spec.rootfs", "does not exist"]),
        (mountfail, vec![]),
        (devfail, vec![]),
    ];
    for (spec, needles) in &cases {
        let f = ctx.spec_file(spec);
        ctx.supervise(&f, &[NOOP]).refused(needles);
        ctx.run_cell(&f, &[NOOP]).refused(needles);
        for backend in [
            vec![("CELLOS_CELL_BACKEND", "oci")],
            vec![("CELLOS_CELL_BACKEND", "oci"), ("CELLOS_OCI_RUNTIME", RUNC)],
        ] {
            let mut env = backend.clone();
            env.push(NOOP);
            ctx.supervise(&f, &env).refused(needles);
        }
    }
    // The oci backend with a runtime that does not exist.
    let f = ctx.spec_file(&sh_cell(&ctx.id("noruntime"), "echo should-not-run"));
    let missing_rt = ctx.tmp.join("no-such-runtime");
    let env = [
        NOOP,
        ("CELLOS_CELL_BACKEND", "oci"),
        ("CELLOS_OCI_RUNTIME", missing_rt.to_str().unwrap()),
    ];
    ctx.supervise(&f, &env).refused(&["no-such-runtime"]);
    ctx.finish();
}
