//! Cells run by an unprivileged user (`nobody`) with the default settings:
//! no CELLOS_* variables, state under its XDG_RUNTIME_DIR, a user namespace
//! added on its own, and no cgroup (this host delegates none). The TTL and
//! teardown still kill the whole tree; limits are refused in one line.

mod support;

use serde_json::json;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use support::*;

const NOBODY: u32 = 65534;

/// `program` as `nobody`, with nothing but PATH, HOME and an
/// XDG_RUNTIME_DIR in the test's temp dir (whose default state roots the
/// context then checks for leftovers).
fn as_nobody(ctx: &Ctx, program: &str, args: &[&str]) -> Command {
    let xdg = xdg(ctx);
    for sub in [
        "cellos-supervisor/runtime",
        "cellos-supervisor/oci-root",
        "cellos-runtime",
    ] {
        ctx.track_root(&xdg.join(sub));
    }
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", &ctx.tmp)
        .env("XDG_RUNTIME_DIR", &xdg)
        .current_dir(&ctx.tmp)
        .uid(NOBODY)
        .gid(NOBODY);
    cmd
}

fn xdg(ctx: &Ctx) -> PathBuf {
    let d = ctx.tmp.join("xdg");
    if !d.exists() {
        std::fs::create_dir_all(&d).unwrap();
        std::os::unix::fs::chown(&d, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    d
}

fn supervise(ctx: &Ctx, spec: &serde_json::Value, extra: &[(&str, &str)]) -> Out {
    let f = ctx.spec_file(spec);
    let mut cmd = as_nobody(ctx, SUPERVISOR, &[f.to_str().unwrap()]);
    cmd.envs(extra.iter().copied());
    run(cmd)
}

#[test]
fn a_cell_runs_as_an_unprivileged_user_with_default_settings() {
    let ctx = Ctx::new("rlcell-run");
    let script = "id -u; cat /proc/self/uid_map; echo ok";
    let spec = sh_cell(&ctx.id("sup"), script);
    let out = supervise(&ctx, &spec, &[]);
    out.ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"0"), "root inside the cell:\n{out}");
    let map: Vec<&str> = lines.get(1).unwrap_or(&"").split_whitespace().collect();
    assert_eq!(
        map,
        ["0", "65534", "1"],
        "the caller is uid 0 inside:\n{out}"
    );
    assert_eq!(lines.last(), Some(&"ok"));
    let events = xdg(&ctx).join("cellos-supervisor/events.jsonl");
    assert!(
        read(&events).contains("io.cellos.cell.exited"),
        "events go to the user's state dir"
    );

    // run --cell, with its default --root under XDG_RUNTIME_DIR.
    let f = ctx.spec_file(&sh_cell(&ctx.id("cli"), script));
    let out = run(as_nobody(
        &ctx,
        BIN,
        &["run", "--cell", f.to_str().unwrap()],
    ));
    out.ok();
    assert!(out.stdout.ends_with("ok\n"), "{out}");
    assert!(xdg(&ctx).join("cellos-runtime/events.jsonl").exists());
    ctx.finish();
}

#[test]
fn ttl_and_teardown_kill_a_tree_that_ignores_sigterm_without_root() {
    let ctx = Ctx::new("rlcell-ttl");
    // The built-in engine, our runtime's CLI, and runc as the control.
    let backends: [(&str, &[(&str, &str)]); 4] = [
        ("stub", &[("CELLOS_CELL_BACKEND", "stub")]),
        // The seed scenario's namespace setting: the pid namespace that
        // kills the tree is added, as the user namespace is.
        (
            "stub-mnt",
            &[
                ("CELLOS_CELL_BACKEND", "stub"),
                ("CELLOS_SUBPROCESS_UNSHARE", "mnt"),
            ],
        ),
        ("oci", &[("CELLOS_CELL_BACKEND", "oci")]),
        (
            "runc",
            &[("CELLOS_CELL_BACKEND", "oci"), ("CELLOS_OCI_RUNTIME", RUNC)],
        ),
    ];
    for (backend, env) in backends {
        let m = ctx.marker();
        // A child shell and its sleeper both ignore SIGTERM.
        let script =
            format!("trap '' TERM; (trap '' TERM; sleep {m} & sleep {m}; wait) & sleep {m}; wait");
        let mut spec = sh_cell(&ctx.id(&format!("ttl-{backend}")), &script);
        set(&mut spec, "/spec/lifetime", json!({ "ttlSeconds": 1 }));
        let out = supervise(&ctx, &spec, env);
        out.code(124);
        // 1 s TTL and 2 s grace: not the 30 s wait for an init left alive.
        assert!(
            out.elapsed < Duration::from_secs(15),
            "{backend}: slow kill:\n{out}"
        );
        assert!(sleep_pids(&m).is_empty(), "{backend}: the TTL left {m}");

        // The supervisor itself told to stop: teardown.
        let m = ctx.marker();
        let script = format!("trap '' TERM; (trap '' TERM; sleep {m}) & sleep {m}; wait");
        let spec = sh_cell(&ctx.id(&format!("term-{backend}")), &script);
        let f = ctx.spec_file(&spec);
        let mut cmd = as_nobody(&ctx, SUPERVISOR, &[f.to_str().unwrap()]);
        cmd.envs(env.iter().copied());
        let sup = spawn(cmd);
        poll_until("the tree to start", Duration::from_secs(20), || {
            (sleep_pids(&m).len() == 2).then_some(())
        });
        // SAFETY: kill(2) on the supervisor we spawned.
        unsafe { libc::kill(sup.pid(), libc::SIGTERM) };
        let out = sup.wait();
        out.code(128 + libc::SIGTERM);
        assert!(
            out.elapsed < Duration::from_secs(20),
            "{backend}: slow kill:\n{out}"
        );
        assert!(sleep_pids(&m).is_empty(), "{backend}: teardown left {m}");
    }
    ctx.finish();
}

#[test]
fn limits_and_grants_without_root_are_refused() {
    let ctx = Ctx::new("rlcell-limit");
    let mut spec = cell(&ctx.id("mem"), &["/bin/true"]);
    set(
        &mut spec,
        "/spec/resources",
        json!({ "memoryBytes": 64 << 20 }),
    );
    supervise(&ctx, &spec, &[]).refused(&["spec.resources.memoryBytes", "delegated"]);
    let mut spec = cell(&ctx.id("grant"), &["/bin/true"]);
    set(
        &mut spec,
        "/spec/authority/readOnlyPaths",
        json!(["/etc/hostname"]),
    );
    supervise(&ctx, &spec, &[]).refused(&["spec.authority.readOnlyPaths", "needs root"]);
    ctx.finish();
}

#[test]
fn a_user_outside_the_cells_id_map_is_refused() {
    let ctx = Ctx::new("rlcell-user");
    let granted = read(std::path::Path::new("/etc/subuid"));
    if granted
        .lines()
        .any(|l| l.starts_with("nobody:") || l.starts_with("65534:"))
    {
        println!("skipped: /etc/subuid grants nobody subordinate ids on this host");
        return ctx.finish();
    }
    let mut spec = cell(&ctx.id("uid"), &["/bin/true"]);
    set(&mut spec, "/spec/run/user", json!({ "uid": 1000 }));
    supervise(&ctx, &spec, &[]).refused(&["spec.run.user.uid 1000", "/etc/subuid"]);
    ctx.finish();
}

fn read(p: &std::path::Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}
