//! CELLOS_SUBPROCESS_UNSHARE, CELLOS_DEPLOYMENT_PROFILE and
//! CELLOS_CELL_BACKEND: every accepted value does what it says.

mod support;

use serde_json::json;
use std::time::Duration;
use support::*;

const NOOP: (&str, &str) = ("CELL_OS_USE_NOOP_SINK", "1");
const ALL: [&str; 7] = ["mnt", "pid", "net", "ipc", "uts", "user", "cgroup"];

/// Print `name=link` for every namespace of the cell's shell.
fn ns_script() -> String {
    let mut s = String::new();
    for n in ALL {
        s.push_str(&format!("echo {n}=$(readlink /proc/self/ns/{n}); "));
    }
    s
}

/// Exactly the listed namespaces differ from the host's.
#[test]
fn unshare_lists_unshare_exactly_those_namespaces() {
    require_root!();
    let ctx = Ctx::new("unshare");
    let host: Vec<(String, String)> = ALL.iter().map(|n| (n.to_string(), host_ns(n))).collect();
    let lists = [
        "mnt",
        "mnt,pid",
        "mnt,net",
        "mnt,ipc",
        "mnt,uts",
        "mnt,user",
        "mnt,cgroup",
        "mnt,pid,net,ipc,uts,user,cgroup",
        " mnt , pid ,mnt",
    ];
    for list in lists {
        let mut spec = sh_cell(&ctx.id("ns"), &ns_script());
        set(&mut spec, "/spec/run/workingDirectory", json!("/work"));
        let out = ctx.supervise_spec(&spec, &[NOOP, ("CELLOS_SUBPROCESS_UNSHARE", list)]);
        out.ok();
        let want: Vec<&str> = list.split(',').map(str::trim).collect();
        for (name, host_link) in &host {
            let line = out
                .stdout
                .lines()
                .find(|l| l.starts_with(&format!("{name}=")))
                .unwrap_or_else(|| panic!("no {name} line:\n{out}"));
            let cell_link = &line[name.len() + 1..];
            assert!(!cell_link.is_empty(), "{out}");
            let unshared = cell_link != host_link;
            assert_eq!(
                unshared,
                want.contains(&name.as_str()),
                "{list:?}: {name} is {cell_link}, host {host_link}"
            );
        }
    }
    ctx.finish();
}

/// What each namespace means for the cell, seen from inside.
#[test]
fn unshared_namespaces_change_what_the_cell_sees() {
    require_root!();
    let ctx = Ctx::new("nseffects");
    let script =
        "echo pid=$$; echo host=$(hostname); echo ifaces=$(ls /sys/class/net | tr '\\n' ' ')";
    let out = ctx.supervise_spec(
        &sh_cell(&ctx.id("all"), script),
        &[
            NOOP,
            ("CELLOS_SUBPROCESS_UNSHARE", "mnt,pid,net,ipc,uts,cgroup"),
        ],
    );
    out.ok();
    assert!(out.stdout.contains("pid=1\n"), "{out}");
    assert!(out.stdout.contains("host=cell\n"), "{out}");
    assert!(out.stdout.contains("ifaces=lo\n"), "{out}");
    let out = ctx.supervise_spec(
        &sh_cell(&ctx.id("mnt"), script),
        &[NOOP, ("CELLOS_SUBPROCESS_UNSHARE", "mnt")],
    );
    out.ok();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert!(!out.stdout.contains("pid=1\n"), "{out}");
    assert!(
        out.stdout.contains(&format!("host={}", host.trim())),
        "{out}"
    );
    ctx.finish();
}

#[test]
fn unshare_refusals() {
    let ctx = Ctx::new("unsharebad");
    let mut with_wd = sh_cell(&ctx.id("wd"), "echo should-not-run");
    set(&mut with_wd, "/spec/run/workingDirectory", json!("/work"));
    let f = ctx.spec_file(&with_wd);
    for list in ["pid", "pid,net,ipc,uts,user,cgroup"] {
        ctx.supervise(&f, &[NOOP, ("CELLOS_SUBPROCESS_UNSHARE", list)])
            .refused(&["CELLOS_SUBPROCESS_UNSHARE", "mnt", "workingDirectory"]);
        ctx.run_cell(&f, &[NOOP, ("CELLOS_SUBPROCESS_UNSHARE", list)])
            .refused(&["CELLOS_SUBPROCESS_UNSHARE", "mnt", "workingDirectory"]);
    }
    for list in ["mnt,pidd", "mount;pid", "ALL", "time"] {
        ctx.supervise(&f, &[NOOP, ("CELLOS_SUBPROCESS_UNSHARE", list)])
            .refused(&["CELLOS_SUBPROCESS_UNSHARE", "unknown namespace"]);
    }
    // Without a workspace, a list without mnt still cannot run a cell
    // (the runtime needs a mount namespace for its masked paths), and it
    // fails before the process starts, leaving the host mount table alone.
    let before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let marker = ctx.dir("grant");
    let mut no_wd = sh_cell(&ctx.id("nowd"), &format!("touch {}/ran", marker.display()));
    set(&mut no_wd, "/spec/authority/writablePaths", json!([marker]));
    ctx.supervise_spec(&no_wd, &[NOOP, ("CELLOS_SUBPROCESS_UNSHARE", "pid,net")])
        .refused(&[]);
    assert!(!marker.join("ran").exists());
    assert_eq!(
        before,
        std::fs::read_to_string("/proc/self/mountinfo").unwrap()
    );
    ctx.finish();
}

#[test]
fn both_profiles_run_and_others_are_refused() {
    let ctx = Ctx::new("profile");
    let f = ctx.spec_file(&sh_cell(&ctx.id("p"), "echo profile-ok"));
    for p in ["portable", "hardened", ""] {
        let out = ctx.supervise(&f, &[NOOP, ("CELLOS_DEPLOYMENT_PROFILE", p)]);
        out.ok().stdout_is("profile-ok\n");
        assert_eq!(out.stderr, "", "{out}");
        ctx.run_cell(&f, &[NOOP, ("CELLOS_DEPLOYMENT_PROFILE", p)])
            .ok()
            .stdout_is("profile-ok\n");
    }
    for p in ["Portable", "strict", "hardened,portable"] {
        ctx.supervise(&f, &[NOOP, ("CELLOS_DEPLOYMENT_PROFILE", p)])
            .refused(&["CELLOS_DEPLOYMENT_PROFILE", p]);
    }
    ctx.finish();
}

/// The same cell behaves the same on every backend: output, exit code,
/// workspace, TTL, refusals, and nothing left behind.
fn backend_runs_the_same_cell(name: &str, env: &[(&str, &str)]) {
    let ctx = Ctx::new(name);
    let mut e = env.to_vec();
    e.push(NOOP);
    let script = "echo cwd=$(pwd); grep -q ' /work tmpfs ' /proc/mounts && echo work-is-tmpfs; \
                  echo data > f; cat f; echo to-stderr >&2; exit 3";
    let mut spec = sh_cell(&ctx.id("be"), script);
    set(&mut spec, "/spec/run/workingDirectory", json!("/work"));
    let f = ctx.spec_file(&spec);
    let out = ctx.supervise(&f, &e);
    out.code(3).stdout_is("cwd=/work\nwork-is-tmpfs\ndata\n");
    assert_eq!(out.stderr, "to-stderr\n", "{out}");
    // run --cell seals itself before it picks the backend: the default
    // OCI runtime must still be the cellos-runtime beside it.
    let out = ctx.run_cell(&f, &e);
    out.code(3).stdout_is("cwd=/work\nwork-is-tmpfs\ndata\n");
    assert_eq!(out.stderr, "to-stderr\n", "{out}");

    let missing = ctx.spec_file(&cell(&ctx.id("nf"), &["/no/such/tool"]));
    ctx.supervise(&missing, &e)
        .refused_with(127, &["/no/such/tool"]);

    let m = ctx.marker();
    let mut ttl = sh_cell(
        &ctx.id("ttl"),
        &format!("(trap '' TERM; sleep {m}) & trap '' TERM; sleep {m}"),
    );
    set(&mut ttl, "/spec/lifetime/ttlSeconds", json!(1));
    let out = ctx.supervise_spec(&ttl, &e);
    out.code(124);
    assert!(out.elapsed < Duration::from_secs(10), "{out}");
    assert!(pids_matching(&m).is_empty(), "a process survived the ttl");
    ctx.finish();
}

#[test]
fn backend_default_is_stub() {
    backend_runs_the_same_cell("bedefault", &[]);
}

#[test]
fn backend_stub() {
    backend_runs_the_same_cell("bestub", &[("CELLOS_CELL_BACKEND", "stub")]);
}

/// Without CELLOS_OCI_RUNTIME: the cellos-runtime beside the supervisor.
#[test]
fn backend_oci_default_runtime() {
    backend_runs_the_same_cell("beocidefault", &[("CELLOS_CELL_BACKEND", "oci")]);
}

#[test]
fn backend_oci_cellos_runtime() {
    backend_runs_the_same_cell(
        "beocicellos",
        &[("CELLOS_CELL_BACKEND", "oci"), ("CELLOS_OCI_RUNTIME", BIN)],
    );
}

#[test]
fn backend_oci_runc() {
    backend_runs_the_same_cell(
        "beocirunc",
        &[("CELLOS_CELL_BACKEND", "oci"), ("CELLOS_OCI_RUNTIME", RUNC)],
    );
}

#[test]
fn unknown_backends_are_refused() {
    let ctx = Ctx::new("backendbad");
    let f = ctx.spec_file(&sh_cell(&ctx.id("b"), "echo should-not-run"));
    for b in ["docker", "OCI", "runc", "stub,oci"] {
        ctx.supervise(&f, &[NOOP, ("CELLOS_CELL_BACKEND", b)])
            .refused(&["CELLOS_CELL_BACKEND", b]);
        ctx.run_cell(&f, &[NOOP, ("CELLOS_CELL_BACKEND", b)])
            .refused(&["CELLOS_CELL_BACKEND", b]);
    }
    assert!(!ctx.state.exists());
    ctx.finish();
}
