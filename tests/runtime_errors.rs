//! Errors: exit 1, one clear line on stderr naming the thing, the same
//! message as a runc-shaped JSON line in the --log file, and nothing left
//! behind (no state, no cgroup, no process).

mod support;

use serde_json::Value;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use support::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Run `args` with `--log-format json --log F` and check the error is the
/// same on stderr and in the last line of F, which is runc-shaped JSON.
#[track_caller]
fn json_logged_failure(env: &Env, args: &[&str], needles: &[&str]) -> Out {
    let log = env.subdir("log").join("log.json");
    let mut full = vec!["--log-format", "json", "--log", s(&log)];
    full.extend_from_slice(args);
    let o = env.rt(&full);
    o.fails_with(needles);
    let text = read_lossy(&log);
    let last = text
        .lines()
        .last()
        .unwrap_or_else(|| panic!("log file is empty:\n{o}"));
    let v: Value =
        serde_json::from_str(last).unwrap_or_else(|e| panic!("log line not JSON ({e}): {last}"));
    let obj = v.as_object().unwrap();
    assert_eq!(obj.get("level"), Some(&Value::from("error")), "{last}");
    let msg = obj
        .get("msg")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no msg: {last}"));
    let time = obj
        .get("time")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no time: {last}"));
    assert!(is_rfc3339(time), "time {time:?} is not RFC 3339");
    assert!(
        !obj.contains_key("message") && !obj.contains_key("LEVEL"),
        "{last}"
    );
    for n in needles {
        assert!(msg.contains(n), "log msg lacks {n:?}: {last}");
    }
    assert!(
        o.stderr.contains(msg),
        "stderr does not carry the log message {msg:?}:\n{o}"
    );
    o
}

#[test]
fn malformed_config() {
    let env = Env::new("badcfg");
    let bundle = env.subdir("bundle");
    std::fs::write(
        bundle.join("config.json"),
        "{\"ociVersion\": \"1.0.2\", \"process\": [}",
    )
    .unwrap();
    let id = env.id();
    json_logged_failure(
        &env,
        &["create", "--bundle", s(&bundle), &id],
        &["config.json"],
    );
    env.assert_gone(&id);
    // A config whose field has the wrong type.
    let bundle = env.bundle(|c| c["process"]["args"] = Value::from("sh"));
    let id = env.id();
    env.create(&bundle, &id, &[]).fails_with(&["config.json"]);
    env.assert_gone(&id);
    // A bundle with no config.json at all.
    let empty = env.subdir("empty");
    let id = env.id();
    env.create(&empty, &id, &[])
        .fails_with(&["config.json", "No such file"]);
    env.assert_gone(&id);
    env.finish();
}

#[test]
fn missing_rootfs() {
    let env = Env::new("norootfs");
    let bundle = env.bundle(|c| c["root"]["path"] = Value::from("/no/such/rootfs"));
    let id = env.id();
    json_logged_failure(
        &env,
        &["create", "--bundle", s(&bundle), &id],
        &["/no/such/rootfs"],
    );
    env.assert_gone(&id);
    env.finish();
}

#[test]
fn bad_ids() {
    require_root!();
    let env = Env::new("badids");
    let bundle = env.bundle_args(&["true"]);
    let long = "a".repeat(201);
    for bad in ["", "..", "a/b", long.as_str(), "../escape"] {
        let o = env.create(&bundle, bad, &[]);
        o.fails_with(&["invalid container id"]);
        assert!(
            o.stderr.contains(&format!("{bad:?}")),
            "error does not name the id:\n{o}"
        );
    }
    // Nothing was created anywhere under the root.
    let entries: Vec<_> = std::fs::read_dir(&env.root)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name())
                .filter(|n| n != "@bundles")
                .collect()
        })
        .unwrap_or_default();
    assert!(entries.is_empty(), "{entries:?}");
    assert!(!Path::new("/tmp/cellos-t-escape").exists());
    // Every command checks the id, state included.
    env.rt(&["state", "a/b"])
        .fails_with(&["invalid container id", "a/b"]);
    // 200 characters is still fine.
    let ok = format!("{}-{}", std::process::id(), "b".repeat(200));
    let ok = &ok[..200];
    env.track(ok);
    env.create(&bundle, ok, &[]).ok();
    env.rt(&["delete", ok]).ok();
    env.assert_gone(ok);
    env.finish();
}

#[test]
fn duplicate_id() {
    require_root!();
    let env = Env::new("dupid");
    let bundle = env.bundle_args(&["sleep", "1000"]);
    let id = env.id();
    env.create(&bundle, &id, &[]).ok();
    let pid = env.state(&id)["pid"].clone();
    let b2 = env.bundle_args(&["true"]);
    json_logged_failure(
        &env,
        &["create", "--bundle", s(&b2), &id],
        &[&id, "already exists"],
    );
    // The first container is untouched.
    let st = env.state(&id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["pid"], pid);
    assert_eq!(st["bundle"], s(&bundle));
    env.rt(&["delete", "--force", &id]).ok();
    env.assert_gone(&id);
    env.finish();
}

#[test]
fn unknown_container() {
    let env = Env::new("unknown");
    let id = env.id();
    for args in [
        vec!["state", &id],
        vec!["start", &id],
        vec!["kill", &id, "9"],
        vec!["delete", &id],
        vec!["exec", &id, "true"],
        vec!["pause", &id],
        vec!["resume", &id],
        vec!["ps", "--format", "json", &id],
        vec!["events", "--stats", &id],
        vec!["update", "--memory", "64m", &id],
    ] {
        let o = json_logged_failure(&env, &args, &[&id, "does not exist"]);
        assert_eq!(o.stdout, "", "{o}");
    }
    env.assert_gone(&id);
    env.finish();
}

#[test]
fn bad_signals() {
    require_root!();
    let env = Env::new("badsig");
    let (id, _) = env.sleeper();
    for sig in ["NOPE", "0", "65", "SIGFOO", "RTMAX+1"] {
        env.rt(&["kill", &id, sig])
            .fails_with(&["invalid signal", sig]);
    }
    assert_eq!(env.status(&id), "running");
    env.finish();
}

#[test]
fn delete_running_needs_force() {
    require_root!();
    let env = Env::new("delrunning");
    let (id, _) = env.sleeper();
    let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
    json_logged_failure(&env, &["delete", &id], &[&id, "running", "--force"]);
    let st = env.state(&id);
    assert_eq!(st["status"], "running");
    assert!(pid_alive(pid));
    env.rt(&["delete", "--force", &id]).ok();
    assert!(!pid_alive(pid));
    env.assert_gone(&id);
    env.finish();
}

#[test]
fn start_twice() {
    require_root!();
    let env = Env::new("starttwice");
    let (id, _) = env.sleeper();
    json_logged_failure(&env, &["start", &id], &[&id, "running", "not created"]);
    assert_eq!(env.status(&id), "running");
    env.finish();
}

#[test]
fn start_stopped() {
    require_root!();
    let env = Env::new("startstopped");
    let (id, _) = env.create_started(&["true"]);
    env.wait_status(&id, "stopped");
    env.rt(&["start", &id]).fails_with(&[&id, "stopped"]);
    env.rt(&["pause", &id]).fails_with(&[&id, "stopped"]);
    env.rt(&["delete", &id]).ok();
    env.finish();
}

#[test]
fn exec_into_stopped_or_created() {
    require_root!();
    let env = Env::new("execstopped");
    let (id, _) = env.create_started(&["true"]);
    env.wait_status(&id, "stopped");
    json_logged_failure(&env, &["exec", &id, "true"], &[&id, "not running"]);
    // Also before start.
    let bundle = env.bundle_args(&["sleep", "1000"]);
    let id2 = env.id();
    env.create(&bundle, &id2, &[]).ok();
    env.exec(&id2, &["true"]).fails_with(&[&id2, "created"]);
    env.finish();
}

#[test]
fn missing_command() {
    require_root!();
    let env = Env::new("nocmd");
    let bundle = env.bundle_args(&["nonexistent"]);
    let id = env.id();
    let log = bundle.join("log.json");
    let mut cmd = env.rt_cmd(&[
        "--log-format",
        "json",
        "--log",
        s(&log),
        "create",
        "--bundle",
        s(&bundle),
        &id,
    ]);
    cmd.stdin(std::process::Stdio::null());
    let o = run_piped(cmd, None, CMD_TIMEOUT);
    o.fails_with(&["nonexistent", "executable file not found in $PATH"]);
    let last = read_lossy(&log)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    let v: Value = serde_json::from_str(&last).expect("json log line");
    assert_eq!(v["level"], "error");
    assert!(
        v["msg"]
            .as_str()
            .unwrap()
            .contains("executable file not found in $PATH")
    );
    assert!(is_rfc3339(v["time"].as_str().unwrap()));
    env.assert_gone(&id);
    // The same through a foreground run.
    let id = env.id();
    env.run_fg(&bundle, &id)
        .fails_with(&["executable file not found in $PATH"]);
    env.assert_gone(&id);
    // And through exec into a running container.
    let (cid, _) = env.sleeper();
    env.exec(&cid, &["nonexistent"])
        .fails_with(&["executable file not found in $PATH"]);
    assert_eq!(env.status(&cid), "running");
    env.finish();
}

#[test]
fn non_executable_command() {
    require_root!();
    let env = Env::new("noexec");
    let bundle = env.bundle_args(&["/etc/passwd"]);
    let id = env.id();
    json_logged_failure(
        &env,
        &["create", "--bundle", s(&bundle), &id],
        &["/etc/passwd", "permission denied"],
    );
    env.assert_gone(&id);
    // A directory is not executable either.
    let bundle = env.bundle_args(&["/etc"]);
    let id = env.id();
    env.create(&bundle, &id, &[])
        .fails_with(&["permission denied"]);
    env.assert_gone(&id);
    // An absolute path that does not exist.
    let bundle = env.bundle_args(&["/bin/nope"]);
    let id = env.id();
    env.create(&bundle, &id, &[])
        .fails_with(&["/bin/nope", "no such file or directory"]);
    env.assert_gone(&id);
    env.finish();
}

#[test]
fn bad_cwd_and_missing_process() {
    let env = Env::new("badcwd");
    let bundle = env.bundle(|c| {
        set_args(c, &["true"]);
        c["process"]["cwd"] = Value::from("/no/such/dir");
    });
    let id = env.id();
    env.create(&bundle, &id, &[]).fails_with(&[]);
    env.assert_gone(&id);
    let bundle = env.bundle(|c| {
        c.as_object_mut().unwrap().remove("process");
    });
    let id = env.id();
    env.create(&bundle, &id, &[]).fails_with(&["process"]);
    env.assert_gone(&id);
    env.finish();
}

#[test]
fn unwritable_pid_file() {
    require_root!();
    let env = Env::new("badpidfile");
    let bundle = env.bundle_args(&["sleep", "1000"]);
    let id = env.id();
    let o = env.create(&bundle, &id, &["--pid-file", "/no/such/dir/init.pid"]);
    o.fails_with(&["/no/such/dir/init.pid"]);
    env.assert_gone(&id);
    env.finish();
}

#[test]
fn text_log_format() {
    let env = Env::new("textlog");
    let id = env.id();
    let log = env.subdir("log").join("log.txt");
    let o = env.rt(&["--log", s(&log), "state", &id]);
    o.fails_with(&["does not exist"]);
    let text = read_lossy(&log);
    let last = text.lines().last().expect("log line");
    assert!(last.starts_with("time=\""), "{last}");
    assert!(last.contains(" level=error msg=\""), "{last}");
    assert!(last.contains("does not exist"), "{last}");
    env.finish();
}

/// A flag or value the CLI does not know is one line and exit 1 like any
/// other error (not clap's usage block), and reaches the JSON log.
#[test]
fn usage_errors_are_one_line() {
    let env = Env::new("usage");
    env.rt(&["create", "--bogus", "x"])
        .fails_with(&["unexpected argument '--bogus'"]);
    env.rt(&["--log-format=yaml", "state", "x"])
        .fails_with(&["invalid value 'yaml'", "text, json"]);
    env.rt(&["kill"]).fails_with(&["<CONTAINER_ID>"]);
    let log = env.subdir("log").join("log.json");
    env.rt(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "pause",
    ])
    .fails_with(&["not provided"]);
    let last = read_lossy(&log);
    let v: serde_json::Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
    assert_eq!(v["level"], "error");
    assert!(v["msg"].as_str().unwrap().contains("<CONTAINER_ID>"), "{v}");
    // An argument that is not UTF-8 is a usage error too, not a crash.
    let mut cmd = env.rt_cmd(&[]);
    cmd.arg(std::ffi::OsStr::from_bytes(b"st\xffte"));
    run_piped(cmd, None, std::time::Duration::from_secs(10))
        .fails_with(&["unrecognized subcommand"]);
    env.finish();
}

/// The harness's doubled-cause check (applied to every stderr of our
/// binaries) finds a repeated cause, and only that.
#[test]
fn doubled_cause_check_finds_repeats() {
    let os = "No such file or directory (os error 2)";
    let doubled = format!("cellos-runtime: /proc/nonexistent: {os}: {os}");
    assert_eq!(
        doubled_cause(&format!("ok\n{doubled}\n")),
        Some(doubled.as_str())
    );
    let msg = "spec.id \"-bad\" must start with a letter or digit";
    assert!(doubled_cause(&format!("cellos-runtime: x.json: {msg}: {msg}")).is_some());
    assert!(doubled_cause("a: b: c: b: c").is_some());
    assert_eq!(
        doubled_cause(&format!("cellos-runtime: /proc/nonexistent: {os}")),
        None
    );
    assert_eq!(doubled_cause("sh: foo: not found"), None);
    assert_eq!(doubled_cause("exec: a: ab"), None);
}

/// The check is wired into the runner: a program of ours (here a stand-in
/// with our binary's name) that prints a cause twice fails the test.
#[test]
#[should_panic(expected = "cause printed twice")]
fn runner_fails_on_a_doubled_cause() {
    let env = Env::new("doubled");
    let fake = env.subdir("bin").join("cellos-runtime");
    let os = "No such file or directory (os error 2)";
    write_script(
        &fake,
        &format!("echo 'cellos-runtime: /proc/nonexistent: {os}: {os}' >&2; exit 1"),
    );
    run(std::process::Command::new(&fake));
}
