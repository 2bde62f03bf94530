//! OCI hooks: each runs at its point of the lifecycle with the state JSON on stdin.

mod support;

use serde_json::{Value, json};
use std::path::Path;
use support::*;

/// A hook that saves its stdin (the state JSON) into `file`.
fn saving_hook(file: &Path) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {}", file.display())]})
}

fn read_state(file: &Path) -> Value {
    let text = read_lossy(file);
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "{} does not hold the state JSON ({e}): {text:?}",
            file.display()
        )
    })
}

const HOST_HOOKS: [&str; 4] = ["createRuntime", "prestart", "poststart", "poststop"];

/// A bundle whose runtime-namespace hooks save their state into `out`, and
/// whose startContainer hook (run inside the container) saves it into
/// /tmp/start-state, which the process prints.
fn hooked_bundle(env: &Env, out: &Path) -> std::path::PathBuf {
    env.bundle(|c| {
        set_args(c, &["sh", "-c", "cat /tmp/start-state; echo; sleep 1000"]);
        let mut hooks = serde_json::Map::new();
        for h in HOST_HOOKS {
            hooks.insert(h.into(), json!([saving_hook(&out.join(h))]));
        }
        hooks.insert(
            "startContainer".into(),
            json!([{"path": "/bin/sh", "args": ["sh", "-c", "cat > /tmp/start-state"]}]),
        );
        c["hooks"] = Value::Object(hooks);
    })
}

#[test]
fn hooks_run_with_state() {
    require_root!();
    let env = Env::new("hooks");
    let out = env.subdir("hook-out");
    let bundle = hooked_bundle(&env, &out);
    let id = env.id();
    env.create(&bundle, &id, &[]).ok();
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    // create ran createRuntime and prestart, in that order of the lifecycle,
    // with the container still being created; nothing later ran yet.
    // prestart is told "created" (runtime-tools hooks_stdin, crun).
    for (h, status) in [("createRuntime", "creating"), ("prestart", "created")] {
        let st = read_state(&out.join(h));
        assert_eq!(st["id"], id.as_str(), "{h}: {st}");
        assert_eq!(st["status"], status, "{h}: {st}");
        assert_eq!(st["pid"], pid, "{h}: {st}");
        assert!(st["ociVersion"].is_string(), "{h}: {st}");
    }
    assert!(!out.join("poststart").exists());
    assert!(!out.join("poststop").exists());

    env.start(&id).ok();
    let st = read_state(&out.join("poststart"));
    assert_eq!(st["id"], id.as_str(), "{st}");
    assert_eq!(st["status"], "running", "{st}");
    assert_eq!(st["pid"], pid, "{st}");
    // startContainer ran inside the container before the process.
    let printed = wait_file_contains(&bundle.join("stdout"), "\n");
    let st: Value = serde_json::from_str(printed.trim()).expect("startContainer state JSON");
    assert_eq!(st["id"], id.as_str(), "{st}");
    assert!(!out.join("poststop").exists());

    env.rt(&["kill", &id, "9"]).ok();
    env.wait_status(&id, "stopped");
    env.rt(&["delete", &id]).ok();
    let st = read_state(&out.join("poststop"));
    assert_eq!(st["id"], id.as_str(), "{st}");
    assert_eq!(st["status"], "stopped", "{st}");
    env.assert_gone(&id);
    env.finish();
}

/// runtime-spec: the state's `bundle` is "the absolute path to the
/// container's bundle directory", so that hooks find config.json and the
/// rootfs there. It is the bundle the engine passed, never the copy private
/// to the runtime: neither with a config the runtime runs as it is
/// (cgroupsPath and HOME set, as engines write it) nor with one it has to
/// adjust (no cgroupsPath, no HOME: a patched copy in the state root).
#[test]
fn hooks_see_the_callers_bundle() {
    require_root!();
    let env = Env::new("hookbundle");
    for as_engines_write_it in [true, false] {
        let out = env.subdir("hook-out");
        let bundle = hooked_bundle(&env, &out);
        let id = env.id();
        let cfg_path = bundle.join("config.json");
        let mut cfg: Value =
            serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
        if as_engines_write_it {
            cfg["linux"]["cgroupsPath"] = Value::String(format!("/cellos-{id}"));
            cfg["process"]["env"]
                .as_array_mut()
                .unwrap()
                .push(Value::String("HOME=/root".into()));
        } else {
            cfg["linux"].as_object_mut().unwrap().remove("cgroupsPath");
            cfg["process"]["env"] = serde_json::json!(["PATH=/bin"]);
        }
        std::fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
        env.create(&bundle, &id, &[]).ok();
        env.start(&id).ok();
        assert_eq!(env.state(&id)["bundle"], bundle.to_str().unwrap());
        // exec still runs from the adjusted copy (its cgroup among others).
        let pid_file = out.join("exec.pid");
        let pf = pid_file.to_str().unwrap();
        env.rt(&["exec", "--detach", "--pid-file", pf, &id, "sleep", "100"])
            .ok();
        let pid = read_lossy(&pid_file);
        let cg = read_lossy(Path::new(&format!("/proc/{}/cgroup", pid.trim())));
        assert!(cg.contains(&format!("/cellos-{id}")), "exec'd {pid}: {cg}");
        env.rt(&["delete", "--force", &id]).ok();
        for h in HOST_HOOKS {
            let st = read_state(&out.join(h));
            assert_eq!(
                st["bundle"],
                bundle.to_str().unwrap(),
                "{h} hook got {st} (engine-style config: {as_engines_write_it})"
            );
        }
    }
    env.finish();
}

#[test]
fn failing_prestart_hook_fails_create() {
    require_root!();
    let env = Env::new("hookfail");
    let bundle = env.bundle(|c| {
        set_args(c, &["true"]);
        c["hooks"] = json!({"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]});
    });
    let id = env.id();
    env.create(&bundle, &id, &[])
        .fails_with(&[&id, "hook", "3"]);
    env.assert_gone(&id);
    // A hook binary that does not exist.
    let bundle = env.bundle(|c| {
        set_args(c, &["true"]);
        c["hooks"] = json!({"createRuntime": [{"path": "/no/such/hook"}]});
    });
    let id = env.id();
    env.create(&bundle, &id, &[])
        .fails_with(&[&id, "/no/such/hook"]);
    env.assert_gone(&id);
    env.finish();
}

#[test]
fn failing_poststop_hook_does_not_block_delete() {
    require_root!();
    // runtime-spec: a failing poststart or poststop hook is a warning; the
    // lifecycle goes on, and so do the hooks after it.
    let env = Env::new("hookpoststop");
    let out = env.subdir("hook-out");
    let bundle = env.bundle(|c| {
        set_args(c, &["sleep", "1000"]);
        c["hooks"] = json!({"poststop": [
            {"path": "/bin/sh", "args": ["sh", "-c", "exit 4"]},
            saving_hook(&out.join("poststop-after-failure")),
        ], "poststart": [
            {"path": "/bin/sh", "args": ["sh", "-c", "exit 5"]},
            saving_hook(&out.join("poststart-after-failure")),
        ]});
    });
    let id = env.id();
    env.create(&bundle, &id, &[]).ok();
    // A failing poststart hook does not fail start either.
    let o = env.start(&id);
    o.ok();
    assert!(o.stderr.contains("warning"), "{o}");
    assert_eq!(env.status(&id), "running");
    assert_eq!(
        read_state(&out.join("poststart-after-failure"))["id"],
        id.as_str()
    );
    let o = env.rt(&["delete", "--force", &id]);
    o.ok();
    assert!(o.stderr.contains("poststop"), "{o}");
    assert_eq!(
        read_state(&out.join("poststop-after-failure"))["id"],
        id.as_str()
    );
    env.assert_gone(&id);
    env.finish();
}
