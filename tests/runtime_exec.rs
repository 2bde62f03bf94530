//! exec into a running container: output, exit codes and every flag.

mod support;

use serde_json::json;
use std::time::Duration;
use support::*;

#[test]
fn exec_output_and_exit_code() {
    require_root!();
    let env = Env::new("execcode");
    let (id, _) = env.sleeper();
    let o = env.exec(&id, &["sh", "-c", "echo out; echo err >&2; exit 3"]);
    o.code(3);
    assert_eq!(o.stdout, "out\n");
    assert_eq!(o.stderr, "err\n");
    env.exec(&id, &["true"]).code(0);
    // The exec'd process sees the container's pid namespace and hostname.
    let o = env.exec(
        &id,
        &[
            "sh",
            "-c",
            "cat /proc/1/cmdline | tr '\\0' ' '; echo; hostname",
        ],
    );
    o.ok();
    assert_eq!(o.stdout, "sleep 1000 \ncellos\n");
    // A process killed by a signal gives 128+N.
    env.exec(&id, &["sh", "-c", "kill -9 $$"]).code(137);
    // The container keeps running through all of it.
    assert_eq!(env.status(&id), "running");
    env.finish();
}

#[test]
fn exec_env_cwd_user() {
    require_root!();
    let env = Env::new("execflags");
    let (id, _) = env.sleeper();
    let o = env.exec(
        &id,
        &[
            "--env",
            "FOO=bar",
            "-e",
            "PATH=/bin",
            "sh",
            "-c",
            "echo $FOO:$PATH",
        ],
    );
    o.ok();
    assert_eq!(o.out(), "bar:/bin");
    let o = env.exec(&id, &["--cwd", "/etc", "pwd"]);
    o.ok();
    assert_eq!(o.out(), "/etc");
    let o = env.exec(&id, &["--user", "65534:65534", "sh", "-c", "id -u; id -g"]);
    o.ok();
    assert_eq!(o.stdout, "65534\n65534\n");
    let o = env.exec(&id, &["--user", "1234", "id", "-u"]);
    o.ok();
    assert_eq!(o.out(), "1234");
    env.exec(&id, &["--env", "NOEQUALS", "true"])
        .fails_with(&["NOEQUALS"]);
    env.exec(&id, &["--user", "root", "true"])
        .fails_with(&["--user", "root"]);
    env.finish();
}

#[test]
fn exec_cap_adds_capability() {
    require_root!();
    let env = Env::new("execcap");
    let (id, _) = env.sleeper();
    // Fixture set: AUDIT_WRITE(29), KILL(5), NET_BIND_SERVICE(10).
    let o = env.exec(&id, &["grep", "CapEff", "/proc/self/status"]);
    o.ok();
    assert_eq!(
        status_field(&o.stdout, "CapEff"),
        Some("0000000020000420"),
        "{o}"
    );
    // --cap CAP_NET_RAW (13) is added on top.
    let o = env.exec(
        &id,
        &[
            "--cap",
            "CAP_NET_RAW",
            "grep",
            "CapEff",
            "/proc/self/status",
        ],
    );
    o.ok();
    assert_eq!(
        status_field(&o.stdout, "CapEff"),
        Some("0000000020002420"),
        "{o}"
    );
    env.exec(&id, &["--cap", "CAP_NOPE", "true"])
        .fails_with(&["CAP_NOPE"]);
    env.finish();
}

#[test]
fn exec_detach_pid_file() {
    require_root!();
    let env = Env::new("execdetach");
    let (id, _) = env.sleeper();
    let out = env.subdir("exec");
    let pid_file = out.join("exec.pid");
    let args = ["sh", "-c", "echo detached-out; sleep 1000"];
    env.exec_detached(&id, &[], &pid_file, &args, &out).ok();
    let pid: i32 = read_lossy(&pid_file).trim().parse().expect("exec pid file");
    assert!(pid_alive(pid));
    assert!(pids_in_cgroup_of(&id).contains(&pid));
    wait_file_contains(&out.join("stdout"), "detached-out");
    let o = env.rt(&["ps", "--format", "json", &id]);
    let pids: Vec<i32> = serde_json::from_str(o.out()).unwrap();
    assert!(pids.contains(&pid), "{o}");
    // Force-deleting the container takes the exec'd process with it.
    env.rt(&["delete", "--force", &id]).ok();
    poll_until("exec'd process to die", Duration::from_secs(5), || {
        (!pid_alive(pid)).then_some(())
    });
    env.assert_gone(&id);
    env.finish();
}

#[test]
fn exec_process_file() {
    require_root!();
    let env = Env::new("execproc");
    let (id, _) = env.sleeper();
    let mut p = base_config()["process"].clone();
    p["args"] = json!(["sh", "-c", "echo $MYVAR; pwd; id -u; exit 5"]);
    p["env"] = json!(["PATH=/bin", "MYVAR=from-process-json"]);
    p["cwd"] = json!("/tmp");
    p["user"] = json!({"uid": 65534, "gid": 65534});
    let proc_file = env.process_file(&p);
    let o = env.rt(&["exec", "--process", proc_file.to_str().unwrap(), &id]);
    o.code(5);
    assert_eq!(o.stdout, "from-process-json\n/tmp\n65534\n");
    // --process and a command at once is refused.
    env.rt(&[
        "exec",
        "--process",
        proc_file.to_str().unwrap(),
        &id,
        "true",
    ])
    .fails_with(&["--process"]);
    // A process file that does not exist is named.
    env.rt(&["exec", "--process", "/no/such/process.json", &id])
        .fails_with(&["/no/such/process.json"]);
    env.finish();
}

#[test]
fn exec_cwd_inside_container() {
    require_root!();
    let env = Env::new("execcwd");
    let (id, _) = env.create_started_with(|c| {
        set_args(c, &["sleep", "1000"]);
        c["process"]["cwd"] = json!("/work");
    });
    let o = env.exec(&id, &["readlink", "/proc/self/cwd"]);
    o.ok();
    assert_eq!(o.out(), "/work");
    let o = env.exec(&id, &["readlink", "/proc/1/cwd"]);
    o.ok();
    assert_eq!(o.out(), "/work");
    env.finish();
}
