//! Many containers and execs at once: nothing hangs, every status is right.

mod support;

use std::time::{Duration, Instant};
use support::*;

/// Regression: a container whose process exits at once must not be missed
/// (youki 0.7 could hang forever in a foreground run of /bin/true).
#[test]
fn concurrent_foreground_runs() {
    require_root!();
    let env = Env::new("loadrun");
    let bundle = env.bundle_args(&["/bin/true"]);
    let failing = env.bundle_args(&["sh", "-c", "exit 9"]);
    let ids: Vec<String> = (0..30).map(|_| env.id()).collect();
    let started = Instant::now();
    let results: Vec<(Out, Duration, i32)> = std::thread::scope(|sc| {
        let handles: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let (b, want) = if i % 5 == 4 {
                    (&failing, 9)
                } else {
                    (&bundle, 0)
                };
                let env = &env;
                sc.spawn(move || {
                    let t = Instant::now();
                    let cmd = env.rt_cmd(&["run", "--bundle", b.to_str().unwrap(), id]);
                    let o = run_piped(cmd, None, Duration::from_secs(20));
                    (o, t.elapsed(), want)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (o, took, want) in &results {
        assert_eq!(o.code, *want, "{o}");
        assert!(*took < Duration::from_secs(20), "took {took:?}: {o}");
        assert_eq!(o.stderr, "", "{o}");
    }
    for id in &ids {
        env.assert_gone(id);
    }
    eprintln!("30 runs in {:?}", started.elapsed());
    env.finish();
}

#[test]
fn concurrent_execs() {
    require_root!();
    let env = Env::new("loadexec");
    let (id, _) = env.sleeper();
    let results: Vec<(Out, i32)> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..30)
            .map(|i| {
                let env = &env;
                let id = &id;
                sc.spawn(move || {
                    let code = i % 7;
                    let script = format!("echo exec-{i}; exit {code}");
                    let cmd = env.rt_cmd(&["exec", id, "sh", "-c", &script]);
                    (run_piped(cmd, None, Duration::from_secs(20)), code)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, (o, code)) in results.iter().enumerate() {
        assert_eq!(o.code, *code, "{o}");
        assert_eq!(o.stdout, format!("exec-{i}\n"), "{o}");
    }
    // Only the init is left in the container.
    let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
    poll_until(
        "exec'd processes to be gone",
        Duration::from_secs(5),
        || (pids_in_cgroup_of(&id) == vec![pid]).then_some(()),
    );
    env.finish();
}

#[test]
fn concurrent_create_delete_same_root() {
    require_root!();
    let env = Env::new("loadcreate");
    let bundle = env.bundle_args(&["sleep", "1000"]);
    let ids: Vec<String> = (0..12).map(|_| env.id()).collect();
    std::thread::scope(|sc| {
        for id in &ids {
            let env = &env;
            let bundle = &bundle;
            sc.spawn(move || {
                let out = env.subdir("out");
                let cmd = env.rt_cmd(&["create", "--bundle", bundle.to_str().unwrap(), id]);
                env.rt_to_files(cmd, &out).ok();
                env.start(id).ok();
                assert_eq!(env.status(id), "running");
                env.rt(&["delete", "--force", id]).ok();
                env.assert_gone(id);
            });
        }
    });
    let o = env.rt(&["list", "--quiet"]);
    o.ok();
    assert_eq!(o.out(), "");
    env.finish();
}
