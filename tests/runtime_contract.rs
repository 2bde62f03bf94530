//! The exact command lines containerd and podman send (listed in
//! tests/contract/engine-lines.txt), and what they read back.

mod support;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A started container whose shell reports signal `sig` as `got-<sig>`
/// (lower case) and exits 0 on SIGTERM after reporting `got-term`.
fn signal_reporter(env: &Env, sig: &str) -> (String, PathBuf) {
    let script = format!(
        "trap 'echo got-{}' {sig}; trap 'echo got-term; exit 0' TERM; echo ready; while true; do sleep 0.05; done",
        sig.to_lowercase()
    );
    let (id, bundle) = env.create_started(&["sh", "-c", &script]);
    wait_file_contains(&bundle.join("stdout"), "ready");
    (id, bundle)
}

#[test]
fn containerd_lifecycle_lines() {
    require_root!();
    let env = Env::new("ctrd");
    let bundle = env.bundle_args(&["sleep", "1000"]);
    let id = env.id();
    let root = env.root.to_str().unwrap().to_string();
    let log = bundle.join("log.json");
    let init_pid = bundle.join("init.pid");
    let g = |rest: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["--root", &root, "--log", s(&log), "--log-format", "json"]
            .iter()
            .map(|x| x.to_string())
            .collect();
        v.extend(rest.iter().map(|x| x.to_string()));
        v
    };
    let run = |rest: &[&str]| {
        let args = g(rest);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        env.rt_exact(&refs)
    };

    // create --bundle B --pid-file B/init.pid ID
    let args = g(&[
        "create",
        "--bundle",
        s(&bundle),
        "--pid-file",
        s(&init_pid),
        &id,
    ]);
    let mut cmd = Command::new(BIN);
    cmd.args(&args).stdin(Stdio::null());
    env.rt_to_files(cmd, &bundle).ok();
    let pid: i32 = std::fs::read_to_string(&init_pid)
        .expect("init.pid written by create")
        .trim()
        .parse()
        .expect("init.pid holds a number");
    assert_eq!(env.state(&id)["pid"], pid);

    run(&["start", &id]).ok();
    assert_eq!(env.status(&id), "running");

    // exec --process FILE --detach --pid-file B/<exec-id>.pid ID
    let proc_dir = env.subdir("runc-process");
    let proc_file = proc_dir.join("runc-process1");
    let mut process = base_config()["process"].clone();
    process["args"] = json!(["sleep", "999"]);
    std::fs::write(&proc_file, process.to_string()).unwrap();
    let exec_pid_file = bundle.join("exec1.pid");
    let args = g(&[
        "exec",
        "--process",
        s(&proc_file),
        "--detach",
        "--pid-file",
        s(&exec_pid_file),
        &id,
    ]);
    let mut cmd = Command::new(BIN);
    cmd.args(&args).stdin(Stdio::null());
    env.rt_to_files(cmd, &proc_dir).ok();
    let exec_pid: i32 = read_lossy(&exec_pid_file).trim().parse().expect("exec pid");
    assert!(pid_alive(exec_pid));

    // ps --format json ID: a JSON array of host pids.
    let o = run(&["ps", "--format", "json", &id]);
    o.ok();
    let pids: Vec<i64> = serde_json::from_str(o.out()).expect("ps json array");
    assert!(pids.contains(&(pid as i64)), "{o}");
    assert!(pids.contains(&(exec_pid as i64)), "{o}");
    assert_eq!(pids.len(), 2, "{o}");

    run(&["pause", &id]).ok();
    assert_eq!(env.status(&id), "paused");
    run(&["resume", &id]).ok();
    assert_eq!(env.status(&id), "running");

    // kill ID 15 reaches the exec'd sleep? No: it goes to the init. sleep as
    // pid 1 ignores SIGTERM (no handler), so the container keeps running.
    run(&["kill", &id, "15"]).ok();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(env.status(&id), "running");
    // kill --all ID 9 takes every process down.
    run(&["kill", "--all", &id, "9"]).ok();
    env.wait_status(&id, "stopped");
    poll_until("exec'd process to die", Duration::from_secs(5), || {
        (!pid_alive(exec_pid)).then_some(())
    });
    run(&["kill", &id, "9"]).fails_with(&["container not running"]);

    // delete ID, then always delete --force ID.
    run(&["delete", &id]).ok();
    run(&["delete", "--force", &id]).ok();
    env.assert_gone(&id);
    // The log file holds only JSON lines (errors from the kill above).
    for line in read_lossy(&log).lines() {
        let v: Value = serde_json::from_str(line).expect("log line is JSON");
        assert!(v["level"].is_string() && v["msg"].is_string(), "{line}");
    }
    env.finish();
}

#[test]
fn kill_with_number_reaches_the_init() {
    require_root!();
    let env = Env::new("killnum");
    let (id, bundle) = signal_reporter(&env, "USR1");
    env.rt(&["kill", &id, "10"]).ok();
    wait_file_contains(&bundle.join("stdout"), "got-usr1");
    env.rt(&["kill", &id, "15"]).ok();
    wait_file_contains(&bundle.join("stdout"), "got-term");
    env.wait_status(&id, "stopped");
    env.rt(&["delete", &id]).ok();
    env.finish();
}

#[test]
fn failed_create_then_forced_delete() {
    require_root!();
    // After a failed create containerd sends only `delete --force`.
    let env = Env::new("failcreate");
    let bundle = env.bundle_args(&["/no/such/binary"]);
    let id = env.id();
    let log = bundle.join("log.json");
    let root = env.root.to_str().unwrap().to_string();
    let o = env.rt_exact(&[
        "--root",
        &root,
        "--log",
        s(&log),
        "--log-format",
        "json",
        "create",
        "--bundle",
        s(&bundle),
        "--pid-file",
        s(&bundle.join("init.pid")),
        &id,
    ]);
    o.fails_with(&["/no/such/binary", "no such file or directory"]);
    assert!(!bundle.join("init.pid").exists());
    env.assert_gone(&id);
    env.rt_exact(&[
        "--root",
        &root,
        "--log",
        s(&log),
        "--log-format",
        "json",
        "delete",
        "--force",
        &id,
    ])
    .ok();
    env.finish();
}

#[test]
fn podman_log_flag_forms() {
    require_root!();
    let env = Env::new("podmanlog");
    let bundle = env.bundle_args(&["nonexistent"]);
    let id = env.id();
    let oci_log = bundle.join("oci-log");
    let root = env.root.to_str().unwrap().to_string();
    // --log-format=json --log X: "=" in one flag, a space in the other.
    let mut cmd = Command::new(BIN);
    cmd.args([
        "--root",
        &root,
        "--log-format=json",
        "--log",
        s(&oci_log),
        "create",
        "--bundle",
        s(&bundle),
        "--pid-file",
        s(&bundle.join("pidfile")),
        &id,
    ]);
    let o = run_piped(cmd, None, CMD_TIMEOUT);
    o.fails_with(&["executable file not found in $PATH"]);
    let last = read_lossy(&oci_log)
        .lines()
        .last()
        .map(str::to_string)
        .expect("oci-log has a line");
    let v: Value = serde_json::from_str(&last).expect("JSON log line");
    assert_eq!(v["level"], "error");
    assert!(
        v["msg"]
            .as_str()
            .unwrap()
            .contains("executable file not found in $PATH"),
        "{last}"
    );
    env.assert_gone(&id);
    env.finish();
}

#[test]
fn podman_create_variants_and_start() {
    require_root!();
    let env = Env::new("podmanvar");
    // --no-pivot
    let bundle = env.bundle_args(&[
        "sh",
        "-c",
        "echo pivot-ok; cat /proc/1/mountinfo | head -n1",
    ]);
    let id = env.id();
    env.create(
        &bundle,
        &id,
        &["--pid-file", s(&bundle.join("pidfile")), "--no-pivot"],
    )
    .ok();
    assert!(bundle.join("pidfile").exists());
    env.rt(&["start", &id]).ok();
    env.wait_status(&id, "stopped");
    assert!(
        env.output(&bundle).starts_with("pivot-ok\n"),
        "{}",
        env.output(&bundle)
    );
    env.rt(&["delete", "--force", &id]).ok();
    env.assert_gone(&id);
    env.finish();
}

#[test]
fn create_preserve_fds() {
    require_root!();
    let env = Env::new("preservefds");
    let bundle = env.bundle_args(&[
        "sh",
        "-c",
        "cat <&3; ls /proc/self/fd/3 >/dev/null && echo fd3-present",
    ]);
    let id = env.id();
    let data = bundle.join("fd3-data");
    std::fs::write(&data, "from-host-fd3\n").unwrap();
    let f = std::fs::File::open(&data).unwrap();
    let raw = std::os::fd::AsRawFd::as_raw_fd(&f);
    let mut cmd = env.rt_cmd(&[
        "create",
        "--bundle",
        s(&bundle),
        "--pid-file",
        s(&bundle.join("pidfile")),
        "--preserve-fds",
        "1",
        &id,
    ]);
    inherit_fd(&mut cmd, raw, 3);
    env.rt_to_files(cmd, &bundle).ok();
    drop(f);
    env.start(&id).ok();
    env.wait_status(&id, "stopped");
    assert_eq!(
        env.output(&bundle),
        "from-host-fd3\nfd3-present\n",
        "stderr: {}",
        read_lossy(&bundle.join("stderr"))
    );
    env.rt(&["delete", &id]).ok();
    env.finish();
}

#[test]
fn update_resources_file_and_stdin() {
    require_root!();
    let env = Env::new("updres");
    let (id, _) = env.sleeper();
    let res = env.subdir("podman").join("resources.json");
    std::fs::write(&res, r#"{"pids":{"limit":77}}"#).unwrap();
    // podman: update --resources=FILE ID
    env.rt(&["update", &format!("--resources={}", s(&res)), &id])
        .ok();
    let pids_max = format!("/sys/fs/cgroup/pids/cellos-{id}/pids.max");
    let read_pids = || {
        let p = if Path::new(&pids_max).exists() {
            pids_max.clone().into()
        } else {
            unified_cgroup(&id).join("pids.max")
        };
        read_lossy(&p).trim().to_string()
    };
    assert_eq!(read_pids(), "77");
    // update --resources - ID reads stdin.
    env.rt_stdin(
        &["update", "--resources", "-", &id],
        br#"{"pids":{"limit":88}}"#,
    )
    .ok();
    assert_eq!(read_pids(), "88");
    env.finish();
}

#[test]
fn delete_force_unknown_is_ok() {
    let env = Env::new("delunknown");
    let id = env.id();
    let o = env.rt(&["delete", "--force", &id]);
    o.ok();
    assert_eq!(o.stderr, "");
    // Without --force it is an error containerd recognises.
    env.rt(&["delete", &id])
        .fails_with(&[&id, "does not exist"]);
    env.assert_gone(&id);
    env.finish();
}

#[test]
fn version_lines() {
    let env = Env::new("version");
    let o = env.rt_exact(&["--version"]);
    o.ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    let v = lines[0]
        .strip_prefix("cellos-runtime version ")
        .unwrap_or_else(|| panic!("first line: {o}"));
    let parts: Vec<&str> = v.split('.').collect();
    assert_eq!(parts.len(), 3, "{o}");
    assert!(parts.iter().all(|p| p.parse::<u32>().is_ok()), "{o}");
    assert!(lines[1].starts_with("spec: 1."), "{o}");
    env.finish();
}

#[test]
fn features_document() {
    let env = Env::new("features");
    let o = env.rt_exact(&["features"]);
    o.ok();
    let f = o.json();
    for k in ["ociVersionMin", "ociVersionMax"] {
        assert!(
            f[k].as_str().is_some_and(|v| v.starts_with("1.")),
            "{k}: {f}"
        );
    }
    let hooks: Vec<&str> = f["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for h in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        assert!(hooks.contains(&h), "hook {h}: {f}");
    }
    let mo: Vec<&str> = f["mountOptions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for m in ["bind", "rbind", "ro", "nosuid", "nodev"] {
        assert!(mo.contains(&m), "mount option {m}: {f}");
    }
    let l = &f["linux"];
    let ns: Vec<&str> = l["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    for n in ["mount", "pid", "network", "ipc", "uts", "cgroup", "user"] {
        assert!(ns.contains(&n), "namespace {n}: {f}");
    }
    assert!(
        l["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "CAP_SYS_ADMIN"),
        "{f}"
    );
    assert!(l["cgroup"].is_object(), "{f}");
    assert_eq!(l["seccomp"]["enabled"], true, "{f}");
    for k in ["apparmor", "selinux", "intelRdt", "mountExtensions"] {
        assert!(l[k].is_object(), "linux.{k}: {f}");
    }
    env.finish();
}

/// Each subcommand's own help (`SUB --help` and `help SUB`) opens with the
/// line the command list gives it. The subcommand definitions are built only
/// when used (clap's defer), after which a doc comment on an argument struct
/// would become the subcommand's about text.
#[test]
fn subcommand_help_titles_match_the_command_list() {
    let env = Env::new("helpt");
    let top = env.rt_exact(&["--help"]);
    top.ok();
    let listed: Vec<(String, String)> = top
        .stdout
        .split("Commands:\n")
        .nth(1)
        .expect("a command list")
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| {
            let (name, about) = l.trim().split_once(char::is_whitespace)?;
            Some((name.to_string(), about.trim().to_string()))
        })
        .filter(|(name, _)| name != "help")
        .collect();
    assert!(listed.len() > 15, "{top}");
    for (name, about) in &listed {
        for args in [vec![name.as_str(), "--help"], vec!["help", name.as_str()]] {
            let o = env.rt_exact(&args);
            let first = o.stdout.lines().next().unwrap_or_default();
            // `checkpoint --help` fails on purpose (see checkpoint_help_fails).
            if o.code == 0 || args[0] == "help" {
                assert_eq!(first, about, "{args:?}: {o}");
            }
        }
    }
    env.finish();
}

#[test]
fn checkpoint_help_fails() {
    let env = Env::new("ckpt");
    let o = env.rt_exact(&["checkpoint", "--help"]);
    assert_ne!(o.code, 0, "{o}");
    let o = env.rt(&[
        "checkpoint",
        "--image-path",
        "/tmp/x",
        "--work-path",
        "/tmp/y",
        "--leave-running",
        "abc",
    ]);
    o.fails_with(&["checkpoint", "not supported"]);
    env.finish();
}

#[test]
fn spec_writes_and_refuses_overwrite() {
    let env = Env::new("spec");
    let dir = env.subdir("spec");
    env.rt_exact(&["spec", "--bundle", s(&dir)]).ok();
    let cfg: Value =
        serde_json::from_str(&read_lossy(&dir.join("config.json"))).expect("config.json");
    assert!(cfg["ociVersion"].as_str().unwrap().starts_with("1."));
    assert!(cfg["process"]["args"].is_array());
    assert_eq!(cfg["root"]["path"], "rootfs");
    std::fs::write(dir.join("config.json"), "keep me").unwrap();
    env.rt_exact(&["spec", "--bundle", s(&dir)])
        .fails_with(&["config.json", "exists"]);
    assert_eq!(read_lossy(&dir.join("config.json")), "keep me");
    env.finish();
}

#[test]
fn foreground_run_exit_codes() {
    require_root!();
    let env = Env::new("fgcodes");
    env.run_args(&["sh", "-c", "exit 42"]).code(42);
    env.run_args(&["true"]).code(0);
    // `kill -9 $$` from inside: without a pid namespace the shell is not a
    // namespace init, so SIGKILL from itself is not ignored.
    env.run_with(|c| {
        set_args(c, &["sh", "-c", "kill -9 $$"]);
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "pid");
    })
    .code(137);
    env.finish();
}

#[test]
fn foreground_run_killed_from_host() {
    require_root!();
    let env = Env::new("fgkill");
    let bundle = env.bundle_args(&["sleep", "1000"]);
    let id = env.id();
    let child_env = &env;
    std::thread::scope(|sc| {
        let h = sc.spawn(|| child_env.run_fg(&bundle, &id));
        env.wait_status(&id, "running");
        env.rt(&["kill", &id, "9"]).ok();
        let o = h.join().unwrap();
        o.code(137);
    });
    env.assert_gone(&id);
    env.finish();
}

#[test]
fn foreground_run_forwards_sigterm() {
    require_root!();
    let env = Env::new("fgterm");
    let bundle = env.bundle_args(&[
        "sh",
        "-c",
        "trap 'exit 7' TERM; echo up; while true; do sleep 0.05; done",
    ]);
    let id = env.id();
    let run = spawn_to_files(env.rt_cmd(&["run", "--bundle", s(&bundle), &id]), &bundle);
    wait_file_contains(&bundle.join("stdout"), "up");
    // SIGTERM to the runtime is passed on to the container's process.
    unsafe { libc::kill(run.pid(), libc::SIGTERM) };
    let o = run
        .try_wait_for(Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("run ends: {e}"));
    assert_eq!(o.code, 7, "{o}");
    env.assert_gone(&id);
    env.finish();
}

#[test]
fn events_stats_prints_one_line() {
    require_root!();
    let env = Env::new("events");
    let (id, _) = env.sleeper();
    let o = env.rt(&["events", "--stats", &id]);
    o.ok();
    let lines: Vec<&str> = o.out().lines().collect();
    assert_eq!(lines.len(), 1, "{o}");
    let v: Value = serde_json::from_str(lines[0]).expect("event JSON");
    assert_eq!(v["type"], "stats");
    assert_eq!(v["id"], id.as_str());
    assert!(v["data"].is_object(), "{o}");
    env.finish();
}

/// podman `--tmpfs /work` and `--read-only` send tmpfs mounts with runc's
/// `tmpcopyup` extension: the image's content at that path is copied into
/// the fresh tmpfs (youki 0.7 fails with "failed to prepare rootfs").
#[test]
fn podman_tmpfs_tmpcopyup() {
    require_root!();
    let env = Env::new("tmpcopyup");
    let o = env.run_with(|c| {
        set_args(
            c,
            &[
                "sh",
                "-c",
                "cat /work/image-file; echo new > /work/new; cat /work/new; ls /run",
            ],
        );
        let m = c["mounts"].as_array_mut().unwrap();
        m.push(
            json!({"destination": "/work", "type": "tmpfs", "source": "tmpfs",
                      "options": ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]}),
        );
        m.push(
            json!({"destination": "/run", "type": "tmpfs", "source": "tmpfs",
                      "options": ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]}),
        );
    });
    o.ok();
    assert_eq!(o.stdout, "hello from the image\nnew\n", "{o}");
    assert!(
        !fixture_rootfs().join("work/new").exists(),
        "wrote through to the image"
    );
    env.finish();
}

#[test]
fn podman_exec_forms() {
    require_root!();
    let env = Env::new("podmanexec");
    let (id, _) = env.sleeper();
    let x = env.subdir("exec");
    let proc_file = x.join("exec-process-1");
    let mut p = base_config()["process"].clone();
    p["args"] = json!(["sh", "-c", "echo podman-exec; cat <&3; sleep 1000"]);
    std::fs::write(&proc_file, p.to_string()).unwrap();
    let data = x.join("fd3");
    std::fs::write(&data, "via-fd3\n").unwrap();
    let f = std::fs::File::open(&data).unwrap();
    let raw = std::os::fd::AsRawFd::as_raw_fd(&f);
    // exec --pid-file X --process X --detach [--preserve-fds 1] ID
    let mut cmd = env.rt_cmd(&[
        "exec",
        "--pid-file",
        s(&x.join("exec_pid")),
        "--process",
        s(&proc_file),
        "--detach",
        "--preserve-fds",
        "1",
        &id,
    ]);
    inherit_fd(&mut cmd, raw, 3);
    env.rt_to_files(cmd, &x).ok();
    let pid: i32 = read_lossy(&x.join("exec_pid"))
        .trim()
        .parse()
        .expect("exec_pid");
    assert!(pids_in_cgroup_of(&id).contains(&pid));
    let out = wait_file_contains(&x.join("stdout"), "via-fd3");
    assert_eq!(out, "podman-exec\nvia-fd3\n");
    env.finish();
}

#[test]
fn foreground_run_passes_stdin() {
    require_root!();
    let env = Env::new("fgstdin");
    let b = env.bundle_args(&["sh", "-c", "tr a-z A-Z"]);
    let id = env.id();
    let o = env.rt_stdin(&["run", "--bundle", s(&b), &id], b"hello stdin\n");
    o.ok();
    assert_eq!(o.stdout, "HELLO STDIN\n");
    env.finish();
}

#[test]
fn relative_bundle_is_shown_absolute() {
    require_root!();
    let env = Env::new("relbundle");
    let bundle = env.bundle_args(&["sleep", "1000"]);
    let id = env.id();
    // create with no --bundle: the current directory.
    let mut cmd = env.rt_cmd(&["create", &id]);
    cmd.current_dir(&bundle);
    env.rt_to_files(cmd, &bundle).ok();
    assert_eq!(env.state(&id)["bundle"], s(&bundle));
    // The fixture config's relative root.path resolves against the bundle.
    let rel = env.subdir("relroot");
    std::os::unix::fs::symlink(fixture_rootfs(), rel.join("rootfs")).unwrap();
    let mut cfg = base_config();
    cfg["root"]["path"] = json!("rootfs");
    set_args(&mut cfg, &["cat", "/work/image-file"]);
    std::fs::write(rel.join("config.json"), cfg.to_string()).unwrap();
    let id2 = env.id();
    let mut cmd = env.rt_cmd(&["run", "--bundle", ".", &id2]);
    cmd.current_dir(&rel);
    let o = run_piped(cmd, None, CMD_TIMEOUT);
    o.ok();
    assert_eq!(o.stdout, "hello from the image\n");
    env.finish();
}

#[test]
fn init_killed_from_host_shows_stopped() {
    require_root!();
    let env = Env::new("extkill");
    let (id, _) = env.sleeper();
    let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
    // SAFETY: plain kill(2) of the container's init.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let st = env.wait_status(&id, "stopped");
    assert_eq!(st["pid"], 0);
    env.rt(&["kill", &id, "15"])
        .fails_with(&[&id, "not running"]);
    let o = env.rt(&["ps", "--format", "json", &id]);
    o.ok();
    assert_eq!(o.json(), json!([]));
    env.rt(&["delete", &id]).ok();
    env.assert_gone(&id);
    env.finish();
}

#[test]
fn kill_all_paused_container() {
    require_root!();
    let env = Env::new("killallpaused");
    let (id, _) = env.sleeper();
    env.exec(&id, &["sh", "-c", "sleep 1000 & sleep 1000 & true"])
        .ok();
    assert_eq!(pids_in_cgroup_of(&id).len(), 3);
    env.rt(&["pause", &id]).ok();
    env.rt(&["kill", "--all", &id, "9"]).ok();
    env.wait_status(&id, "stopped");
    poll_until("all processes gone", Duration::from_secs(5), || {
        pids_in_cgroup_of(&id).is_empty().then_some(())
    });
    env.rt(&["delete", &id]).ok();
    env.assert_gone(&id);
    env.finish();
}

#[test]
fn kill_default_signal_and_names() {
    require_root!();
    let env = Env::new("killnames");
    let (id, bundle) = signal_reporter(&env, "HUP");
    env.rt(&["kill", &id, "SIGHUP"]).ok();
    wait_file_contains(&bundle.join("stdout"), "got-hup");
    // No signal: SIGTERM.
    env.rt(&["kill", &id]).ok();
    wait_file_contains(&bundle.join("stdout"), "got-term");
    env.wait_status(&id, "stopped");
    env.finish();
}

#[test]
fn ps_table() {
    require_root!();
    let env = Env::new("pstable");
    let (id, _) = env.sleeper();
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let o = env.rt(&["ps", &id]);
    o.ok();
    let lines: Vec<&str> = o.out().lines().collect();
    assert!(lines[0].split_whitespace().any(|h| h == "PID"), "{o}");
    assert_eq!(lines.len(), 2, "{o}");
    assert!(
        lines[1].split_whitespace().any(|w| w == pid.to_string()),
        "{o}"
    );
    assert!(lines[1].contains("sleep 1000"), "{o}");
    env.finish();
}

/// The engines' command lines, as recorded in tests/contract/engine-lines.txt.
const ENGINE_LINES: &str = include_str!("contract/engine-lines.txt");

/// Words in our answer that mean the line itself was not understood.
const USAGE_ERRORS: [&str; 4] = [
    "unexpected argument",
    "invalid value",
    "required arguments were not provided",
    "unrecognized subcommand",
];

/// Every recorded line is parsed as written (no root needed: the container,
/// bundle and files do not exist, so each fails past parsing, or succeeds).
#[test]
fn every_engine_line_is_accepted_as_written() {
    let env = Env::new("enginelines");
    let dir = env.subdir("files");
    let id = env.id();
    let mut seen = 0;
    for line in ENGINE_LINES
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let mut words = line.split_whitespace();
        let (engine, outcome) = (words.next().unwrap(), words.next().unwrap());
        let args: Vec<String> = words
            .map(|w| {
                w.replace("<root>", s(&env.root))
                    .replace("<log>", s(&dir.join("log.json")))
                    .replace("<bundle>", s(&dir.join("no-bundle")))
                    .replace("<dir>", s(&dir))
                    .replace("<id>", &id)
            })
            .collect();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = env.rt_exact(&refs);
        let what = format!("{engine} line `{line}`");
        for u in USAGE_ERRORS {
            assert!(!o.stderr.contains(u), "{what}: not understood:\n{o}");
        }
        match outcome {
            "accepted" => assert!(o.code == 0 || o.code == 1, "{what}:\n{o}"),
            "ok" => assert_eq!(o.code, 0, "{what}:\n{o}"),
            "unsupported" => {
                assert_eq!(o.code, 1, "{what}:\n{o}");
                assert!(o.stderr.contains("not supported"), "{what}:\n{o}");
            }
            other => panic!("engine-lines.txt: unknown outcome {other:?} in `{line}`"),
        }
        seen += 1;
    }
    assert!(seen >= 30, "only {seen} lines in engine-lines.txt");
    env.finish();
}
