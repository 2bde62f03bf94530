//! Fuzzing on stable Rust: property tests over everything that parses
//! input a user or an engine wrote. Invariant for each: no panic; either a
//! value, or an error that is one line without Rust Debug text, as the
//! runtime prints it (`chain_message`, which escapes the control characters
//! serde quotes raw; our own validate.rs errors are checked bare).
//!
//! Inputs are both arbitrary strings and valid documents with a few fields
//! replaced by arbitrary JSON (which reaches the checks behind the parser).
//! Cases per property: 400 by default (the whole file runs in a few
//! seconds); `PROPTEST_CASES=N` sets another count (`make soak`).
//! No root needed: nothing here starts a container.

use cellos_runtime::cell::{Cell, ConvertOptions, Namespace, to_oci_spec};
use cellos_runtime::commands::{exec, update};
use cellos_runtime::error::chain_message;
use cellos_runtime::runtime::bundle;
use cellos_runtime::{signals, user, validate};
use oci_spec::runtime::Spec;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::path::Path;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    ProptestConfig {
        cases,
        // Shrinking a JSON document can take long; the first failure is kept
        // in tests/fuzz_parsers.proptest-regressions either way.
        max_shrink_iters: 2000,
        ..ProptestConfig::default()
    }
}

/// Rust Debug text that must never reach a user (unless the input itself
/// carried it and the message quotes it).
const DEBUG_TEXT: &[&str] = &["Os {", "Nix(", "Some(", "Errno", "kind: "];

/// The invariant on an error message: one line, not empty, no Debug text
/// that did not come from the input.
fn clean_line(msg: &str, input: &str) -> Result<(), TestCaseError> {
    prop_assert!(!msg.trim().is_empty(), "empty error for {input:?}");
    prop_assert!(
        !msg.contains('\n') && !msg.contains('\r'),
        "multi-line error {msg:?} for {input:?}"
    );
    for t in DEBUG_TEXT {
        prop_assert!(
            !msg.contains(t) || input.contains(t),
            "Debug text {t:?} in {msg:?} for {input:?}"
        );
    }
    Ok(())
}

fn anyhow_line(e: &anyhow::Error, input: &str) -> Result<(), TestCaseError> {
    clean_line(&chain_message(e.as_ref()), input)
}

/// Strings with the characters that matter to paths, names and numbers.
fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_./:=+-]{0,16}",
        "(/|\\.\\./|\\./|[a-z]{1,3}/|\\.\\.|\u{0}|\n|%|\\\\)*",
        any::<String>(),
        Just(String::new()),
    ]
}

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        prop_oneof![Just(-1i64), Just(0), Just(1), Just(4096), Just(2147483648)]
            .prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        tricky_string().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(tricky_string(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every JSON pointer in `v`, plus the positions one past each array's end.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(c, p, out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(c, p, out);
            }
            out.push(format!("{at}/{}", a.len()));
        }
        _ => {}
    }
}

/// Set (or with None, remove) the value at `ptr`; the parent must exist.
fn set_at(doc: &mut Value, ptr: &str, val: Option<Value>) {
    let Some((parent, key)) = ptr.rsplit_once('/') else {
        return;
    };
    let key = key.replace("~1", "/").replace("~0", "~");
    match (doc.pointer_mut(parent), val) {
        (Some(Value::Object(m)), Some(v)) => {
            m.insert(key, v);
        }
        (Some(Value::Object(m)), None) => {
            m.remove(&key);
        }
        (Some(Value::Array(a)), v) => match (key.parse::<usize>(), v) {
            (Ok(i), Some(v)) if i < a.len() => a[i] = v,
            (Ok(i), Some(v)) if i == a.len() => a.push(v),
            (Ok(i), None) if i < a.len() => {
                a.remove(i);
            }
            _ => {}
        },
        _ => {}
    }
}

/// `base` with one to three fields replaced, removed or added.
fn mutated(base: Value, extra: &'static [&'static str]) -> impl Strategy<Value = String> {
    let mut ptrs = Vec::new();
    pointers(&base, String::new(), &mut ptrs);
    ptrs.extend(extra.iter().map(|s| s.to_string()));
    let edit = (
        prop::sample::select(ptrs),
        prop::option::weighted(0.9, json_value()),
    );
    prop::collection::vec(edit, 1..4).prop_map(move |edits| {
        let mut doc = base.clone();
        for (p, v) in edits {
            set_at(&mut doc, &p, v);
        }
        doc.to_string()
    })
}

/// A document: arbitrary text, or a mutation of a valid one.
fn document(base: Value, extra: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        1 => any::<String>(),
        1 => "[{}\\[\\]\",:0-9a-z \\\\]{0,40}",
        6 => mutated(base, extra),
    ]
}

fn fixture_config() -> Value {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/bundle-fixtures/busybox/config.json"
    );
    serde_json::from_str(&std::fs::read_to_string(p).expect("fixture config")).unwrap()
}

/// Fields the fixture lacks that the checks look at.
const SPEC_EXTRA: &[&str] = &[
    "/hooks",
    "/linux/devices",
    "/linux/sysctl",
    "/linux/cgroupsPath",
    "/linux/seccomp",
    "/linux/rootfsPropagation",
    "/linux/uidMappings",
    "/linux/netDevices",
    "/process/oomScoreAdj",
    "/process/apparmorProfile",
    "/process/user/additionalGids",
];

/// config.json as `create` reads it: parse into the typed Spec, then the
/// checks of validate.rs (the pure part of bundle.rs's preparation).
fn check_config(text: &str) -> Result<(), TestCaseError> {
    match serde_json::from_str::<Spec>(text) {
        // As create says it: the field's path, then serde's words.
        Err(e) => clean_line(&chain_message(&e), text)
            .and_then(|()| clean_line(&validate::parse_error(text, &e), text)),
        Ok(spec) => match validate::spec(&spec) {
            Ok(()) => Ok(()),
            // Our own checks quote every value: their Display is one line.
            Err(e) => clean_line(&e.to_string(), text),
        },
    }
}

/// `create`'s preparation of a bundle (bundle::prepare: read, check,
/// adjust, write the engine's copy) in a private temp dir, with an empty
/// rootfs of its own. An accepted config must come out as a copy our own
/// checks accept again.
fn check_prepare(text: &str) -> Result<(), TestCaseError> {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    /// Removes the temp dir, after a panic too.
    struct TempDir(std::path::PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let tmp = TempDir(std::env::temp_dir().join(format!("cellos-fuzz-{}-{n}", std::process::id())));
    let dir = tmp.0.clone();
    let bundle = dir.join("bundle");
    std::fs::create_dir_all(bundle.join("rootfs")).unwrap();
    std::fs::write(bundle.join("config.json"), text).unwrap();
    let res = bundle::prepare("fuzz", &bundle, &dir.join("scratch"));
    let out = match res {
        Err(e) => clean_line(&chain_message(&e), text),
        Ok(p) => {
            let written = p.config_dir.join("config.json");
            match Spec::load(&written) {
                Err(e) => Err(TestCaseError::fail(format!(
                    "{text} was prepared into an unreadable copy: {e}"
                ))),
                Ok(spec) => validate::spec(&spec).map_err(|e| {
                    TestCaseError::fail(format!("{text} was prepared into a refused copy: {e}"))
                }),
            }
        }
    };
    drop(tmp);
    out
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn config_json(text in document(fixture_config(), SPEC_EXTRA)) {
        check_config(&text)?;
    }

    #[test]
    fn config_json_prepared(text in mutated(fixture_config(), SPEC_EXTRA)) {
        // podman's tmpcopyup stages a real tmpfs mount: not for a fuzz run.
        prop_assume!(!text.contains("tmpcopyup"));
        check_prepare(&text)?;
    }

    #[test]
    fn signal_names(
        raw in prop_oneof![
            any::<String>(),
            (
                prop::sample::select(vec!["", "SIG", "sig", "RT", "RTMIN", "SIGRTMAX", "rtmin", "KILL", "TERM"]),
                prop::sample::select(vec!["", "+", "-", "--", "+-"]),
                prop_oneof![
                    any::<i64>().prop_map(|n| n.to_string()),
                    any::<i32>().prop_map(|n| n.to_string()),
                    (i32::MAX - 40..=i32::MAX).prop_map(|n| n.to_string()),
                    Just(i32::MIN.to_string()),
                    "[0-9]{0,22}",
                ],
            )
                .prop_map(|(a, b, c)| format!("{a}{b}{c}")),
        ]
    ) {
        match signals::parse(&raw) {
            Ok(n) => prop_assert!((1..=libc::SIGRTMAX()).contains(&n), "{raw:?} -> {n}"),
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(msg.starts_with("invalid signal"), "{msg}");
                clean_line(&msg, &raw)?;
            }
        }
    }

    #[test]
    fn exec_process_files(
        text in document(
            json!({"terminal": false, "user": {"uid": 0, "gid": 0, "additionalGids": [1]},
                   "args": ["sh", "-c", "true"], "env": ["PATH=/bin", "A=1"], "cwd": "/",
                   "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"]},
                   "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 10, "soft": 10}],
                   "noNewPrivileges": true}),
            &["/oomScoreAdj", "/apparmorProfile", "/consoleSize"],
        )
    ) {
        if let Err(e) = exec::parse_process(&text, Path::new("/run/p.json")) {
            anyhow_line(&e, &text)?;
        }
    }

    #[test]
    fn update_resources_files(
        text in document(
            json!({"memory": {"limit": 67108864, "swap": -1, "disableOOMKiller": false},
                   "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0-1"},
                   "pids": {"limit": 64},
                   "blockIO": {"weight": 100}}),
            &["/unified", "/hugepageLimits", "/network", "/devices"],
        )
    ) {
        if let Err(e) = update::parse_resources(&text, "r.json") {
            anyhow_line(&e, &text)?;
        }
    }

    #[test]
    fn update_sizes(raw in prop_oneof![any::<String>(), "-?[0-9]{0,22}[kKmMgGtTbB]{0,2}"]) {
        match update::parse_size(&raw) {
            Ok(n) => prop_assert!(n >= -1, "{raw:?} -> {n}"),
            Err(e) => anyhow_line(&e, &raw)?,
        }
    }

    #[test]
    fn cell_specs(
        text in document(
            json!({"apiVersion": "cellos.io/v1", "kind": "ExecutionCell",
                   "spec": {"id": "build-42",
                            "authority": {"network": false, "capabilities": ["CAP_CHOWN"],
                                          "readOnlyPaths": ["/usr"], "writablePaths": []},
                            "lifetime": {"ttlSeconds": 60},
                            "run": {"argv": ["/bin/sh", "-c", "make"], "workingDirectory": "/work",
                                    "env": ["A=1"], "user": {"uid": 1000, "gid": 1000}},
                            "resources": {"memoryBytes": 67108864, "cpus": 0.5, "pids": 64}}}),
            &["/spec/rootfs", "/spec/authority/writablePaths/0"],
        )
    ) {
        match Cell::from_json(&text) {
            Err(e) => clean_line(&chain_message(&e), &text)?,
            // Convert it too: whatever a valid cell becomes must pass the
            // runtime's own checks.
            Ok(cell) => match to_oci_spec(&cell, &ConvertOptions::default()) {
                Err(e) => clean_line(&chain_message(&e), &text)?,
                Ok(spec) => {
                    if let Err(e) = validate::spec(&spec) {
                        prop_assert!(false, "cell {text} converts to a refused config: {e}");
                    }
                }
            },
        }
    }

    #[test]
    fn cell_namespace_lists(raw in prop_oneof![any::<String>(), "((mnt|pid|net|ipc|uts|user|cgroup|x| |,)){0,8}"]) {
        if let Err(e) = Namespace::parse_list(&raw) {
            clean_line(&chain_message(&e), &raw)?;
        }
    }

    /// The adjustment `create` makes to a config without HOME: read the
    /// image's passwd text and set HOME for the process's user.
    #[test]
    fn passwd_and_home(
        text in prop_oneof![any::<String>(), "(([a-z+-]{0,4}:x?:[0-9]{0,11}:[0-9]{0,3}:[^:\n]{0,4}:[/a-z]{0,6}:[/a-z]{0,6})?\n){0,6}"],
        uid in prop_oneof![any::<u32>(), 0u32..3],
    ) {
        let _ = user::parse_passwd(&text);
        let mut env = vec!["PATH=/bin".to_string()];
        user::ensure_home(&mut env, uid, Some(&text));
        let home = user::env_home(&env);
        prop_assert!(home.is_some_and(|h| !h.is_empty()), "{env:?}");
    }
}

/// The base documents are valid: the mutations start from something that passes.
#[test]
fn the_base_documents_pass() {
    check_config(&fixture_config().to_string()).unwrap();
    check_prepare(&fixture_config().to_string()).unwrap();
    let cfg = fixture_config();
    let spec: Spec = serde_json::from_value(cfg).unwrap();
    validate::spec(&spec).unwrap();
}
