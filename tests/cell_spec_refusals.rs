//! Every kind of bad spec (and bad CELLOS_* setting) is refused with exit
//! 125 and one clear stderr line, by both `cellos-supervisor` and
//! `cellos-runtime run --cell`, and nothing is created in the state dir.

mod support;

use serde_json::{Value, json};
use std::path::Path;
use support::*;

/// Run `spec_file` through both front ends; each must refuse with 125 and
/// one line naming every needle, write exactly one `rejected` event to the
/// jsonl sink, and create nothing in the state dir.
#[track_caller]
fn assert_refused_both(ctx: &Ctx, spec_file: &Path, needles: &[&str]) {
    for front in FRONTS {
        let events = ctx.tmp.join(format!("events-{}.jsonl", ctx.marker()));
        let sink = format!("jsonl:{}", events.display());
        let env = [("CELLOS_EVENT_SINK", sink.as_str())];
        let out = ctx.run_front(front, spec_file, &env);
        out.refused(needles);
        assert!(
            !ctx.state.exists(),
            "{front}: a refused spec must create nothing in the state dir, found {:?}",
            entries(&ctx.state)
        );
        let text = std::fs::read_to_string(&events).unwrap_or_default();
        let ev = json_lines(&text);
        assert_eq!(
            event_kinds(&ev),
            ["rejected"],
            "{front}: one rejected event expected:\n{text}"
        );
        assert_eq!(ev[0]["specversion"], "1.0");
        // No id is known for a spec that does not parse; CloudEvents then
        // wants no subject rather than an empty one.
        assert!(
            ev[0]
                .get("subject")
                .is_none_or(|s| s.as_str().is_some_and(|s| !s.is_empty())),
            "{front}: subject must be absent or non-empty: {text}"
        );
        assert!(
            ev[0]["data"]["reason"]
                .as_str()
                .is_some_and(|r| !r.is_empty()),
            "{front}: rejected event carries the reason: {text}"
        );
    }
}

fn good(ctx: &Ctx) -> Value {
    sh_cell(&ctx.id("bad"), "echo should-not-run")
}

#[test]
fn wrong_header_is_refused() {
    let ctx = Ctx::new("hdr");
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit, &[&str])> = vec![
        (
            "apiVersion v2",
            Box::new(|v| set(v, "/apiVersion", json!("cellos.io/v2"))),
            &["apiVersion", "cellos.io/v1"],
        ),
        (
            "apiVersion number",
            Box::new(|v| set(v, "/apiVersion", json!(1))),
            &["apiVersion"],
        ),
        (
            "apiVersion missing",
            Box::new(|v| unset(v, "/apiVersion")),
            &["apiVersion", "required"],
        ),
        (
            "kind Pod",
            Box::new(|v| set(v, "/kind", json!("Pod"))),
            &["kind", "ExecutionCell"],
        ),
        (
            "kind missing",
            Box::new(|v| unset(v, "/kind")),
            &["kind", "required"],
        ),
    ];
    for (what, edit, needles) in cases {
        let mut spec = good(&ctx);
        edit(&mut spec);
        eprintln!("case: {what}");
        assert_refused_both(&ctx, &ctx.spec_file(&spec), needles);
    }
    ctx.finish();
}

#[test]
fn missing_or_invalid_id_is_refused() {
    let ctx = Ctx::new("id");
    let long = "a".repeat(129);
    let cases: Vec<(Option<Value>, &[&str])> = vec![
        (None, &["spec.id", "required"]),
        (Some(json!("")), &["spec.id", "empty"]),
        (Some(json!("has space")), &["spec.id"]),
        (Some(json!("-leading-dash")), &["spec.id"]),
        (Some(json!("../escape")), &["spec.id"]),
        (Some(json!("a/b")), &["spec.id"]),
        (Some(json!(long)), &["spec.id", "128"]),
        (Some(json!(42)), &["spec.id"]),
    ];
    for (id, needles) in cases {
        let mut spec = good(&ctx);
        match &id {
            None => unset(&mut spec, "/spec/id"),
            Some(v) => set(&mut spec, "/spec/id", v.clone()),
        }
        eprintln!("case: id {id:?}");
        assert_refused_both(&ctx, &ctx.spec_file(&spec), needles);
    }
    ctx.finish();
}

#[test]
fn bad_run_section_is_refused() {
    let ctx = Ctx::new("run");
    let cases: Vec<(&str, Value, &[&str])> = vec![
        ("/spec/run/argv", json!([]), &["spec.run.argv", "empty"]),
        ("/spec/run/argv", json!([""]), &["argv[0]", "empty"]),
        ("/spec/run/argv", json!("/bin/true"), &["spec.run.argv"]),
        (
            "/spec/run/workingDirectory",
            json!("work"),
            &["spec.run.workingDirectory", "absolute"],
        ),
        (
            "/spec/run/workingDirectory",
            json!("./work"),
            &["spec.run.workingDirectory"],
        ),
        (
            "/spec/run/workingDirectory",
            json!("/tmp/../work"),
            &["spec.run.workingDirectory", "clean"],
        ),
    ];
    for (ptr, val, needles) in cases {
        let mut spec = good(&ctx);
        set(&mut spec, ptr, val.clone());
        eprintln!("case: {ptr} = {val}");
        assert_refused_both(&ctx, &ctx.spec_file(&spec), needles);
    }
    let mut spec = good(&ctx);
    unset(&mut spec, "/spec/run");
    assert_refused_both(&ctx, &ctx.spec_file(&spec), &["spec.run", "required"]);
    ctx.finish();
}

#[test]
fn bad_ttl_is_refused() {
    let ctx = Ctx::new("ttl");
    for ttl in [
        json!(0),
        json!(-1),
        json!(1.5),
        json!("10"),
        json!(null),
        json!(true),
    ] {
        let mut spec = good(&ctx);
        set(&mut spec, "/spec/lifetime/ttlSeconds", ttl.clone());
        eprintln!("case: ttlSeconds {ttl}");
        assert_refused_both(&ctx, &ctx.spec_file(&spec), &["spec.lifetime.ttlSeconds"]);
    }
    ctx.finish();
}

#[test]
fn unknown_fields_are_named() {
    let ctx = Ctx::new("unknown");
    let cases = [
        ("/extraTopLevel", "extraTopLevel"),
        ("/spec/bogusSpecField", "bogusSpecField"),
        ("/spec/authority/netwrok", "netwrok"),
        ("/spec/run/argvv", "argvv"),
        ("/spec/lifetime/ttl", "ttl"),
    ];
    for (ptr, field) in cases {
        let mut spec = good(&ctx);
        set(&mut spec, ptr, json!(true));
        eprintln!("case: unknown {ptr}");
        assert_refused_both(&ctx, &ctx.spec_file(&spec), &[field, "unknown field"]);
    }
    ctx.finish();
}

#[test]
fn malformed_or_unreadable_files_are_refused() {
    let ctx = Ctx::new("malformed");
    for text in [
        "{",
        "",
        "not json",
        "[]",
        "{\"apiVersion\": \"cellos.io/v1\",}",
    ] {
        eprintln!("case: text {text:?}");
        let f = ctx.raw_spec_file(text);
        assert_refused_both(&ctx, &f, &[]);
    }
    // Truncated in the middle of a valid document.
    let full = serde_json::to_string(&good(&ctx)).unwrap();
    let f = ctx.raw_spec_file(&full[..full.len() / 2]);
    assert_refused_both(&ctx, &f, &["JSON"]);

    let missing = ctx.tmp.join("no-such-spec.json");
    assert_refused_both(&ctx, &missing, &["no-such-spec.json"]);
    let dir = ctx.dir("a-directory");
    assert_refused_both(&ctx, &dir, &[dir.to_str().unwrap()]);
    ctx.finish();
}

#[test]
fn bad_authority_and_rootfs_are_refused() {
    let ctx = Ctx::new("authority");
    let cases: Vec<(&str, Value, &[&str])> = vec![
        (
            "/spec/authority/capabilities",
            json!(["net_admin"]),
            &["spec.authority.capabilities"],
        ),
        (
            "/spec/authority/writablePaths",
            json!(["relative/path"]),
            &["spec.authority.writablePaths[0]", "absolute"],
        ),
        (
            "/spec/authority/readOnlyPaths",
            json!(["/proc/sys"]),
            &["spec.authority.readOnlyPaths[0]"],
        ),
        (
            "/spec/authority/network",
            json!("yes"),
            &["spec.authority.network"],
        ),
        ("/spec/rootfs", json!("/"), &["spec.rootfs"]),
    ];
    for (ptr, val, needles) in cases {
        let mut spec = good(&ctx);
        set(&mut spec, ptr, val.clone());
        eprintln!("case: {ptr} = {val}");
        assert_refused_both(&ctx, &ctx.spec_file(&spec), needles);
    }
    ctx.finish();
}

/// Bad CELLOS_* settings are refused before anything is created.
#[test]
fn bad_settings_are_refused() {
    let ctx = Ctx::new("settings");
    let mut spec = sh_cell(&ctx.id("env"), "echo should-not-run");
    set(&mut spec, "/spec/run/workingDirectory", json!("/work"));
    let f = ctx.spec_file(&spec);
    let cases: Vec<(&str, &str, &[&str])> = vec![
        ("CELLOS_SUBPROCESS_UNSHARE", "mnt,bogus", &["bogus"]),
        (
            "CELLOS_SUBPROCESS_UNSHARE",
            "pid",
            &["mnt", "workingDirectory"],
        ),
        (
            "CELLOS_SUBPROCESS_UNSHARE",
            ",",
            &["CELLOS_SUBPROCESS_UNSHARE"],
        ),
        (
            "CELLOS_DEPLOYMENT_PROFILE",
            "strict",
            &["strict", "CELLOS_DEPLOYMENT_PROFILE"],
        ),
        (
            "CELLOS_CELL_BACKEND",
            "docker",
            &["docker", "CELLOS_CELL_BACKEND"],
        ),
        ("CELLOS_EVENT_SINK", "kafka:x", &["CELLOS_EVENT_SINK"]),
        (
            "CELLOS_RUN_ARGV0_ALLOW_PREFIXES",
            "usr/bin",
            &["CELLOS_RUN_ARGV0_ALLOW_PREFIXES"],
        ),
    ];
    for (k, v, needles) in cases {
        for front in FRONTS {
            eprintln!("case: {front} {k}={v}");
            let env = [(k, v), ("CELL_OS_USE_NOOP_SINK", "1")];
            let out = ctx.run_front(front, &f, &env);
            out.refused(needles);
            assert!(
                !ctx.state.exists(),
                "{front} {k}={v}: nothing may be created, found {:?}",
                entries(&ctx.state)
            );
        }
    }
    ctx.finish();
}

/// With the default sink (no CELLOS_EVENT_SINK) the `rejected` event is
/// appended to $CELLOS_STATE_DIR/events.jsonl: that log is all a refused
/// spec leaves in the state dir (no bundle, no runtime state).
#[test]
fn default_sink_refusal_leaves_only_the_event_log() {
    let ctx = Ctx::new("refusedefault");
    let mut spec = good(&ctx);
    set(&mut spec, "/spec/run/argv", json!([]));
    let f = ctx.spec_file(&spec);
    ctx.supervise(&f, &[]).refused(&["spec.run.argv"]);
    assert_eq!(entries(&ctx.state), ["events.jsonl"]);
    let ev = json_lines(&std::fs::read_to_string(ctx.state.join("events.jsonl")).unwrap());
    assert_eq!(event_kinds(&ev), ["rejected"]);
    ctx.finish();
}
