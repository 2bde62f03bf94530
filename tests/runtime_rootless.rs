//! Rootless containers: the runtime run by an unprivileged user (`nobody`),
//! with a user namespace, on a host where that user has no cgroup of its
//! own (cgroup v1 here). Also: an exec'd process joins the container's
//! user namespace, for root as well.

mod support;

use serde_json::{Value, json};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use support::*;

const NOBODY: u32 = 65534;

/// The runtime as `nobody`, with a HOME and XDG_RUNTIME_DIR of its own
/// inside the test dir (so nothing outside it is touched).
fn rt_nobody(env: &Env, args: &[&str]) -> Command {
    let home = nobody_dir(env, "home");
    let mut c = Command::new(runtime());
    c.args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", &home)
        .env("XDG_RUNTIME_DIR", nobody_dir(env, "xdg"))
        .stdin(Stdio::null())
        .uid(NOBODY)
        .gid(NOBODY);
    c
}

/// A directory `nobody` owns, in the test dir (made once per name).
fn nobody_dir(env: &Env, name: &str) -> PathBuf {
    chown_nobody(&env.dir);
    let d = env.dir.join(name);
    if !d.exists() {
        std::fs::create_dir_all(&d).unwrap();
        chown_nobody(&d);
    }
    d
}

fn chown_nobody(p: &Path) {
    std::os::unix::fs::chown(p, Some(NOBODY), Some(NOBODY)).expect("chown to nobody");
}

/// The state root `nobody` uses in these tests (the runtime makes it).
fn root_arg(env: &Env) -> String {
    nobody_dir(env, "home")
        .join("state")
        .to_string_lossy()
        .into_owned()
}

/// On the way out, also after a failed assertion: root force-deletes
/// whatever `nobody` left in its roots (Env only sweeps its own root).
struct Sweep<'a>(&'a Env);

impl Drop for Sweep<'_> {
    fn drop(&mut self) {
        let name = Path::new(&runtime()).file_name().unwrap().to_owned();
        let roots = [
            PathBuf::from(root_arg(self.0)),
            self.0.dir.join("xdg").join(name),
        ];
        for root in roots {
            let Ok(rd) = std::fs::read_dir(&root) else {
                continue;
            };
            for e in rd.flatten().filter(|e| e.file_name() != "@bundles") {
                let mut c = Command::new(runtime());
                c.arg("--root").arg(&root).args(["delete", "--force"]);
                c.arg(e.file_name()).stdin(Stdio::null());
                let _ = try_run_piped(c, None, CMD_TIMEOUT);
            }
        }
    }
}

fn nobody(env: &Env, args: &[&str]) -> Out {
    let root = root_arg(env);
    let mut all = vec!["--root", root.as_str()];
    all.extend_from_slice(args);
    run_piped(rt_nobody(env, &all), None, CMD_TIMEOUT)
}

/// A bundle written by `spec --rootless` as `nobody`, running `args` on the
/// fixture rootfs.
fn rootless_bundle(env: &Env, args: &[&str], edit: impl FnOnce(&mut Value)) -> PathBuf {
    let bundle = env.subdir("rootless");
    chown_nobody(&bundle);
    let b = bundle.to_str().unwrap();
    run_piped(
        rt_nobody(env, &["spec", "--rootless", "--bundle", b]),
        None,
        CMD_TIMEOUT,
    )
    .ok();
    let path = bundle.join("config.json");
    let mut cfg: Value = serde_json::from_str(&read_lossy(&path)).expect("spec wrote JSON");
    cfg["root"]["path"] = json!(fixture_rootfs());
    cfg["process"]["terminal"] = json!(false);
    set_args(&mut cfg, args);
    edit(&mut cfg);
    std::fs::write(&path, serde_json::to_string_pretty(&cfg).unwrap()).unwrap();
    bundle
}

/// The state dir of container `id` in `nobody`'s root.
fn state_dir(env: &Env, id: &str) -> PathBuf {
    Path::new(&root_arg(env)).join(id)
}

#[test]
fn spec_rootless_then_run_as_an_unprivileged_user() {
    let env = Env::new("rl-run");
    let sweep = Sweep(&env);
    let bundle = rootless_bundle(&env, &["sh", "-c", "id -u; cat /proc/self/uid_map"], |_| {});
    let id = env.id();
    let out = nobody(&env, &["run", "--bundle", bundle.to_str().unwrap(), &id]);
    out.ok();
    let mut lines = out.stdout.lines();
    assert_eq!(lines.next(), Some("0"), "root inside:\n{out}");
    let map: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(map, ["0", "65534", "1"], "nobody mapped to 0:\n{out}");
    assert!(!state_dir(&env, &id).exists(), "run left its state");
    drop(sweep);
    env.finish();
}

#[test]
fn create_start_exec_delete_as_an_unprivileged_user() {
    let env = Env::new("rl-life");
    let sweep = Sweep(&env);
    let bundle = rootless_bundle(&env, &["sleep", "1000"], |_| {});
    let b = bundle.to_str().unwrap();
    let id = env.id();
    let root = root_arg(&env);
    let out = env.rt_to_files(
        rt_nobody(&env, &["--root", &root, "create", "--bundle", b, &id]),
        &bundle,
    );
    out.ok();
    nobody(&env, &["start", &id]).ok();
    let state: Value = serde_json::from_str(&nobody(&env, &["state", &id]).stdout).unwrap();
    assert_eq!(state["status"], "running");
    let pid = state["pid"].as_i64().unwrap() as i32;
    assert!(pid_alive(pid));
    // The exec'd process is in the container's user namespace (as root there).
    let ex = nobody(
        &env,
        &["exec", &id, "sh", "-c", "id -u; cat /proc/self/uid_map"],
    );
    ex.ok();
    let init_ns = std::fs::read_link(format!("/proc/{pid}/ns/user")).unwrap();
    assert!(ex.stdout.starts_with("0\n"), "{ex}");
    assert!(
        ex.stdout.contains("65534"),
        "exec sees the container's map:\n{ex}"
    );
    assert_ne!(
        init_ns,
        std::fs::read_link("/proc/self/ns/user").unwrap(),
        "the init has a user namespace of its own"
    );
    nobody(&env, &["kill", &id, "KILL"]).ok();
    poll_until("init to exit", std::time::Duration::from_secs(10), || {
        (!pid_alive(pid)).then_some(())
    });
    nobody(&env, &["delete", &id]).ok();
    assert!(!state_dir(&env, &id).exists(), "delete left its state");

    // A created container, and a running one, go with delete --force (no
    // cgroup to kill through).
    for start in [false, true] {
        let id = env.id();
        env.rt_to_files(
            rt_nobody(&env, &["--root", &root, "create", "--bundle", b, &id]),
            &bundle,
        )
        .ok();
        if start {
            nobody(&env, &["start", &id]).ok();
        }
        let state: Value = serde_json::from_str(&nobody(&env, &["state", &id]).stdout).unwrap();
        let pid = state["pid"].as_i64().unwrap() as i32;
        nobody(&env, &["delete", "--force", &id]).ok();
        assert!(!pid_alive(pid), "delete --force left pid {pid}");
        assert!(!state_dir(&env, &id).exists(), "delete left its state");
    }
    drop(sweep);
    env.finish();
}

#[test]
fn limits_without_a_delegated_cgroup_fail_with_one_line() {
    let env = Env::new("rl-limit");
    let sweep = Sweep(&env);
    let bundle = rootless_bundle(&env, &["true"], |c| {
        c["linux"]["resources"]["memory"] = json!({ "limit": 64 << 20 });
    });
    let id = env.id();
    let out = nobody(&env, &["run", "--bundle", bundle.to_str().unwrap(), &id]);
    if is_control() {
        // runc 1.1 refuses too, in its own words; crun ignores the limit.
        println!("control runtime: only the refusal is checked:\n{out}");
        assert_ne!(out.code, 0, "{out}");
    } else {
        out.fails_with(&[
            "linux.resources.memory.limit",
            &bundle.join("config.json").to_string_lossy(),
            "delegated",
        ]);
    }
    assert!(
        !state_dir(&env, &id).exists(),
        "a refused run left its state"
    );
    let scratch = Path::new(&root_arg(&env)).join("@bundles").join(&id);
    assert!(
        !scratch.exists(),
        "a refused run left {}",
        scratch.display()
    );
    drop(sweep);
    env.finish();
}

/// `--systemd-cgroup` as a user whose session bus accepts and never
/// answers: one line naming the bus, within seconds, and nothing made.
/// (libcgroups alone waits on such a bus for minutes; runc forever.)
#[test]
fn systemd_cgroup_with_a_silent_user_bus_fails_in_seconds() {
    require_root!();
    if is_control() {
        println!("control runtime: not run (runc waits on a silent bus forever)");
        return;
    }
    let env = Env::new("rl-bus");
    let sweep = Sweep(&env);
    let id = env.id();
    // As rootless podman asks for it: a unit under the user's systemd.
    let bundle = rootless_bundle(&env, &["true"], |c| {
        c["linux"]["cgroupsPath"] = json!(format!("user.slice:cellos:{id}"));
    });
    // A listening socket that nobody reads: connect succeeds, no reply.
    let bus = nobody_dir(&env, "xdg").join("bus");
    let _silent = std::os::unix::net::UnixListener::bind(&bus).expect("bind the bus socket");
    chown_nobody(&bus);
    let root = root_arg(&env);
    // The runtime wants systemd running (/run/systemd/system), and
    // libcgroups' systemd driver cgroup v2; this host may have neither, so
    // the command gets a mount namespace that has both.
    let mut c = Command::new("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(
            "mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system && \
             { [ \"$(stat -fc %T /sys/fs/cgroup)\" = cgroup2fs ] || \
               mount -t cgroup2 none /sys/fs/cgroup; } && \
             exec setpriv --reuid 65534 --regid 65534 --clear-groups \"$@\"",
        )
        .arg("sh")
        .arg(runtime())
        .args(["--root", &root, "--systemd-cgroup", "create", "--bundle"])
        .arg(&bundle)
        .arg(&id)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", nobody_dir(&env, "home"))
        .env("XDG_RUNTIME_DIR", nobody_dir(&env, "xdg"))
        .stdin(Stdio::null());
    let t0 = std::time::Instant::now();
    let out = run_piped(c, None, std::time::Duration::from_secs(100));
    let took = t0.elapsed();
    out.fails_with(&["--systemd-cgroup", &bus.to_string_lossy(), "did not answer"]);
    assert!(took.as_secs() < 30, "took {took:?}:\n{out}");
    assert!(
        !state_dir(&env, &id).exists(),
        "a refused create left its state"
    );
    drop(sweep);
    env.finish();
}

#[test]
fn default_root_of_a_user_is_under_xdg_runtime_dir() {
    let env = Env::new("rl-xdg");
    let sweep = Sweep(&env);
    let bundle = rootless_bundle(&env, &["sleep", "1000"], |_| {});
    let id = env.id();
    // No --root: runc's rule, $XDG_RUNTIME_DIR/<runtime name>.
    let name = Path::new(&runtime())
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let expected = nobody_dir(&env, "xdg").join(&name).join(&id);
    env.rt_to_files(
        rt_nobody(&env, &["create", "--bundle", bundle.to_str().unwrap(), &id]),
        &bundle,
    )
    .ok();
    assert!(expected.is_dir(), "no state at {}", expected.display());
    let del = run_piped(
        rt_nobody(&env, &["delete", "--force", &id]),
        None,
        CMD_TIMEOUT,
    );
    del.ok();
    assert!(!expected.exists(), "delete left {}", expected.display());
    drop(sweep);
    env.finish();
}

/// As root too: an exec'd process must not stay in the host's user
/// namespace (it would be host root in the container's mount namespace).
#[test]
fn exec_joins_the_containers_user_namespace() {
    require_root!();
    let env = Env::new("rl-usernsexec");
    let (id, _) = env.create_started_with(|c| {
        set_args(c, &["sleep", "1000"]);
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "type": "user" }));
        c["linux"]["uidMappings"] = json!([{ "containerID": 0, "hostID": 300000, "size": 65536 }]);
        c["linux"]["gidMappings"] = json!([{ "containerID": 0, "hostID": 300000, "size": 65536 }]);
    });
    let out = env.exec(&id, &["cat", "/proc/self/uid_map"]);
    out.ok();
    let map: Vec<&str> = out.out().split_whitespace().collect();
    assert_eq!(
        map,
        ["0", "300000", "65536"],
        "exec'd process's uid_map:\n{out}"
    );
    env.finish();
}

/// Rootless podman with this runtime: podman runs it as root of its own
/// user namespace with XDG_RUNTIME_DIR set (the state root then goes there,
/// as runc's does), without any cgroup on this host.
#[test]
fn rootless_podman_runs_execs_stops_and_removes_a_container() {
    if Command::new("podman").arg("--version").output().is_err() {
        println!("skipped: podman is not installed (make test-deps)");
        return;
    }
    let env = Env::new("rl-podman");
    let sweep = Sweep(&env);
    let tar = env.dir.join("busybox.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(fixture_rootfs())
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    chown_nobody(&tar);
    let rt = runtime();
    let script = r#"
podman import -q "$TAR" localhost/rl-busybox:latest >/dev/null
podman --runtime "$RT" run --rm --network none localhost/rl-busybox:latest echo ok
podman --runtime "$RT" run -d --name rl1 --network none localhost/rl-busybox:latest sleep 1000 >/dev/null
podman --runtime "$RT" exec rl1 id -u
podman --runtime "$RT" stop -t 1 rl1 >/dev/null
podman --runtime "$RT" rm rl1 >/dev/null
podman ps -aq | wc -l
"#;
    let mut c = Command::new("bash");
    c.args(["-euo", "pipefail", "-c", script])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", nobody_dir(&env, "home"))
        .env("XDG_RUNTIME_DIR", nobody_dir(&env, "xdg"))
        .env("TAR", &tar)
        .env("RT", &rt)
        .stdin(Stdio::null())
        .uid(NOBODY)
        .gid(NOBODY);
    let out = run_piped(c, None, std::time::Duration::from_secs(120));
    // podman leaves a pause process holding its user namespace.
    let pause = nobody_dir(&env, "xdg").join("libpod/tmp/pause.pid");
    if let Some(pid) = read_lossy(&pause)
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|p| *p > 1)
    {
        // SAFETY: kill(2) on the pause process of this test's podman.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    out.ok();
    assert_eq!(out.stdout, "ok\n0\n0\n", "{out}");
    drop(sweep);
    env.finish();
}
