//! Lifecycle events: CloudEvents 1.0 JSON lines on `jsonl:PATH` or on
//! stderr (never stdout), none with `CELLOS_USE_NOOP_SINK=1` (or its alias
//! `CELL_OS_USE_NOOP_SINK=1`).

mod support;

use serde_json::{Value, json};
use std::collections::HashSet;
use support::*;

#[track_caller]
fn assert_cloudevent(e: &Value, subject: &str) {
    assert_eq!(e["specversion"], "1.0", "{e}");
    for key in ["id", "source", "type", "time"] {
        assert!(
            e[key].as_str().is_some_and(|s| !s.is_empty()),
            "{key} must be a non-empty string: {e}"
        );
    }
    assert!(
        e["type"].as_str().unwrap().starts_with("io.cellos.cell."),
        "{e}"
    );
    let time = e["time"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(time).is_ok(),
        "time must be RFC 3339: {time}"
    );
    assert_eq!(e["subject"], subject, "{e}");
}

fn read_events(path: &std::path::Path) -> Vec<Value> {
    json_lines(&std::fs::read_to_string(path).unwrap_or_default())
}

#[test]
fn jsonl_sink_gets_the_whole_lifecycle() {
    let ctx = Ctx::new("evjsonl");
    let events = ctx.tmp.join("events.jsonl");
    let sink = format!("jsonl:{}", events.display());
    let id = ctx.id("life");
    let spec = sh_cell(&id, "echo hi; sleep 0.2; exit 7");
    let out = ctx.supervise_spec(&spec, &[("CELLOS_EVENT_SINK", &sink)]);
    out.code(7).stdout_is("hi\n");
    assert_eq!(out.stderr, "", "{out}");
    let ev = read_events(&events);
    assert_eq!(
        event_kinds(&ev),
        ["created", "started", "exited", "deleted"],
        "{ev:#?}"
    );
    let mut ids = HashSet::new();
    for e in &ev {
        assert_cloudevent(e, &id);
        assert!(
            ids.insert(e["id"].clone()),
            "event ids must be unique: {ev:#?}"
        );
    }
    let exited = &ev[2]["data"];
    assert_eq!(exited["exitCode"], 7, "{exited}");
    let ms = exited["durationMs"]
        .as_u64()
        .expect("durationMs is an integer");
    assert!((200..10_000).contains(&ms), "durationMs {ms}");
    let times: Vec<_> = ev
        .iter()
        .map(|e| chrono::DateTime::parse_from_rfc3339(e["time"].as_str().unwrap()).unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "times in order: {times:?}"
    );
    assert!(
        !ctx.state.join("events.jsonl").exists(),
        "the default sink was not used"
    );

    // The same through run --cell, appended to the same file.
    let f = ctx.spec_file(&spec);
    ctx.run_cell(&f, &[("CELLOS_EVENT_SINK", &sink)]).code(7);
    let ev = read_events(&events);
    assert_eq!(
        event_kinds(&ev[4..]),
        ["created", "started", "exited", "deleted"]
    );
    assert_eq!(ev[6]["data"]["exitCode"], 7);
    ctx.finish();
}

/// Without CELLOS_EVENT_SINK the events go to $CELLOS_STATE_DIR/events.jsonl.
#[test]
fn default_sink_is_the_state_dir() {
    let ctx = Ctx::new("evdefault");
    let id = ctx.id("dflt");
    ctx.supervise_spec(&cell(&id, &["/bin/true"]), &[]).ok();
    let ev = read_events(&ctx.state.join("events.jsonl"));
    assert_eq!(
        event_kinds(&ev),
        ["created", "started", "exited", "deleted"]
    );
    assert_eq!(ev[2]["data"]["exitCode"], 0);
    ctx.finish();
}

#[test]
fn ttl_expiry_and_signals_are_reported() {
    require_root!();
    let ctx = Ctx::new("evttl");
    let events = ctx.tmp.join("events.jsonl");
    let sink = format!("jsonl:{}", events.display());
    let id = ctx.id("ttl");
    let mut spec = cell(&id, &["/bin/sleep", &ctx.marker()]);
    set(&mut spec, "/spec/lifetime/ttlSeconds", json!(1));
    ctx.supervise_spec(&spec, &[("CELLOS_EVENT_SINK", &sink)])
        .code(124);
    let ev = read_events(&events);
    let kinds = event_kinds(&ev);
    assert_eq!(
        kinds,
        ["created", "started", "ttl_expired", "deleted"],
        "{ev:#?}"
    );
    for e in &ev {
        assert_cloudevent(e, &id);
    }
    assert_eq!(ev[2]["data"]["ttlSeconds"], 1);

    // Killed by a signal: exited with exitCode 128+N.
    std::fs::remove_file(&events).unwrap();
    let id = ctx.id("sig");
    let env = [
        ("CELLOS_EVENT_SINK", sink.as_str()),
        ("CELLOS_SUBPROCESS_UNSHARE", "mnt"),
    ];
    ctx.supervise_spec(&sh_cell(&id, "kill -KILL $$"), &env)
        .code(137);
    let ev = read_events(&events);
    assert_eq!(
        event_kinds(&ev),
        ["created", "started", "exited", "deleted"]
    );
    assert_eq!(ev[2]["data"]["exitCode"], 137, "{ev:#?}");
    assert!(ev[2]["data"]["durationMs"].is_u64());
    ctx.finish();
}

#[test]
fn refusals_emit_rejected() {
    let ctx = Ctx::new("evrejected");
    let events = ctx.tmp.join("events.jsonl");
    let sink = format!("jsonl:{}", events.display());
    // A policy refusal knows the cell.
    let id = ctx.id("policy");
    let env = [
        ("CELLOS_EVENT_SINK", sink.as_str()),
        ("CELLOS_RUN_ARGV0_ALLOW_PREFIXES", "/usr/bin"),
    ];
    ctx.supervise_spec(&cell(&id, &["/sbin/nologin"]), &env)
        .refused(&["/sbin/nologin"]);
    // So does a failure before the process starts.
    let id2 = ctx.id("notfound");
    ctx.supervise_spec(&cell(&id2, &["/no/such/binary"]), &env[..1])
        .refused_with(127, &["/no/such/binary"]);
    // An invalid spec has no id to name.
    let bad = ctx.raw_spec_file("{\"apiVersion\": \"cellos.io/v1\"");
    ctx.supervise(&bad, &env[..1]).refused(&["JSON"]);
    let ev = read_events(&events);
    let kinds = event_kinds(&ev);
    assert_eq!(kinds, ["rejected", "rejected", "rejected"], "{ev:#?}");
    let rejected: Vec<&Value> = ev
        .iter()
        .filter(|e| e["type"] == "io.cellos.cell.rejected")
        .collect();
    assert_eq!(rejected.len(), 3, "{ev:#?}");
    assert_cloudevent(rejected[0], &id);
    assert!(
        rejected[0]["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("/sbin/nologin")
    );
    assert_cloudevent(rejected[1], &id2);
    assert_eq!(rejected[1]["data"]["exitCode"], 127);
    assert!(rejected[2].get("subject").is_none(), "{}", rejected[2]);
    assert!(
        rejected[2]["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("JSON")
    );
    ctx.finish();
}

/// The stderr sink: events on stderr, stdout exactly what the cell printed.
#[test]
fn stderr_sink_never_touches_stdout() {
    let ctx = Ctx::new("evstderr");
    let id = ctx.id("err");
    let spec = sh_cell(
        &id,
        "printf 'line one\\nline two\\n'; echo cell-err >&2; exit 5",
    );
    let f = ctx.spec_file(&spec);
    let env = [("CELLOS_EVENT_SINK", "stderr")];
    for backend in [
        vec![],
        vec![("CELLOS_CELL_BACKEND", "oci")],
        vec![("CELLOS_CELL_BACKEND", "oci"), ("CELLOS_OCI_RUNTIME", RUNC)],
    ] {
        let mut e = env.to_vec();
        e.extend(backend.iter().copied());
        let out = ctx.supervise(&f, &e);
        out.code(5).stdout_is("line one\nline two\n");
        let mut other = Vec::new();
        let mut ev = Vec::new();
        for l in out.stderr.lines() {
            match serde_json::from_str::<Value>(l) {
                Ok(v) => ev.push(v),
                Err(_) => other.push(l),
            }
        }
        assert_eq!(
            other,
            ["cell-err"],
            "{backend:?}: only the cell's own stderr besides events:\n{out}"
        );
        assert_eq!(
            event_kinds(&ev),
            ["created", "started", "exited", "deleted"],
            "{out}"
        );
        for e in &ev {
            assert_cloudevent(e, &id);
        }
        assert_eq!(ev[2]["data"]["exitCode"], 5);
    }
    // run --cell too.
    let out = ctx.run_cell(&f, &env);
    out.code(5).stdout_is("line one\nline two\n");
    assert_eq!(
        json_lines(&out.stderr.replace("cell-err\n", "")).len(),
        4,
        "{out}"
    );
    ctx.finish();
}

#[test]
fn noop_sink_emits_nothing() {
    let ctx = Ctx::new("evnoop");
    let events = ctx.tmp.join("events.jsonl");
    let sink = format!("jsonl:{}", events.display());
    let id = ctx.id("noop");
    let f = ctx.spec_file(&sh_cell(&id, "echo quiet"));
    // CELLOS_USE_NOOP_SINK, and the seed contract's spelling as its alias.
    let noops = ["CELLOS_USE_NOOP_SINK", "CELL_OS_USE_NOOP_SINK"];
    for (noop, sink_env) in noops
        .iter()
        .flat_map(|n| [(n, None), (n, Some(sink.as_str())), (n, Some("stderr"))])
    {
        let mut env = vec![(*noop, "1")];
        if let Some(s) = sink_env {
            env.push(("CELLOS_EVENT_SINK", s));
        }
        let out = ctx.supervise(&f, &env);
        out.ok().stdout_is("quiet\n");
        assert_eq!(out.stderr, "", "{out}");
        ctx.run_cell(&f, &env).ok().stdout_is("quiet\n");
        // A refusal emits nothing either.
        let bad = ctx.raw_spec_file("{");
        ctx.supervise(&bad, &env).refused(&["JSON"]);
    }
    assert!(!events.exists(), "noop sink wrote {}", events.display());
    assert!(!ctx.state.join("events.jsonl").exists());
    assert!(!ctx.state.join("cli-root/events.jsonl").exists());
    ctx.finish();
}
