//! Crash consistency: the runtime SIGKILLed at any point of create, start,
//! exec or delete leaves nothing that `delete --force` cannot clean, and
//! concurrent verbs on one container are serialized by its lock.
//!
//! The named pause points are cellos-only test plumbing (src/runtime/crashpoints.rs):
//! with a control runtime those tests say so and skip.

mod support;
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use support::*;

/// A sleeper's bundle with a podman `tmpcopyup` tmpfs, so that create also
/// has host mounts (its staging tmpfs) to leave behind.
fn sleeper_bundle(env: &Env) -> PathBuf {
    env.bundle(|c| {
        set_args(c, &["sleep", "1000"]);
        c["mounts"].as_array_mut().unwrap().push(
            json!({"destination": "/work", "type": "tmpfs", "source": "tmpfs",
                   "options": ["rw", "nosuid", "nodev", "tmpcopyup"]}),
        );
    })
}

fn proc_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Run `args` until the runtime stops itself at `point`; returns the
/// stopped child and its pid.
fn run_to_pause(env: &Env, args: &[&str], point: &str) -> (Running, i32) {
    let dir = env.subdir("pause");
    let file = dir.join("pid");
    let mut cmd = env.rt_cmd(args);
    cmd.env("CELLOS_TEST_PAUSE_AT", point)
        .env("CELLOS_TEST_PAUSE_FILE", &file);
    // Stdio in files: an orphaned init may keep it.
    let mut child = spawn_to_files(cmd, &dir);
    let what = format!("{args:?} to stop at {point}");
    let pid = poll_until(&what, Duration::from_secs(15), || {
        if let Ok(Some(st)) = child.child.try_wait() {
            panic!(
                "{args:?} exited ({st}) without stopping at {point}: {}",
                read_lossy(&dir.join("stderr"))
            );
        }
        let pid: i32 = read_lossy(&file).trim().parse().ok()?;
        (proc_state(pid) == Some('T')).then_some(pid)
    });
    (child, pid)
}

/// `delete --force` succeeds and nothing of `id` is left: state and scratch
/// dirs, cgroups on every hierarchy, processes, mounts, and the root is empty.
#[track_caller]
fn force_delete_leaves_nothing(env: &Env, id: &str, what: &str) {
    let o = env.rt(&["delete", "--force", id]);
    assert_eq!(o.code, 0, "{what}: delete --force failed:\n{o}");
    assert_clean(env, id, what);
}

#[track_caller]
fn assert_clean(env: &Env, id: &str, what: &str) {
    let mut cg = cgroup_dirs(id);
    // A control runtime names the cgroup after the bare ID (runc: /<id>).
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let p = h.path().join(id);
        if p.exists() {
            cg.push(p);
        }
    }
    assert!(cg.is_empty(), "{what}: cgroups left: {cg:?}");
    let pids = pids_in_cgroup_of(id);
    assert!(pids.is_empty(), "{what}: processes left: {pids:?}");
    let mut mounts = mounts_naming(&env.root);
    mounts.extend(mounts_naming(&fixture_rootfs()));
    assert!(mounts.is_empty(), "{what}: mounts left: {mounts:#?}");
    env.assert_gone(id);
    let left = root_entries(&env.root);
    assert!(left.is_empty(), "{what}: left in the root: {left:?}");
}

fn skip_control(test: &str) -> bool {
    if is_control() {
        println!("{test}: skipped for a control runtime: pause points are cellos-only plumbing");
    }
    is_control()
}

#[test]
fn create_killed_at_each_point_is_cleaned_by_delete_force() {
    require_root!();
    if skip_control("create_killed_at_each_point") {
        return;
    }
    let env = Env::new("crash-create");
    for point in [
        "create-claimed",
        "create-prepared",
        "create-built",
        "create-before-pid-file",
    ] {
        let bundle = sleeper_bundle(&env);
        let id = env.id();
        let pid_file = bundle.join("pid");
        let (child, _) = run_to_pause(&env, &create_line(&bundle, &pid_file, &id), point);
        child.kill();
        force_delete_leaves_nothing(&env, &id, point);
    }
    env.finish();
}

#[test]
fn start_killed_while_holding_the_lock_is_cleaned_by_delete_force() {
    require_root!();
    if skip_control("start_killed") {
        return;
    }
    let env = Env::new("crash-start");
    let bundle = sleeper_bundle(&env);
    let id = env.id();
    env.create(&bundle, &id, &[]).ok();
    let (child, _) = run_to_pause(&env, &["start", &id], "start-locked");
    child.kill();
    force_delete_leaves_nothing(&env, &id, "start-locked");
    env.finish();
}

#[test]
fn delete_killed_at_each_point_is_finished_by_delete_force() {
    require_root!();
    if skip_control("delete_killed_at_each_point") {
        return;
    }
    let env = Env::new("crash-delete");
    for point in ["delete-killed", "delete-cgroups-removed"] {
        let (id, _) = env.sleeper();
        let (child, _) = run_to_pause(&env, &["delete", "--force", &id], point);
        child.kill();
        force_delete_leaves_nothing(&env, &id, point);
    }
    env.finish();
}

#[test]
fn exec_killed_at_each_point_is_cleaned_by_delete_force() {
    require_root!();
    if skip_control("exec_killed_at_each_point") {
        return;
    }
    let env = Env::new("crash-exec");
    for point in ["exec-before-build", "exec-built"] {
        let (id, _) = env.sleeper();
        let (child, _) = run_to_pause(&env, &["exec", &id, "sleep", "1000"], point);
        child.kill();
        // The container is intact and usable after the dead exec.
        env.exec(&id, &["true"]).ok();
        force_delete_leaves_nothing(&env, &id, point);
    }
    env.finish();
}

/// The probe's failure 2: SIGKILL at a random moment of `create`, 20 times.
#[test]
fn create_killed_at_random_moments_is_cleaned_by_delete_force() {
    let env = Env::new("crash-random");
    // A fixed spread over 0-20 ms (no rand crate): every delay is hit once.
    let mut seed = std::process::id() as u64;
    for n in 0..20 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_micros((n * 1000 + (seed >> 33) % 1000) % 20_000);
        let bundle = sleeper_bundle(&env);
        let id = env.id();
        let dir = env.subdir("random");
        let child = spawn_to_files(
            env.rt_cmd(&["create", "--bundle", bundle.to_str().unwrap(), &id]),
            &dir,
        );
        std::thread::sleep(delay);
        child.kill();
        force_delete_leaves_nothing(&env, &id, &format!("SIGKILL after {delay:?}"));
    }
    env.finish();
}

/// The probe's failure 1: five `delete --force` of one running container.
#[test]
fn five_concurrent_force_deletes_all_succeed_and_leave_nothing() {
    require_root!();
    let env = Env::new("crash-del5");
    for round in 0..5 {
        let (id, _) = env.sleeper();
        let children: Vec<Running> = (0..5)
            .map(|_| spawn(env.rt_cmd(&["delete", "--force", &id])))
            .collect();
        for c in children {
            let o = c.wait();
            assert!(
                o.code == 0,
                "round {round}: a concurrent delete --force failed: {}",
                o.stderr
            );
        }
        assert_clean(&env, &id, &format!("round {round}"));
    }
    env.finish();
}

/// `kill` (odd rounds) or `kill --all`, which freezes the cgroup while it
/// signals (even rounds), racing with `delete --force`.
#[test]
fn concurrent_kill_and_force_delete() {
    require_root!();
    let env = Env::new("crash-killdel");
    for round in 0..10 {
        let (id, _) = env.sleeper();
        let start = |args: &[&str]| spawn(env.rt_cmd(args));
        let kill = if round % 2 == 0 {
            start(&["kill", "--all", &id, "KILL"])
        } else {
            start(&["kill", &id, "KILL"])
        };
        let del = start(&["delete", "--force", &id]);
        let d = del.wait();
        let k = kill.wait();
        assert!(
            d.code == 0,
            "round {round}: delete --force failed: {}",
            d.stderr
        );
        // kill either came first, or found the container gone or stopped.
        let kerr = &k.stderr;
        assert!(
            k.code == 0 || kerr.contains("does not exist") || kerr.contains("not running"),
            "round {round}: kill: {kerr}"
        );
        assert!(!kerr.contains("state.json"), "round {round}: kill: {kerr}");
        assert_clean(&env, &id, &format!("round {round}"));
    }
    env.finish();
}

/// Verbs that wait for the lock of a container that is deleted meanwhile
/// behave as if it never existed; `state` does not wait at all.
#[test]
fn waiters_on_a_deleted_container_see_it_gone() {
    require_root!();
    if skip_control("waiters_on_a_deleted_container") {
        return;
    }
    let env = Env::new("crash-waiters");
    let (id, _) = env.sleeper();
    let (deleter, pid) = run_to_pause(&env, &["delete", "--force", &id], "delete-killed");
    // Lock-free: answers while the delete holds the lock.
    let o = env.rt(&["state", &id]);
    assert!(o.code == 0, "state blocked or failed during a delete:\n{o}");
    let start = |args: &[&str]| spawn(env.rt_cmd(args));
    let waiters = [
        (start(&["delete", "--force", &id]), true),
        (start(&["kill", &id, "KILL"]), false),
        (start(&["start", &id]), false),
        (start(&["delete", &id]), false),
    ];
    // Give them time to queue on the lock.
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: plain kill(2) of the runtime we stopped.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    assert!(deleter.wait().code == 0, "the paused delete failed");
    for (w, ok) in waiters {
        let o = w.wait();
        let err = &o.stderr;
        if ok {
            assert!(o.code == 0, "delete --force waiter: {err}");
        } else {
            assert_eq!(o.code, 1, "{err}");
            assert!(
                err.contains(&format!("container \"{id}\" does not exist")),
                "waiter said: {err}"
            );
        }
    }
    assert_clean(&env, &id, "after the waiters");
    env.finish();
}

/// A task that SIGKILL cannot end until it is thawed, in a frozen v1
/// freezer cgroup below the container's own (`<cgroup>/held`): what a
/// dying init that outlives libcgroups' few rmdir tries (0.2 s) does on a
/// loaded host, made deterministic. Dropping it thaws and kills the task
/// and removes what is left, so a failing test leaves nothing either.
struct HeldTask {
    child: std::process::Child,
    dir: PathBuf,
}

impl HeldTask {
    fn new(cgroup: &str) -> Option<HeldTask> {
        let top = PathBuf::from("/sys/fs/cgroup/freezer").join(cgroup);
        if !top.parent()?.is_dir() {
            return None;
        }
        let dir = top.join("held");
        std::fs::create_dir_all(&dir).expect("make the held cgroup");
        let child = std::process::Command::new("sleep")
            .arg("1000")
            .spawn()
            .expect("spawn sleep");
        let held = HeldTask { child, dir };
        std::fs::write(held.dir.join("cgroup.procs"), held.child.id().to_string())
            .expect("move the task into the held cgroup");
        std::fs::write(held.dir.join("freezer.state"), "FROZEN").expect("freeze");
        poll_until("the held cgroup frozen", Duration::from_secs(5), || {
            (read_lossy(&held.dir.join("freezer.state")).trim() == "FROZEN").then_some(())
        });
        Some(held)
    }

    /// Gone: killed by whoever removed the cgroup (reaped here).
    fn assert_killed(&mut self, what: &str) {
        let status = poll_until(
            &format!("{what}: held task killed"),
            Duration::from_secs(5),
            || self.child.try_wait().ok().flatten(),
        );
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL),
            "{what}: held task"
        );
    }
}

impl Drop for HeldTask {
    fn drop(&mut self) {
        let _ = std::fs::write(self.dir.join("freezer.state"), "THAWED");
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(top) = self.dir.parent() {
            remove_cgroup(top);
        }
    }
}

/// A create that fails inside libcontainer after it made the cgroups, while
/// a task in them is slow to die, leaves nothing behind, and its one error
/// line is the one it gives when nothing is in the way: the real cause, not
/// libcontainer's "error during cleanup: ... could not delete".
#[test]
fn failed_create_with_a_slow_task_in_its_cgroup_leaves_nothing() {
    require_root!();
    let env = Env::new("crash-failcreate");
    fn bad_mount(c: &mut serde_json::Value) {
        c["mounts"].as_array_mut().unwrap().push(json!(
            {"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["bogus=1"]}
        ));
    }
    fn no_argv0(c: &mut serde_json::Value) {
        set_args(c, &["nonexistent"]);
    }
    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit); 2] = [
        ("bad mount option", bad_mount),
        ("argv0 not found", no_argv0),
    ];
    for (what, edit) in cases {
        let mut lines = Vec::new();
        for held in [false, true] {
            let id = env.id();
            // The same cgroup name for a control runtime.
            let cgroup = format!("cellos-{id}");
            let bundle = env.bundle(|c| {
                edit(c);
                c["linux"]["cgroupsPath"] = json!(format!("/{cgroup}"));
            });
            let mut task = match held {
                false => None,
                // runc 1.1.5 does not thaw before its rmdir retries: it
                // warns "Failed to remove cgroup ... device or resource
                // busy" and leaves the cgroup (notes/cleanup.md).
                true if is_control() => {
                    println!("{what}: the slow-task case is cellos-only");
                    continue;
                }
                true => match HeldTask::new(&cgroup) {
                    Some(t) => Some(t),
                    None => {
                        println!("no v1 freezer hierarchy: the slow-task case is not run");
                        continue;
                    }
                },
            };
            let o = env.create(&bundle, &id, &[]);
            let case = format!("{what} (held task: {held})");
            assert_eq!(o.code, 1, "{case}:\n{o}");
            println!("{case}: {}", o.stderr.trim());
            lines.push(o.stderr.replace(&id, "ID"));
            if let [free, held] = &lines[..] {
                assert_eq!(
                    held, free,
                    "{what}: the error with a slow task in the cgroup"
                );
            }
            assert_clean(&env, &id, &case);
            if let Some(t) = task.as_mut() {
                t.assert_killed(&case);
            }
        }
    }
    env.finish();
}

/// The normal path of `delete --force` (a started container, nothing of a
/// create or exec alive) costs what a kill and a delete cost: it looks
/// for a dead create's forks through every process's fds only when one
/// can exist. (50 such deletes at once took 61 ms against 38 ms before
/// that look was added.) Traced with strace: no /proc/<pid>/fd opened.
#[test]
fn force_delete_of_a_started_container_scans_no_other_process() {
    require_root!();
    if skip_control("force_delete_of_a_started_container_scans_no_other_process") {
        return;
    }
    if Command::new("strace").arg("-V").output().is_err() {
        println!("skipped: no strace");
        return;
    }
    let env = Env::new("crash-delscan");
    let (id, _) = env.sleeper();
    let trace = env.subdir("strace").join("trace");
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-e", "trace=openat", "-o"])
        .arg(&trace)
        .arg(runtime())
        .arg("--root")
        .arg(&env.root)
        .args(["delete", "--force", &id]);
    let o = run_piped(cmd, None, CMD_TIMEOUT);
    assert_eq!(o.code, 0, "delete --force failed:\n{o}");
    let scans: Vec<String> = read_lossy(&trace)
        .lines()
        .filter(|l| l.contains("\"/proc/") && l.contains("/fd\""))
        .map(String::from)
        .collect();
    assert!(
        scans.is_empty(),
        "delete --force of a started container read {} fd dirs, e.g. {:?}",
        scans.len(),
        scans.first()
    );
    assert_clean(&env, &id, "after the traced delete --force");
    env.finish();
}

/// The normal path still leaves nothing of a container whose processes
/// fight back: paused, with a process tree that ignores SIGTERM.
#[test]
fn force_delete_of_a_paused_forking_container_leaves_nothing() {
    require_root!();
    let env = Env::new("crash-delpaused");
    let (id, _) = env.create_started(&[
        "sh",
        "-c",
        "trap '' TERM; for i in 1 2 3; do (trap '' TERM; sleep 1000) & done; sleep 1000",
    ]);
    poll_until("the tree to start", Duration::from_secs(10), || {
        (pids_in_cgroup_of(&id).len() >= 4).then_some(())
    });
    env.rt(&["pause", &id]).ok();
    force_delete_leaves_nothing(&env, &id, "paused, forking");
    env.finish();
}
