//! `cellos-runtime run --cell SPEC` behaves like `cellos-supervisor SPEC`:
//! same exit codes and output, bundle removed afterwards, and overlapping
//! runs of one spec id do not collide.

mod support;

use serde_json::json;
use std::time::Duration;
use support::*;

const NOOP: (&str, &str) = ("CELL_OS_USE_NOOP_SINK", "1");

#[test]
fn run_cell_matches_the_supervisor() {
    let ctx = Ctx::new("runcellsame");
    let mut with_wd = sh_cell(&ctx.id("wd"), "pwd; echo x > f; ls; echo e >&2; exit 4");
    set(&mut with_wd, "/spec/run/workingDirectory", json!("/work"));
    let mut bad = cell(&ctx.id("bad"), &["/bin/true"]);
    set(&mut bad, "/spec/lifetime/ttlSeconds", json!(0));
    let specs = [
        sh_cell(&ctx.id("ok"), "echo hello; echo world"),
        with_wd,
        cell(&ctx.id("nf"), &["/no/such/thing"]),
        cell(&ctx.id("dir"), &["/usr/bin"]),
        bad,
    ];
    for spec in &specs {
        let f = ctx.spec_file(spec);
        let sup = ctx.supervise(&f, &[NOOP]);
        let rt = ctx.run_cell(&f, &[NOOP]);
        assert_eq!(sup.code, rt.code, "exit codes differ:\n{sup}\n{rt}");
        assert_eq!(sup.stdout, rt.stdout, "stdout differs:\n{sup}\n{rt}");
        // Refusal lines name the container id, which differs per run.
        assert_eq!(
            sup.stderr_lines().len(),
            rt.stderr_lines().len(),
            "stderr differs:\n{sup}\n{rt}"
        );
        if sup.code < 125 {
            assert_eq!(sup.stderr, rt.stderr, "{sup}\n{rt}");
        }
    }
    ctx.finish();
}

/// The bundle lives under the state dir while the cell runs and is gone
/// afterwards; without CELLOS_STATE_DIR the runtime's --root holds it.
#[test]
fn the_bundle_exists_while_running_and_is_removed_after() {
    require_root!();
    let ctx = Ctx::new("runcellbundle");
    let root = ctx.tmp.join("own-root");
    ctx.track_root(&root);
    for with_state_dir in [true, false] {
        let m = ctx.marker();
        let id = ctx.id("b");
        let spec = sh_cell(&id, &format!("sleep {m} & wait; echo done"));
        let f = ctx.spec_file(&spec);
        let mut cmd = ctx.command(BIN, &[NOOP]);
        if !with_state_dir {
            cmd.env_remove("CELLOS_STATE_DIR");
        }
        cmd.arg("--root").arg(&root).args(["run", "--cell"]).arg(&f);
        let cells = if with_state_dir {
            ctx.state.join("@cells")
        } else {
            root.join("@cells")
        };
        let running = spawn(cmd);
        let bundle = poll_until("the cell's sleep", Duration::from_secs(20), || {
            if sleep_pids(&m).is_empty() {
                return None;
            }
            entries(&cells)
                .into_iter()
                .find(|e| e.starts_with(&format!("{id}-")))
        });
        let suffix = &bundle[id.len() + 1..];
        assert!(
            suffix.len() == 8 && suffix.bytes().all(|b| b.is_ascii_hexdigit()),
            "container id is <spec id>-<8 hex>: {bundle}"
        );
        assert!(cells.join(&bundle).join("config.json").is_file());
        assert!(
            !cell_cgroups(&id).is_empty(),
            "cgroup /cellos-{bundle} exists while running"
        );
        for pid in sleep_pids(&m) {
            // SAFETY: kill(2) on the cell's sleep, found by its unique argument.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        running.wait().ok().stdout_is("done\n");
        assert!(
            entries(&cells).is_empty(),
            "bundle left in {}",
            cells.display()
        );
        assert!(cell_cgroups(&id).is_empty());
    }
    ctx.finish();
}

/// Two overlapping runs of the same spec (same id, same workspace path)
/// both succeed, each in its own container. The cells wait for each other
/// on a shared grant, so they really do overlap.
#[test]
fn overlapping_runs_of_one_spec_both_succeed() {
    require_root!();
    let ctx = Ctx::new("runcelloverlap");
    let flags = ctx.dir("flags");
    let events = ctx.tmp.join("events.jsonl");
    let sink = format!("jsonl:{}", events.display());
    let script = format!(
        "mktemp {f}/started.XXXXXX >/dev/null; echo mine > own.txt; \
         i=0; while [ $(ls {f} | wc -l) -lt 2 ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done; \
         [ $i -lt 500 ] || {{ echo no-overlap >&2; exit 9; }}; ls",
        f = flags.display()
    );
    let id = ctx.id("same");
    let mut spec = sh_cell(&id, &script);
    set(&mut spec, "/spec/run/workingDirectory", json!("/work"));
    set(&mut spec, "/spec/authority/writablePaths", json!([flags]));
    let f = ctx.spec_file(&spec);
    for front in ["run --cell", "supervisor", "mixed"] {
        for e in entries(&flags) {
            std::fs::remove_file(flags.join(e)).unwrap();
        }
        let _ = std::fs::remove_file(&events);
        let env = [("CELLOS_EVENT_SINK", sink.as_str())];
        let (first, second) = match front {
            "run --cell" => (ctx.run_cell_cmd(&f, &env), ctx.run_cell_cmd(&f, &env)),
            "supervisor" => (ctx.supervisor_cmd(&f, &env), ctx.supervisor_cmd(&f, &env)),
            _ => (ctx.run_cell_cmd(&f, &env), ctx.supervisor_cmd(&f, &env)),
        };
        let (a, b) = (spawn(first), spawn(second));
        let (a, b) = (a.wait(), b.wait());
        a.ok().stdout_is("own.txt\n");
        b.ok().stdout_is("own.txt\n");
        let ev = json_lines(&std::fs::read_to_string(&events).unwrap());
        let containers: std::collections::BTreeSet<_> = ev
            .iter()
            .filter(|e| e["type"] == "io.cellos.cell.created")
            .map(|e| e["data"]["containerId"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            containers.len(),
            2,
            "{front}: two distinct containers: {ev:#?}"
        );
        assert!(containers.iter().all(|c| c.starts_with(&format!("{id}-"))));
        assert_eq!(
            ev.iter()
                .filter(|e| e["type"] == "io.cellos.cell.exited")
                .count(),
            2
        );
    }
    ctx.finish();
}
