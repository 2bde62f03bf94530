//! cgroup limits: applied at create, changed by update, read back from the
//! cgroup filesystem.

mod support;

use serde_json::json;
use std::path::{Path, PathBuf};
use support::*;

/// The memory limit file of the container's cgroup (v1 or v2 wording).
fn memory_limit(id: &str) -> String {
    let d = memory_cgroup(id);
    let v1 = d.join("memory.limit_in_bytes");
    let p = if v1.exists() {
        v1
    } else {
        d.join("memory.max")
    };
    read_lossy(&p).trim().to_string()
}

fn pids_max(id: &str) -> String {
    let v1 = PathBuf::from(format!("/sys/fs/cgroup/pids/cellos-{id}/pids.max"));
    let p = if Path::new("/sys/fs/cgroup/pids").is_dir() {
        v1
    } else {
        unified_cgroup(id).join("pids.max")
    };
    read_lossy(&p).trim().to_string()
}

#[test]
fn update_memory_flag() {
    require_root!();
    let env = Env::new("updmem");
    let (id, _) = env.sleeper();
    env.rt(&["update", "--memory", "64m", &id]).ok();
    assert_eq!(memory_limit(&id), "67108864");
    env.rt(&["update", "--memory", "128m", &id]).ok();
    assert_eq!(memory_limit(&id), "134217728");
    env.rt(&["update", "--memory", "lots", &id])
        .fails_with(&["lots"]);
    assert_eq!(memory_limit(&id), "134217728");
    env.finish();
}

#[test]
fn update_pids_from_file() {
    require_root!();
    let env = Env::new("updpids");
    let (id, _) = env.sleeper();
    let f = env.subdir("res").join("res.json");
    std::fs::write(&f, r#"{"pids":{"limit":50}}"#).unwrap();
    env.rt(&["update", "--resources", f.to_str().unwrap(), &id])
        .ok();
    assert_eq!(pids_max(&id), "50");
    // The limit really holds: forks beyond it fail inside the container.
    let o = env.exec(
        &id,
        &[
            "sh",
            "-c",
            "i=0; while [ $i -lt 60 ]; do sleep 1000 & i=$((i+1)); done; echo looped",
        ],
    );
    assert_ne!(o.code, 0, "{o}");
    assert!(!o.stdout.contains("looped"), "{o}");
    assert!(
        o.stderr.contains("can't fork"),
        "no fork failure past the limit:\n{o}"
    );
    let n = pids_in_cgroup_of(&id).len();
    assert!(n >= 40, "only {n} processes: the limit was hit too early");
    assert!(n <= 50, "{n} processes in a cgroup limited to 50");
    env.finish();
}

#[test]
fn memory_limit_applied_at_create() {
    require_root!();
    let env = Env::new("creatmem");
    let (id, _) = env.create_started_with(|c| {
        set_args(c, &["sleep", "1000"]);
        c["linux"]["resources"]["memory"] = json!({"limit": 33554432});
        c["linux"]["resources"]["pids"] = json!({"limit": 20});
    });
    assert_eq!(memory_limit(&id), "33554432");
    assert_eq!(pids_max(&id), "20");
    env.finish();
}

#[test]
fn update_rejects_unknown_fields() {
    require_root!();
    let env = Env::new("updunknown");
    let (id, _) = env.sleeper();
    env.rt(&["update", "--memory", "64m", &id]).ok();
    let f = env.subdir("res").join("res.json");
    std::fs::write(&f, r#"{"memory":{"limitt":1048576}}"#).unwrap();
    env.rt(&["update", "--resources", f.to_str().unwrap(), &id])
        .fails_with(&["memory.limitt"]);
    std::fs::write(&f, r#"{"memroy":{"limit":1048576}}"#).unwrap();
    env.rt(&["update", "--resources", f.to_str().unwrap(), &id])
        .fails_with(&["memroy"]);
    env.rt_stdin(&["update", "--resources", "-", &id], b"not json")
        .fails_with(&["resources"]);
    env.rt(&["update", "--resources", "/no/such/res.json", &id])
        .fails_with(&["/no/such/res.json"]);
    // Nothing changed.
    assert_eq!(memory_limit(&id), "67108864");
    env.finish();
}

#[test]
fn update_stopped_container_fails() {
    require_root!();
    let env = Env::new("updstopped");
    let (id, _) = env.create_started(&["true"]);
    env.wait_status(&id, "stopped");
    env.rt(&["update", "--memory", "64m", &id])
        .fails_with(&[&id, "not running"]);
    env.finish();
}

#[test]
fn custom_cgroups_path_is_removed() {
    require_root!();
    let env = Env::new("cgpath");
    let id = env.id();
    let name = format!("cellos-custom-{id}");
    let (cid, _) = {
        let b = env.bundle(|c| {
            set_args(c, &["sleep", "1000"]);
            c["linux"]["cgroupsPath"] = json!(format!("/{name}"));
        });
        env.create(&b, &id, &[]).ok();
        env.start(&id).ok();
        (id.clone(), b)
    };
    let pid = env.state(&cid)["pid"].as_i64().unwrap();
    let cg = read_lossy(Path::new(&format!("/proc/{pid}/cgroup")));
    assert!(cg.contains(&format!("/{name}")), "{cg}");
    env.rt(&["delete", "--force", &cid]).ok();
    let left: Vec<_> = std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .map(|e| e.path().join(&name))
        .filter(|p| p.exists())
        .collect();
    assert!(left.is_empty(), "cgroups left: {left:?}");
    env.finish();
}

/// Without a pid namespace a background child outlives the init: the
/// container is stopped but its cgroup is not empty. `delete`, with or
/// without --force, must kill what is left and remove the cgroup (the rmdir
/// fails with EBUSY until the killed task is gone), as runc and libcgroups do.
#[test]
fn delete_of_stopped_container_kills_leftovers_and_removes_cgroup() {
    require_root!();
    let env = Env::new("cgleft");
    for delete in [&["delete"][..], &["delete", "--force"]] {
        let (id, _) = env.create_started_with(|c| {
            set_args(c, &["sh", "-c", "sleep 1000 & exit 0"]);
            let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
            ns.retain(|n| n["type"] != "pid");
        });
        env.wait_status(&id, "stopped");
        let left = poll_until(
            "the background sleep",
            std::time::Duration::from_secs(5),
            || {
                let p = pids_in_cgroup_of(&id);
                (!p.is_empty()).then_some(p)
            },
        );
        env.rt(&[delete, &[id.as_str()]].concat()).ok();
        for pid in left {
            poll_until(
                &format!("pid {pid} to be killed ({delete:?})"),
                std::time::Duration::from_secs(5),
                || (!pid_alive(pid)).then_some(()),
            );
        }
        env.assert_gone(&id);
    }
    env.finish();
}

/// `delete --force` of a stopped container (what a foreground `run` does
/// after its init exits): with its own pid namespace its cgroups are empty,
/// and on a v1 host each goes with one rmdir, without listing or reading
/// them (traced).
/// Without one, see the test above (it deletes with and without --force).
#[test]
fn delete_force_of_a_stopped_container_removes_empty_cgroups_directly() {
    require_root!();
    let env = Env::new("cgforce");
    let (id, _) = env.create_started(&["true"]);
    env.wait_status(&id, "stopped");
    let (o, trace) = env.rt_traced("openat,rmdir", &["delete", "--force", &id]);
    assert_eq!(o.code, 0, "delete --force: {o}");
    // Plain cgroupfs v1 hierarchies only: on cgroup v2 libcontainer deletes.
    let v1 = std::path::Path::new("/sys/fs/cgroup/memory").is_dir();
    if !v1 {
        println!("cgroup v2 host: the v1 rmdir path is not taken here");
    }
    if v1 && !is_control() {
        let reads: Vec<&str> = trace
            .lines()
            .filter(|l| l.contains("cgroup.procs"))
            .collect();
        assert!(
            reads.is_empty(),
            "delete --force read the empty cgroups: {reads:?}"
        );
        assert!(
            trace.contains("rmdir(\"/sys/fs/cgroup/"),
            "no cgroup rmdir traced:\n{trace}"
        );
    }
    env.assert_gone(&id);
    env.finish();
}

/// A stopped container whose cgroup is already gone (systemd removes a
/// scope when its last process exits) has nothing left to signal:
/// `kill --all` succeeds, as runc's does. containerd's shim sends it after
/// every exit and retries forever on an error (found by make test-hosts:
/// the CRI path with SystemdCgroup = true never finished StopContainer).
#[test]
fn kill_all_of_a_stopped_container_without_its_cgroup_succeeds() {
    require_root!();
    let env = Env::new("killall-nocg");
    let (id, _) = env.create_started_with(|c| set_args(c, &["true"]));
    env.wait_status(&id, "stopped");
    for d in cgroup_dirs(&id) {
        std::fs::remove_dir(&d).unwrap_or_else(|e| panic!("rmdir {}: {e}", d.display()));
    }
    env.rt(&["kill", "--all", &id, "KILL"]).ok();
    env.rt(&["delete", &id]).ok();
    env.assert_gone(&id);
    env.finish();
}
