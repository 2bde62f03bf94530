//! What a cell can see and touch of the host, and of other cells.

mod support;

use serde_json::json;
use std::time::Duration;
use support::*;

const NOOP: (&str, &str) = ("CELL_OS_USE_NOOP_SINK", "1");

/// The plain subprocess, with a mount namespace of its own, and the OCI
/// backend on our runtime and on runc.
const BACKENDS: [&[(&str, &str)]; 4] = [
    &[NOOP],
    &[NOOP, ("CELLOS_SUBPROCESS_UNSHARE", "mnt")],
    &[NOOP, ("CELLOS_CELL_BACKEND", "oci")],
    &[
        NOOP,
        ("CELLOS_CELL_BACKEND", "oci"),
        ("CELLOS_OCI_RUNTIME", RUNC),
    ],
];

/// Cells sharing one workingDirectory each get their own empty workspace,
/// and the host directory is untouched.
#[test]
fn parallel_cells_sharing_a_workspace_never_see_each_other() {
    require_root!();
    let ctx = Ctx::new("sharedwd");
    let shared = ctx.dir("shared");
    std::fs::write(shared.join("host-file.txt"), "host data\n").unwrap();
    let before = snapshot(&shared);
    let flags = ctx.dir("flags");
    let n = 4;
    let mut running = Vec::new();
    for k in 0..n {
        // Every cell writes its file, then waits until all cells have
        // written theirs (counted on a shared grant), then lists its
        // workspace: so the cells really overlap.
        let script = format!(
            "echo {k} > mine-{k}.txt; touch {flags}/written-{k}; \
             i=0; while [ $(ls {flags} | wc -l) -lt {n} ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done; \
             [ $i -lt 500 ] || {{ echo timeout >&2; exit 9; }}; ls -A",
            flags = flags.display()
        );
        let mut spec = sh_cell(&ctx.id(&format!("c{k}")), &script);
        set(&mut spec, "/spec/run/workingDirectory", json!(shared));
        set(&mut spec, "/spec/authority/writablePaths", json!([flags]));
        let f = ctx.spec_file(&spec);
        running.push(spawn(ctx.supervisor_cmd(&f, &[NOOP])));
    }
    for (k, r) in running.into_iter().enumerate() {
        r.wait().ok().stdout_is(&format!("mine-{k}.txt\n"));
    }
    assert_eq!(entries(&flags).len(), n);
    assert_eq!(snapshot(&shared), before, "the host workspace dir changed");
    ctx.finish();
}

/// Nothing outside the workspace (and explicit grants) is writable, and no
/// write reaches the host.
#[test]
fn no_host_writes_outside_the_workspace() {
    let ctx = Ctx::new("hostwrites");
    let tag = ctx.marker().replace('.', "-");
    let targets = [
        format!("/usr/x-{tag}"),
        format!("/etc/x-{tag}"),
        format!("/root/x-{tag}"),
        format!("/x-{tag}"),
        format!("/usr/bin/x-{tag}"),
        format!("/var/x-{tag}"),
    ];
    let mut script = String::new();
    for t in &targets {
        script.push_str(&format!(
            "if echo pwned > {t} 2>/dev/null; then echo WROTE {t}; else echo refused {t}; fi; "
        ));
    }
    script.push_str("echo ok > in-workspace && echo workspace-writable");
    let mut spec = sh_cell(&ctx.id("w"), &script);
    set(&mut spec, "/spec/run/workingDirectory", json!("/work"));
    for env in [
        vec![NOOP],
        vec![NOOP, ("CELLOS_SUBPROCESS_UNSHARE", "mnt")],
        vec![
            NOOP,
            (
                "CELLOS_SUBPROCESS_UNSHARE",
                "mnt,pid,net,ipc,uts,user,cgroup",
            ),
        ],
        vec![
            NOOP,
            ("CELLOS_CELL_BACKEND", "oci"),
            ("CELLOS_OCI_RUNTIME", RUNC),
        ],
    ] {
        let out = ctx.supervise_spec(&spec, &env);
        out.ok();
        for t in &targets {
            assert!(
                out.stdout.contains(&format!("refused {t}\n")),
                "writing {t} must fail inside the cell:\n{out}"
            );
            assert!(
                !std::path::Path::new(t).exists(),
                "{t} appeared on the host"
            );
        }
        assert!(out.stdout.ends_with("workspace-writable\n"), "{out}");
    }
    assert!(!std::path::Path::new("/work/in-workspace").exists());
    ctx.finish();
}

#[test]
fn host_secrets_are_invisible() {
    let ctx = Ctx::new("secrets");
    assert!(std::path::Path::new("/etc/shadow").exists());
    let script = "for p in /etc/shadow /etc/gshadow /root /home /etc/ssh; do \
                    if [ -e $p ]; then echo VISIBLE $p; fi; \
                    if cat $p >/dev/null 2>&1 || ls $p >/dev/null 2>&1; then echo READABLE $p; fi; \
                  done; echo checked";
    let out = ctx.supervise_spec(&sh_cell(&ctx.id("s"), script), &[NOOP]);
    out.ok().stdout_is("checked\n");
    // The system view still has what programs need.
    let out = ctx.supervise_spec(
        &sh_cell(
            &ctx.id("etc"),
            "grep -c ^root: /etc/passwd; ls /etc | sort | tr '\\n' ' '",
        ),
        &[NOOP],
    );
    out.ok();
    assert!(out.stdout.starts_with("1\n"), "{out}");
    for secret in ["shadow", "gshadow", "ssh", "sudoers"] {
        assert!(
            !out.stdout.contains(secret),
            "{secret} in the cell's /etc:\n{out}"
        );
    }
    ctx.finish();
}

#[test]
fn tmp_is_a_fresh_tmpfs() {
    let ctx = Ctx::new("freshtmp");
    let host_file = std::path::PathBuf::from(format!("/tmp/cellos-ct-hostfile-{}", ctx.marker()));
    std::fs::write(&host_file, "host").unwrap();
    let cell_file = format!("/tmp/cellos-ct-cellfile-{}", ctx.marker());
    let script = format!(
        "grep ' /tmp ' /proc/self/mounts | cut -d' ' -f3; ls -A /tmp | wc -l; \
         test -e {h} && echo SEES-HOST-TMP; echo x > {c} && echo wrote",
        h = host_file.display(),
        c = cell_file
    );
    for env in [
        vec![NOOP],
        vec![
            NOOP,
            ("CELLOS_CELL_BACKEND", "oci"),
            ("CELLOS_OCI_RUNTIME", RUNC),
        ],
    ] {
        let out = ctx.supervise_spec(&sh_cell(&ctx.id("t"), &script), &env);
        out.ok().stdout_is("tmpfs\n0\nwrote\n");
        assert!(
            !std::path::Path::new(&cell_file).exists(),
            "the cell's /tmp reached the host"
        );
    }
    std::fs::remove_file(&host_file).unwrap();
    ctx.finish();
}

/// The host mount table (every line) is the same after cells ran, on
/// every backend and with a workspace, grants and a TTL kill.
#[test]
fn the_host_mount_table_is_unchanged() {
    require_root!();
    let ctx = Ctx::new("mounttable");
    let before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let grant = ctx.dir("grant");
    let ro = ctx.dir("ro");
    for env in BACKENDS {
        let mut spec = sh_cell(
            &ctx.id("m"),
            "echo hi > f; touch $G/g; mount | wc -l >/dev/null",
        );
        set(
            &mut spec,
            "/spec/run/workingDirectory",
            json!(ctx.tmp.join("ws")),
        );
        set(
            &mut spec,
            "/spec/run/env",
            json!([format!("G={}", grant.display())]),
        );
        set(&mut spec, "/spec/authority/writablePaths", json!([grant]));
        set(&mut spec, "/spec/authority/readOnlyPaths", json!([ro]));
        ctx.supervise_spec(&spec, env).ok();
        // Leaves at the TTL's SIGTERM, without waiting for the grace.
        let m = ctx.marker();
        let mut ttl = sh_cell(
            &ctx.id("ttl"),
            &format!("trap 'exit 0' TERM; sleep {m} & wait"),
        );
        set(&mut ttl, "/spec/lifetime/ttlSeconds", json!(1));
        ctx.supervise_spec(&ttl, env).code(124);
    }
    let after = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert_eq!(
        before.lines().count(),
        after.lines().count(),
        "mount count changed:\nbefore:\n{before}\nafter:\n{after}"
    );
    assert_eq!(before, after, "the host mount table changed");
    ctx.finish();
}

/// SIGTERM to the supervisor tears the cell down: non-zero exit, no
/// process, no state, no cgroup left (checked by finish()).
#[test]
fn sigterm_to_the_supervisor_tears_the_cell_down() {
    let ctx = Ctx::new("sigterm");
    let mut running = Vec::new();
    for (i, env) in BACKENDS.iter().enumerate() {
        let (m1, m2) = (ctx.marker(), ctx.marker());
        let script = format!("(trap '' TERM; sleep {m1}) & trap '' TERM; sleep {m2}");
        let mut spec = sh_cell(&ctx.id("victim"), &script);
        set(&mut spec, "/spec/run/workingDirectory", json!("/work"));
        let f = ctx.spec_file(&spec);
        running.push((spawn(ctx.supervisor_cmd(&f, env)), m1, m2));
        if i == 0 {
            // run --cell tears down the same way.
            let (m1, m2) = (ctx.marker(), ctx.marker());
            let script = format!("(trap '' TERM; sleep {m1}) & trap '' TERM; sleep {m2}");
            let f = ctx.spec_file(&sh_cell(&ctx.id("victimrt"), &script));
            running.push((spawn(ctx.run_cell_cmd(&f, env)), m1, m2));
        }
    }
    for (r, m1, m2) in &running {
        poll_until("the cell's processes", Duration::from_secs(20), || {
            (!pids_matching(m1).is_empty() && !pids_matching(m2).is_empty()).then_some(())
        });
        // SAFETY: kill(2) on the supervisor we spawned.
        assert_eq!(unsafe { libc::kill(r.pid(), libc::SIGTERM) }, 0);
    }
    for (r, m1, m2) in running {
        let out = r.wait();
        assert_ne!(out.code, 0, "{out}");
        assert_eq!(out.code, 128 + libc::SIGTERM, "{out}");
        assert!(out.stderr.contains("signal"), "{out}");
        for m in [m1, m2] {
            assert!(pids_matching(&m).is_empty(), "`sleep {m}` survived:\n{out}");
        }
    }
    ctx.finish();
}
