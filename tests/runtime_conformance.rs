//! Runtime-spec behaviour that the OCI runtime-tools suite checks and
//! libcontainer 0.7 got wrong (each fixed in vendor/libcontainer, see
//! PATCHES.md): a seccomp profile that denies getcwd, disableOOMKiller.

mod support;

use serde_json::json;
use support::*;

/// A profile denying getcwd must not break create: the runtime checks the
/// cwd before such a profile is loaded (crun passes, runc 1.1 fails).
#[test]
fn seccomp_denying_getcwd_still_runs() {
    require_root!();
    let env = Env::new("getcwd");
    for nnp in [false, true] {
        let o = env.run_with(|c| {
            set_args(c, &["sh", "-c", "echo ran"]);
            c["process"]["cwd"] = json!("/tmp");
            c["process"]["noNewPrivileges"] = json!(nnp);
            c["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}]
            });
        });
        o.ok();
        assert_eq!(o.out(), "ran", "noNewPrivileges {nnp}: {o}");
    }
    env.finish();
}

fn oom_control(id: &str) -> String {
    let p = memory_cgroup(id).join("memory.oom_control");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `linux.resources.memory.disableOOMKiller` reaches the cgroup (v1
/// memory.oom_control), and an update that does not mention it keeps it.
#[test]
fn disable_oom_killer_is_honoured_on_create_and_update() {
    require_root!();
    let env = Env::new("oomkill");
    if !memory_cgroup("x").parent().is_some_and(|p| p.exists()) {
        println!("skipped: no cgroup v1 memory hierarchy on this host");
        env.finish();
        return;
    }
    let (id, _) = env.create_started_with(|c| {
        set_args(c, &["sleep", "1000"]);
        c["linux"]["resources"] = json!({"memory": {"limit": 67108864, "disableOOMKiller": true}});
    });
    assert!(
        oom_control(&id).contains("oom_kill_disable 1"),
        "{}",
        oom_control(&id)
    );
    env.rt(&["update", "--memory", "100000000", &id]).ok();
    assert!(
        oom_control(&id).contains("oom_kill_disable 1"),
        "{}",
        oom_control(&id)
    );
    let o = env.rt_stdin(
        &["update", "--resources", "-", &id],
        br#"{"memory": {"limit": 90000000, "disableOOMKiller": false}}"#,
    );
    o.ok();
    assert!(
        oom_control(&id).contains("oom_kill_disable 0"),
        "{}",
        oom_control(&id)
    );
    env.finish();
}
