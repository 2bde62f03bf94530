//! The soak tier (`make soak`, run by CI after `make test`; `#[ignore]`d so
//! that a plain `cargo test` skips it): 1,000 sequential lifecycles, 100
//! concurrent ones and 200 execs into one container, then proof that
//! nothing leaked: processes, cgroups, mounts, our own fds, state files,
//! temp files. Prints the time per lifecycle (median, p95) and the totals.

mod support;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::*;

const SEQUENTIAL: usize = 1000;
const CONCURRENT: usize = 100;
const EXECS: usize = 200;

/// Run the runtime with its output in files: a container's init keeps
/// the stdio of `create`, so a pipe would never reach EOF.
fn run_quiet(env: &Env, args: &[&str]) {
    let dir = env.subdir("quiet");
    env.rt_to_files(env.rt_cmd(args), &dir).ok();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Wait for a process that was reparented to us (we are a subreaper).
fn reap(pid: i32) {
    let mut st = 0;
    // SAFETY: waitpid on a pid that is our child, with a valid status pointer.
    while unsafe { libc::waitpid(pid, &mut st, 0) } < 0 {
        let e = std::io::Error::last_os_error();
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::Interrupted,
            "waitpid {pid}: {e}"
        );
    }
    assert!(
        libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0,
        "container init {pid} ended with status {st:#x}"
    );
}

/// create, start, wait for the init, delete; returns how long it took.
fn lifecycle(env: &Env, bundle: &Path) -> Duration {
    let id = env.id();
    let pid_file = bundle.join(format!("{id}.pid"));
    let t = Instant::now();
    run_quiet(env, &create_line(bundle, &pid_file, &id));
    let pid: i32 = read_lossy(&pid_file).trim().parse().expect("pid file");
    run_quiet(env, &["start", &id]);
    reap(pid);
    run_quiet(env, &["delete", &id]);
    let took = t.elapsed();
    let _ = std::fs::remove_file(&pid_file);
    took
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn report(what: &str, mut times: Vec<Duration>, total: Duration) {
    times.sort();
    println!(
        "soak: {what}: {} in {:.1} s; per item median {:.1} ms, p95 {:.1} ms",
        times.len(),
        total.as_secs_f64(),
        percentile(&times, 50).as_secs_f64() * 1e3,
        percentile(&times, 95).as_secs_f64() * 1e3,
    );
}

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn tmp_entries() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir("/tmp")
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// Every leftover whose name carries `prefix` (all of this run's IDs).
fn leaks(env: &Env, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let cg_name = format!("cellos-{prefix}");
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        for e in std::fs::read_dir(h.path()).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with(&cg_name) {
                out.push(format!("cgroup {}", e.path().display()));
            }
        }
    }
    let needle = format!("/{cg_name}");
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        let cg = read_lossy(&p.path().join("cgroup"));
        if cg.contains(&needle) {
            out.push(format!("process {}", p.path().display()));
        }
    }
    for m in mounts_naming(&env.dir) {
        out.push(format!("mount {m}"));
    }
    for e in root_entries(&env.root) {
        out.push(format!("state {}", e.display()));
    }
    // Temp files of ours (pid files are written through `.NAME.PID.tmp`).
    let mut todo = vec![env.dir.clone()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.file_type().is_ok_and(|t| t.is_dir()) && name != "rootfs" {
                todo.push(e.path());
            } else if name.ends_with(".tmp") || name.ends_with(".pid") {
                out.push(format!("temp file {}", e.path().display()));
            }
        }
    }
    out
}

#[test]
#[ignore = "soak tier: make soak"]
fn soak() {
    // Containers' inits are reparented to us when `create` exits: we wait for them.
    // SAFETY: prctl with constant arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let env = Env::new("soak");
    let prefix = format!("soak-{}-", std::process::id());
    let fds_before = fd_count();
    let tmp_before = tmp_entries();
    let bundle = env.bundle_args(&["true"]);
    let started = Instant::now();

    let t = Instant::now();
    let times: Vec<Duration> = (0..SEQUENTIAL).map(|_| lifecycle(&env, &bundle)).collect();
    report("sequential lifecycles", times, t.elapsed());

    let t = Instant::now();
    let times: Vec<Duration> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..CONCURRENT)
            .map(|_| s.spawn(|| lifecycle(&env, &bundle)))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    report("concurrent lifecycles", times, t.elapsed());

    let (id, _) = env.sleeper();
    let t = Instant::now();
    let times: Vec<Duration> = (0..EXECS)
        .map(|_| {
            let t = Instant::now();
            run_quiet(&env, &["exec", &id, "true"]);
            t.elapsed()
        })
        .collect();
    report("execs into one container", times, t.elapsed());
    run_quiet(&env, &["delete", "--force", &id]);
    // The sleeper was reparented to us too: reap it (a zombie is no leak).
    // SAFETY: waitpid with WNOHANG and a null status pointer.
    while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
    println!("soak: total {:.1} s", started.elapsed().as_secs_f64());

    let found = leaks(&env, &prefix);
    assert!(found.is_empty(), "soak leaked: {found:#?}");
    assert_eq!(fd_count(), fds_before, "the soak leaked fds of its own");
    let new_tmp: Vec<_> = tmp_entries()
        .into_iter()
        .filter(|p| !tmp_before.contains(p) && p.to_string_lossy().contains(&prefix))
        .collect();
    assert!(new_tmp.is_empty(), "temp files left: {new_tmp:?}");
    env.finish();
}
