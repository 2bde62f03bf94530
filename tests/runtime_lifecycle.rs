//! The container state machine: create, start, exit, delete, list, pause, resume.

mod support;

use serde_json::json;
use std::collections::BTreeSet;
use support::*;

#[test]
fn create_start_stop_delete() {
    require_root!();
    let env = Env::new("lifecycle");
    // The process waits for a file that the test creates through exec, so
    // "running" is observed before it exits on its own.
    let bundle = env.bundle(|c| {
        set_args(
            c,
            &[
                "sh",
                "-c",
                "while [ ! -e /tmp/go ]; do sleep 0.05; done; exit 0",
            ],
        );
        c["annotations"] = json!({"org.cellos.test": "yes"});
    });
    let id = env.id();
    let pid_file = bundle.join("init.pid");
    env.create(&bundle, &id, &["--pid-file", pid_file.to_str().unwrap()])
        .ok();

    // When create returns: "created", a live init pid, and the pid file holds it.
    let st = env.state(&id);
    let keys: BTreeSet<&str> = st.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    let want: BTreeSet<&str> = [
        "ociVersion",
        "id",
        "pid",
        "status",
        "bundle",
        "rootfs",
        "created",
        "annotations",
        "owner",
    ]
    .into_iter()
    .collect();
    assert_eq!(keys, want, "state fields: {st}");
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["bundle"], bundle.to_str().unwrap());
    assert_eq!(st["rootfs"], fixture_rootfs().to_str().unwrap());
    assert!(st["ociVersion"].as_str().unwrap().starts_with("1."), "{st}");
    assert!(is_rfc3339(st["created"].as_str().unwrap()), "{st}");
    assert_eq!(st["annotations"]["org.cellos.test"], "yes", "{st}");
    assert!(st["owner"].is_string(), "{st}");
    let pid = st["pid"].as_i64().unwrap() as i32;
    assert!(pid > 0, "{st}");
    assert!(pid_alive(pid));
    let written = std::fs::read_to_string(&pid_file).expect("pid file exists after create");
    assert_eq!(written.trim(), pid.to_string());
    // The init sits in the container's cgroup before start.
    assert!(!cgroup_dirs(&id).is_empty(), "no cgroup for {id}");
    assert!(pids_in_cgroup_of(&id).contains(&pid));

    env.start(&id).ok();
    let st = env.state(&id);
    assert_eq!(st["status"], "running");
    assert_eq!(st["pid"], pid);

    env.exec(&id, &["touch", "/tmp/go"]).ok();
    let st = env.wait_status(&id, "stopped");
    assert_eq!(st["pid"], 0, "{st}");
    assert!(!pid_alive(pid));

    env.rt(&["delete", &id]).ok();
    env.assert_gone(&id);
    env.rt(&["state", &id]).fails_with(&[&id, "does not exist"]);
    env.finish();
}

#[test]
fn list_formats() {
    require_root!();
    let env = Env::new("list");
    let (a, bundle_a) = env.sleeper();
    let bundle_b = env.bundle_args(&["true"]);
    let b = env.id();
    env.create(&bundle_b, &b, &[]).ok();

    let o = env.rt(&["list", "--quiet"]);
    o.ok();
    let mut want = vec![a.clone(), b.clone()];
    want.sort();
    assert_eq!(o.out().lines().collect::<Vec<_>>(), want, "{o}");

    let o = env.rt(&["list", "--format", "json"]);
    o.ok();
    let arr = o.json();
    let arr = arr.as_array().expect("list json is an array");
    assert_eq!(arr.len(), 2, "{o}");
    let find = |id: &str| arr.iter().find(|v| v["id"] == id).cloned().unwrap();
    assert_eq!(find(&a)["status"], "running");
    assert_eq!(find(&a)["bundle"], bundle_a.to_str().unwrap());
    assert_eq!(find(&b)["status"], "created");
    assert!(find(&a)["pid"].as_i64().unwrap() > 0);

    let o = env.rt(&["list"]);
    o.ok();
    let lines: Vec<&str> = o.out().lines().collect();
    assert_eq!(lines.len(), 3, "{o}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    );
    let row_a = lines.iter().find(|l| l.starts_with(&a)).expect("row for a");
    assert!(row_a.contains("running"), "{o}");
    assert!(row_a.contains(bundle_a.to_str().unwrap()), "{o}");
    let row_b = lines.iter().find(|l| l.starts_with(&b)).expect("row for b");
    assert!(row_b.contains("created"), "{o}");

    env.rt(&["delete", "--force", &a]).ok();
    env.rt(&["delete", "--force", &b]).ok();
    let o = env.rt(&["list", "--quiet"]);
    o.ok();
    assert_eq!(o.out(), "", "{o}");
    let o = env.rt(&["list", "--format", "json"]);
    o.ok();
    assert_eq!(o.json(), json!([]));
    env.finish();
}

#[test]
fn pause_and_resume() {
    require_root!();
    let env = Env::new("pause");
    // A counter that only advances while the container is thawed.
    let (id, _) = env.create_started_with(|c| {
        set_args(
            c,
            &[
                "sh",
                "-c",
                "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.02; done",
            ],
        );
    });
    let read_n = || {
        let o = env.exec(&id, &["cat", "/tmp/n"]);
        o.ok();
        o.out().parse::<u64>().unwrap_or(0)
    };
    // Each poll is an exec: seconds apiece in an emulated guest (make
    // test-hosts), hence the generous bound; a fast host returns at once.
    poll_until(
        "counter to start",
        std::time::Duration::from_secs(60),
        || (read_n() > 0).then_some(()),
    );

    env.rt(&["pause", &id]).ok();
    assert_eq!(env.status(&id), "paused");
    let freezer =
        std::path::PathBuf::from(format!("/sys/fs/cgroup/freezer/cellos-{id}/freezer.state"));
    if freezer.exists() {
        assert_eq!(read_lossy(&freezer).trim(), "FROZEN");
    } else {
        let f = unified_cgroup(&id).join("cgroup.freeze");
        assert_eq!(read_lossy(&f).trim(), "1");
    }
    // exec into a paused container is refused.
    env.exec(&id, &["true"]).fails_with(&[&id, "paused"]);
    // Pausing twice is an error naming the state.
    env.rt(&["pause", &id]).fails_with(&[&id, "paused"]);

    env.rt(&["resume", &id]).ok();
    assert_eq!(env.status(&id), "running");
    let a = read_n();
    poll_until(
        "counter to advance after resume",
        std::time::Duration::from_secs(60),
        || (read_n() > a).then_some(()),
    );
    env.rt(&["resume", &id]).fails_with(&[&id, "not paused"]);

    // A paused container can be force-deleted.
    env.rt(&["pause", &id]).ok();
    env.rt(&["delete", "--force", &id]).ok();
    env.assert_gone(&id);
    env.finish();
}

#[test]
fn kill_moves_to_stopped() {
    require_root!();
    let env = Env::new("killstop");
    let (id, _) = env.sleeper();
    let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
    env.rt(&["kill", &id, "KILL"]).ok();
    let st = env.wait_status(&id, "stopped");
    assert_eq!(st["pid"], 0);
    assert!(!pid_alive(pid));
    // Signalling a stopped container says it is not running.
    env.rt(&["kill", &id, "9"])
        .fails_with(&["container not running"]);
    env.rt(&["delete", &id]).ok();
    env.assert_gone(&id);
    env.finish();
}

#[test]
fn delete_created_container() {
    require_root!();
    let env = Env::new("delcreated");
    let bundle = env.bundle_args(&["true"]);
    let id = env.id();
    env.create(&bundle, &id, &[]).ok();
    let pid = env.state(&id)["pid"].as_i64().unwrap() as i32;
    // A created container has not run anything; delete (without --force) removes it, like runc.
    env.rt(&["delete", &id]).ok();
    env.assert_gone(&id);
    assert!(!pid_alive(pid), "init {pid} survived delete");
    env.finish();
}

#[test]
fn run_detach_then_kill_and_delete() {
    require_root!();
    let env = Env::new("rundetach");
    let bundle = env.bundle_args(&["sleep", "1000"]);
    let id = env.id();
    let pid_file = bundle.join("run.pid");
    let cmd = env.rt_cmd(&[
        "run",
        "--detach",
        "--bundle",
        bundle.to_str().unwrap(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
    ]);
    env.rt_to_files(cmd, &bundle).ok();
    let st = env.state(&id);
    assert_eq!(st["status"], "running");
    assert_eq!(
        read_lossy(&pid_file).trim(),
        st["pid"].as_i64().unwrap().to_string()
    );
    env.rt(&["kill", &id, "9"]).ok();
    env.wait_status(&id, "stopped");
    env.rt(&["delete", &id]).ok();
    env.assert_gone(&id);
    env.finish();
}

#[test]
fn foreground_run_output_and_cleanup() {
    require_root!();
    let env = Env::new("fgrun");
    let b = env.bundle_args(&["sh", "-c", "echo out; echo err >&2; hostname"]);
    let id = env.id();
    let o = env.run_fg(&b, &id);
    o.ok();
    assert_eq!(o.stdout, "out\ncellos\n");
    assert_eq!(o.stderr, "err\n");
    // A foreground run deletes its container when it ends.
    env.assert_gone(&id);
    env.finish();
}

#[test]
fn detached_container_output_goes_to_create_stdio() {
    require_root!();
    let env = Env::new("createstdio");
    let bundle = env.bundle_args(&["sh", "-c", "echo to-stdout; echo to-stderr >&2"]);
    let id = env.id();
    env.create(&bundle, &id, &[]).ok();
    // Nothing runs before start.
    assert_eq!(env.output(&bundle), "");
    env.start(&id).ok();
    env.wait_status(&id, "stopped");
    assert_eq!(env.output(&bundle), "to-stdout\n");
    assert_eq!(read_lossy(&bundle.join("stderr")), "to-stderr\n");
    env.rt(&["delete", &id]).ok();
    env.finish();
}

/// Mount destinations that the image has (a directory), that it lacks
/// (one component, or parents too) and that it has as a file where a
/// directory is needed, itself or as a parent (refused, naming it):
/// resolving an existing destination before creating it, and making a
/// single missing directory with one mkdirat (libcontainer patch 10), must
/// change none of them.
#[test]
fn mount_destinations_existing_missing_and_not_a_directory() {
    require_root!();
    let env = Env::new("mntdest");
    let rootfs = copy_fixture_rootfs(&env);
    std::fs::create_dir_all(rootfs.join("have/dir")).unwrap();
    std::fs::write(rootfs.join("have/file"), "image\n").unwrap();
    let tmpfs_at = |c: &mut serde_json::Value, dests: &[&str]| {
        c["root"] = json!({"path": rootfs, "readonly": false});
        for d in dests {
            c["mounts"].as_array_mut().unwrap().push(json!({
                "destination": d, "type": "tmpfs", "source": "tmpfs"
            }));
        }
    };
    let o = env.run_with(|c| {
        tmpfs_at(c, &["/have/dir", "/have/one", "/new/deep/dir"]);
        set_args(
            c,
            &[
                "sh",
                "-c",
                "echo x > /have/dir/f && echo y > /new/deep/dir/g && \
                 grep -cE ' /(have/dir|have/one|new/deep/dir) ' /proc/self/mountinfo",
            ],
        );
    });
    o.ok().stdout_is("3\n");
    assert!(
        !rootfs.join("have/dir/f").exists(),
        "tmpfs not mounted:\n{o}"
    );
    assert!(rootfs.join("have/one").is_dir(), "{o}");
    assert!(rootfs.join("new/deep/dir").is_dir(), "{o}");
    assert!(!rootfs.join("new/deep/dir/g").exists(), "{o}");

    for dest in ["/have/file", "/have/file/sub"] {
        let o = env.run_with(|c| tmpfs_at(c, &[dest]));
        o.fails_with(&[dest, "not a directory"]);
    }
    assert_eq!(read_lossy(&rootfs.join("have/file")), "image\n");
    env.finish();
}

/// `linux.devices` (beside the defaults) are made in the rootfs with their
/// type, numbers and mode, in nested directories too, both in the /dev
/// tmpfs and in an image's own /dev; a device path that is a symlink there
/// is refused before anything is made. (libcontainer resolves each
/// device's parent once per create, vendor patch 11.)
#[test]
fn devices_are_made_in_the_rootfs_nested_and_in_the_images_dev() {
    require_root!();
    let env = Env::new("devices");
    let dev = |path: &str, minor: u32, mode: u32| {
        json!({"path": path, "type": "c", "major": 1, "minor": minor,
               "fileMode": mode, "uid": 0, "gid": 0})
    };
    let devices = json!([
        dev("/dev/sub/deeper/mynull", 3, 0o620),
        dev("/dev/myzero", 5, 0o640)
    ]);
    let stat = [
        "stat",
        "-c",
        "%n %F %t:%T %a",
        "/dev/sub/deeper/mynull",
        "/dev/myzero",
        "/dev/null",
        "/dev/urandom",
    ];
    let want = "/dev/sub/deeper/mynull character special file 1:3 620\n\
                /dev/myzero character special file 1:5 640\n\
                /dev/null character special file 1:3 666\n\
                /dev/urandom character special file 1:9 666\n";
    let o = env.run_with(|c| {
        c["linux"]["devices"] = devices.clone();
        set_args(c, &stat);
    });
    o.ok();
    assert_eq!(o.stdout, want);

    // The image's own /dev, no tmpfs over it.
    let rootfs = copy_fixture_rootfs(&env);
    std::fs::create_dir_all(rootfs.join("dev")).unwrap();
    let image_dev = |c: &mut serde_json::Value| {
        c["root"]["path"] = json!(rootfs);
        c["root"]["readonly"] = json!(false);
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["destination"] != "/dev");
        c["linux"]["devices"] = devices.clone();
    };
    let o = env.run_with(|c| {
        image_dev(c);
        set_args(c, &stat);
    });
    o.ok();
    assert_eq!(o.stdout, want);

    // Its zero an absolute symlink: refused, nothing made on the host.
    let host_target = std::path::Path::new("/planted-zero");
    assert!(
        !host_target.exists(),
        "{host_target:?} exists on the host already"
    );
    let _ = std::fs::remove_file(rootfs.join("dev/zero"));
    std::os::unix::fs::symlink("/planted-zero", rootfs.join("dev/zero")).unwrap();
    let o = env.run_with(|c| {
        image_dev(c);
        set_args(c, &["true"]);
    });
    assert_eq!(o.code, 1, "{o}");
    assert!(
        o.stderr.contains("dev/zero is a symlink in the rootfs"),
        "{o}"
    );
    assert!(
        !host_target.exists(),
        "a device was made on the host at {host_target:?}"
    );
    assert!(
        !rootfs.join("planted-zero").exists(),
        "a device was made behind the symlink"
    );
    env.finish();
}
