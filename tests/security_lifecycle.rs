//! Attacks on the container lifecycle (issue 9, findings 4, 5 and 9): a
//! recycled init pid, SIGKILL to a paused init, a container forking during
//! `kill --all`, racing duplicate creates, and what the runtime leaves
//! behind (an empty `@bundles/`, unreaped children).

mod support;

use serde_json::{Value, json};
use std::ffi::CString;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::Duration;
use support::*;

/// Field 22 of /proc/<pid>/stat: the process's start time in clock ticks.
fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// A host process holding exactly `pid`, made by steering the kernel's
/// next pid with ns_last_pid. Other processes fork too, so retry; None if
/// another process took the pid first.
fn victim_with_pid(pid: i32) -> Option<std::process::Child> {
    for _ in 0..200 {
        if Path::new(&format!("/proc/{pid}")).exists() {
            return None;
        }
        std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string()).ok()?;
        let mut child = Command::new("sleep")
            .arg("1000")
            .stdin(Stdio::null())
            .spawn()
            .ok()?;
        if child.id() as i32 == pid {
            return Some(child);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    None
}

#[test]
fn kill_never_signals_a_recycled_init_pid() {
    require_root!();
    let env = Env::new("recycled-pid");
    // Parallel tests fork too and may take the pid first: try again then.
    let (id, pid, mut victim) = (0..5)
        .find_map(|_| {
            let (id, _) = env.sleeper();
            let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
            // The init dies behind the runtime's back; wait until its pid is free.
            // SAFETY: plain kill(2) of the container's init.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            poll_until("the init's pid to be free", Duration::from_secs(10), || {
                (!Path::new(&format!("/proc/{pid}")).exists()).then_some(())
            });
            match victim_with_pid(pid) {
                Some(v) => Some((id, pid, v)),
                None => {
                    env.rt(&["delete", "--force", &id]).ok();
                    None
                }
            }
        })
        .expect("could not recycle an init's pid");
    let victim_start = start_time(pid);

    let k = env.rt(&["kill", &id, "KILL"]);
    let state = env.rt(&["state", &id]);
    let status = if state.code == 0 {
        state.json()["status"].as_str().unwrap_or("").to_string()
    } else {
        String::new()
    };
    let del = env.rt(&["delete", "--force", &id]);
    // Still the same process: alive, and not a newer one with the same pid.
    let survived = pid_alive(pid) && start_time(pid) == victim_start;
    let _ = victim.kill();
    let _ = victim.wait();

    k.fails_with(&["container not running"]);
    assert!(
        survived,
        "kill or delete signalled the process that took pid {pid}"
    );
    assert_ne!(
        status, "running",
        "state calls a dead init running:\n{state}"
    );
    del.ok();
    env.assert_gone(&id);
    env.finish();
}

#[test]
fn sigkill_to_a_paused_init_stops_it() {
    require_root!();
    let env = Env::new("kill-paused");
    let (id, _) = env.sleeper();
    env.rt(&["pause", &id]).ok();
    assert_eq!(env.status(&id), "paused");
    env.rt(&["kill", &id, "KILL"]).ok();
    poll_until(
        "the paused container to stop",
        Duration::from_secs(5),
        || (env.status(&id) == "stopped").then_some(()),
    );
    env.rt(&["delete", &id]).ok();
    env.assert_gone(&id);
    env.finish();
}

/// Kill everything in the container's cgroup with the cgroup frozen (what
/// kill --all must do), for the test's own cleanup after a failed kill.
fn freeze_and_kill(id: &str) {
    let v2_kill = unified_cgroup(id).join("cgroup.kill");
    if v2_kill.exists() {
        let _ = std::fs::write(v2_kill, "1");
        return;
    }
    let freezer = Path::new("/sys/fs/cgroup/freezer").join(format!("cellos-{id}"));
    let _ = std::fs::write(freezer.join("freezer.state"), "FROZEN");
    std::thread::sleep(Duration::from_millis(100));
    for pid in read_lossy(&freezer.join("cgroup.procs")).split_whitespace() {
        if let Ok(pid) = pid.parse::<i32>() {
            // SAFETY: plain kill(2).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    let _ = std::fs::write(freezer.join("freezer.state"), "THAWED");
}

#[test]
fn kill_all_leaves_no_process_of_a_forking_container() {
    require_root!();
    let env = Env::new("kill-all-fork");
    let id = env.id();
    // A thousand idle processes first, then a shell forking in a tight
    // loop: its pid comes after theirs, so a kill in pid order reaches it
    // only after a thousand others, while it forks on. No pid namespace:
    // nothing kills the rest when the init dies. The pids limit bounds
    // what a failed kill leaves running.
    let bundle = env.bundle(|c| {
        set_args(
            c,
            &[
                "sh",
                "-c",
                "for i in $(seq 1000); do sleep 1000 & done; \
                 sh -c 'while :; do sleep 1000 & done' & exec sleep 1000",
            ],
        );
        c["linux"]["cgroupsPath"] = json!(format!("/cellos-{id}"));
        c["linux"]["resources"]["pids"] = json!({"limit": 4000});
        let ns: Vec<Value> = c["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["type"] != "pid")
            .cloned()
            .collect();
        c["linux"]["namespaces"] = json!(ns);
    });
    env.create(&bundle, &id, &[]).ok();
    env.start(&id).ok();
    poll_until("the container to fork", Duration::from_secs(20), || {
        (pids_in_cgroup_of(&id).len() > 1100).then_some(())
    });
    let k = env.rt(&["kill", "--all", &id, "KILL"]);
    let mut left = Vec::new();
    for _ in 0..20 {
        left = pids_in_cgroup_of(&id);
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if !left.is_empty() {
        // A surviving forker outruns the harness's pid-by-pid cleanup.
        freeze_and_kill(&id);
    }
    k.ok();
    assert!(
        left.is_empty(),
        "{} processes survived kill --all: {:?}",
        left.len(),
        &left[..left.len().min(10)]
    );
    env.wait_status(&id, "stopped");
    env.rt(&["delete", &id]).ok();
    env.assert_gone(&id);
    env.finish();
}

/// A duplicate ID's error: containerd's wording for ours, any for a control.
fn fails_as_duplicate(o: &Out, id: &str) {
    if is_control() {
        o.fails_with(&["already exists"]);
    } else {
        o.fails_with(&[&format!("container with id \"{id}\" already exists")]);
    }
}

/// Names in the state root (runc leaves it empty once the last container is gone).
fn root_entries(env: &Env) -> Vec<String> {
    std::fs::read_dir(&env.root)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn concurrent_creates_of_one_id_have_one_winner() {
    require_root!();
    let env = Arc::new(Env::new("dup-race"));
    const N: usize = 8;
    // A few rounds: the window is a few milliseconds wide.
    for _ in 0..5 {
        let id = env.id();
        // No cgroupsPath: our runtime runs it from a patched copy in
        // @bundles. A control gets one the harness can clean up after.
        let bundle = env.bundle(|c| {
            set_args(c, &["sleep", "1000"]);
            if is_control() {
                c["linux"]["cgroupsPath"] = json!(format!("/cellos-{id}"));
            }
        });
        let canonical = bundle.canonicalize().unwrap();
        let barrier = Arc::new(Barrier::new(N));
        let threads: Vec<_> = (0..N)
            .map(|i| {
                let (env, barrier, bundle, id) =
                    (env.clone(), barrier.clone(), bundle.clone(), id.clone());
                std::thread::spawn(move || {
                    let out = env.subdir(&format!("out{i}"));
                    let cmd = env.rt_cmd(&["create", "--bundle", bundle.to_str().unwrap(), &id]);
                    barrier.wait();
                    env.rt_to_files(cmd, &out)
                })
            })
            .collect();
        let outs: Vec<Out> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let winners = outs.iter().filter(|o| o.code == 0).count();
        assert_eq!(winners, 1, "want exactly one winner:\n{outs:#?}");
        for o in outs.iter().filter(|o| o.code != 0) {
            fails_as_duplicate(o, &id);
        }
        // The winner keeps what it made: its state and its engine bundle.
        let state = env.state(&id);
        assert_eq!(
            state["bundle"],
            json!(canonical),
            "the winner's state lost its bundle"
        );
        if is_control() {
            println!("control runtime: no @bundles copy to check");
        } else {
            let copy = env.root.join("@bundles").join(&id).join("config.json");
            assert!(copy.exists(), "a losing create removed {}", copy.display());
        }
        env.start(&id).ok();
        assert_eq!(env.status(&id), "running");
        env.rt(&["kill", &id, "KILL"]).ok();
        env.wait_status(&id, "stopped");
        env.rt(&["delete", &id]).ok();
        env.assert_gone(&id);
    }
    Arc::try_unwrap(env).ok().unwrap().finish();
}

#[test]
fn a_duplicate_create_leaves_the_first_intact() {
    require_root!();
    let env = Env::new("dup-seq");
    let bundle = env.bundle_args(&["sleep", "1000"]);
    let id = env.id();
    env.create(&bundle, &id, &[]).ok();
    let again = env.subdir("again");
    let o = env.rt_to_files(
        env.rt_cmd(&["create", "--bundle", bundle.to_str().unwrap(), &id]),
        &again,
    );
    fails_as_duplicate(&o, &id);
    env.start(&id).ok();
    assert_eq!(env.status(&id), "running");
    env.rt(&["delete", "--force", &id]).ok();
    env.assert_gone(&id);
    env.finish();
}

#[test]
fn the_state_root_is_empty_after_the_last_delete() {
    require_root!();
    let env = Arc::new(Env::new("empty-root"));
    env.run_args(&["true"]).ok();
    assert_eq!(root_entries(&env), Vec::<String>::new(), "after run");
    // Creates and deletes racing on the shared @bundles/: every one succeeds.
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let env = env.clone();
            std::thread::spawn(move || {
                for _ in 0..6 {
                    let bundle = env.bundle_args(&["true"]);
                    let id = env.id();
                    env.create(&bundle, &id, &[]).ok();
                    env.rt(&["delete", "--force", &id]).ok();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(root_entries(&env), Vec::<String>::new(), "after the race");
    Arc::try_unwrap(env).ok().unwrap().finish();
}

/// What a subreaper running `args` finds among its children once the
/// runtime has exited: (pid, state, comm) of each. Anything the runtime
/// forked and did not reap is reparented there.
fn children_left_by(args: &[String], out: &Path) -> (i32, Vec<(i32, char, String)>) {
    let argv: Vec<CString> = args
        .iter()
        .map(|a| CString::new(a.as_str()).unwrap())
        .collect();
    let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let envp: Vec<CString> = std::env::vars()
        .map(|(k, v)| CString::new(format!("{k}={v}")).unwrap())
        .collect();
    let mut envp_p: Vec<*const libc::c_char> = envp.iter().map(|e| e.as_ptr()).collect();
    envp_p.push(std::ptr::null());
    let out = std::fs::File::create(out).unwrap();
    let null = std::fs::File::open("/dev/null").unwrap();
    use std::os::fd::AsRawFd;
    let (out_fd, null_fd) = (out.as_raw_fd(), null.as_raw_fd());
    let mut ready = [0; 2];
    let mut go = [0; 2];
    // SAFETY: pipe2 into local arrays.
    unsafe {
        assert_eq!(libc::pipe2(ready.as_mut_ptr(), libc::O_CLOEXEC), 0);
        assert_eq!(libc::pipe2(go.as_mut_ptr(), libc::O_CLOEXEC), 0);
    }
    // SAFETY: between fork and _exit the child makes only async-signal-safe
    // syscalls on memory prepared above.
    let child = unsafe { libc::fork() };
    if child == 0 {
        unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
            let rt = libc::fork();
            if rt == 0 {
                libc::dup2(null_fd, 0);
                libc::dup2(out_fd, 1);
                libc::dup2(out_fd, 2);
                libc::execve(argv_p[0], argv_p.as_ptr(), envp_p.as_ptr());
                libc::_exit(127);
            }
            let mut st: libc::c_int = 0;
            libc::waitpid(rt, &mut st, 0);
            // Let a child that outlived the runtime finish (and turn zombie).
            let ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 300_000_000,
            };
            libc::nanosleep(&ts, std::ptr::null_mut());
            libc::write(ready[1], (&st as *const libc::c_int).cast(), 4);
            let mut b = 0u8;
            libc::read(go[0], (&mut b as *mut u8).cast(), 1);
            libc::_exit(0);
        }
    }
    assert!(child > 0, "fork failed");
    let mut st: libc::c_int = 0;
    // SAFETY: reading 4 bytes into a local.
    let n = unsafe { libc::read(ready[0], (&mut st as *mut libc::c_int).cast(), 4) };
    assert_eq!(n, 4, "the subreaper died");
    let mut kids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.get(1).and_then(|p| p.parse::<i32>().ok()) == Some(child) {
            let comm = head
                .split_once('(')
                .map(|(_, c)| c)
                .unwrap_or("")
                .to_string();
            kids.push((pid, f[0].chars().next().unwrap_or('?'), comm));
        }
    }
    // SAFETY: release the subreaper, reap it, close our pipe ends.
    unsafe {
        libc::write(go[1], [0u8].as_ptr().cast(), 1);
        let mut cst = 0;
        libc::waitpid(child, &mut cst, 0);
        for fd in [ready[0], ready[1], go[0], go[1]] {
            libc::close(fd);
        }
    }
    let code = if libc::WIFEXITED(st) {
        libc::WEXITSTATUS(st)
    } else {
        128 + libc::WTERMSIG(st)
    };
    (code, kids)
}

#[test]
fn the_runtime_reaps_every_process_it_forks() {
    require_root!();
    let env = Env::new("reap");
    // Named cgroups, where the check below finds the containers' processes.
    let sleeper = |id: &str| {
        env.bundle(|c| {
            set_args(c, &["sleep", "1000"]);
            c["linux"]["cgroupsPath"] = json!(format!("/cellos-{id}"));
        })
    };
    let id = env.id();
    let b = sleeper(&id).to_str().unwrap().to_string();
    let root = env.root.to_str().unwrap().to_string();
    let run_id = env.id();
    let rb = sleeper(&run_id).to_str().unwrap().to_string();
    let fg_id = env.id();
    let fg_bundle = env.bundle_args(&["true"]);
    let fg = fg_bundle.to_str().unwrap().to_string();
    let verbs: Vec<Vec<&str>> = vec![
        vec!["create", "--bundle", &b, &id],
        vec!["start", &id],
        vec!["state", &id],
        vec!["exec", &id, "true"],
        vec!["exec", "--detach", &id, "sleep", "1000"],
        vec!["pause", &id],
        vec!["resume", &id],
        vec!["kill", &id, "KILL"],
        vec!["delete", "--force", &id],
        vec!["run", "--detach", "--bundle", &rb, &run_id],
        vec!["delete", "--force", &run_id],
        vec!["run", "--bundle", &fg, &fg_id],
        vec!["delete", "--force", &fg_id],
    ];
    let mut problems = Vec::new();
    for verb in verbs {
        let mut args = vec![runtime(), "--root".into(), root.clone()];
        args.extend(verb.iter().map(|s| s.to_string()));
        let out = env.dir.join("reap.out");
        let (code, kids) = children_left_by(&args, &out);
        assert_eq!(code, 0, "{verb:?} failed: {}", read_lossy(&out));
        for (pid, state, comm) in kids {
            // A container's own processes outlive the runtime by design.
            let own = [&id, &run_id]
                .iter()
                .any(|cid| pids_in_cgroup_of(cid).contains(&pid));
            if state == 'Z' || !own {
                problems.push(format!("{verb:?}: child {pid} ({comm}) state {state}"));
            }
        }
    }
    assert!(problems.is_empty(), "unreaped children: {problems:#?}");
    env.assert_gone(&id);
    env.finish();
}
