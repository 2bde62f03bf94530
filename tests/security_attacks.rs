//! Attacks of a hostile image on the runtime itself (CVE-2019-5736 and the
//! unwrapping of its seal), each performed for real against the runtime.
//! Run with `CELLOS_TEST_RUNTIME=/usr/sbin/runc` as a control.

mod support;

use serde_json::json;
use std::path::{Path, PathBuf};
use support::*;

/// Every capability this host grants (CAP_SYS_RESOURCE is not in its bounding
/// set): the attacker has CAP_SYS_ADMIN and no user namespace.
const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
];

/// A writable copy of the fixture rootfs with the attack helper in it.
fn attack_rootfs(env: &Env) -> PathBuf {
    let rootfs = copy_fixture_rootfs(env);
    std::fs::copy(unwrap_helper(env), rootfs.join("bin/unwrap_exe")).unwrap();
    rootfs
}

fn unwrap_helper(env: &Env) -> PathBuf {
    c_helper(env, "unwrap_exe")
}

fn all_caps(c: &mut serde_json::Value) {
    c["process"]["capabilities"] =
        json!({"bounding": ALL_CAPS, "effective": ALL_CAPS, "permitted": ALL_CAPS});
}

/// The host's runtime binary still has the bytes it had before the attack.
fn assert_unchanged(bin: &std::path::Path, before: &[u8]) {
    assert!(
        std::fs::read(bin).unwrap() == before,
        "{} changed",
        bin.display()
    );
}

/// The runtime binary as it is on the host now.
/// A test's Env, the host runtime binary and its bytes now, and a rootfs
/// holding the attack helper.
fn attack_setup(name: &str) -> (Env, (PathBuf, Vec<u8>), PathBuf) {
    let env = Env::new(name);
    let host = host_binary();
    let rootfs = attack_rootfs(&env);
    (env, host, rootfs)
}

fn host_binary() -> (PathBuf, Vec<u8>) {
    let p = PathBuf::from(runtime()).canonicalize().unwrap();
    let bytes = std::fs::read(&p).unwrap();
    (p, bytes)
}

/// The attack's report: it saw a runtime process and could not unwrap it.
#[track_caller]
fn assert_sealed(report: &str, what: &str) {
    println!("{what}:\n{report}");
    assert!(
        report.lines().any(|l| l.contains("as-is")),
        "{what}: the attacker never saw the runtime's image:\n{report}"
    );
    assert!(
        !report.contains("WRITABLE"),
        "{what}: the runtime's image was made writable:\n{report}"
    );
}

/// An attacker container with every capability and no user namespace that
/// watches its pid namespace for a runtime process and attacks its
/// /proc/<pid>/exe. Returns (id, its bundle, its init's host pid).
fn attacker(env: &Env, rootfs: &Path, seconds: u32) -> (String, PathBuf, i64) {
    let secs = seconds.to_string();
    let (id, bundle) = env.create_started_with(|c| {
        c["root"] = json!({"path": rootfs, "readonly": false});
        all_caps(c);
        set_args(c, &["/bin/unwrap_exe", "--watch", &secs]);
    });
    wait_file_contains(&bundle.join("stdout"), "watching");
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    (id, bundle, pid)
}

/// CVE-2019-5736 during `create` and a foreground `run`: the init of a
/// container is the runtime's image until it execs the user's process. A
/// privileged container sharing its pid namespace grabs /proc/<pid>/exe and
/// tries to make the image writable (also by clearing the read-only flag on
/// the mount, or on a clone of it: the unwrapping runc 1.2 warns about).
#[test]
fn exe_unwrap_during_create_and_run() {
    require_root!();
    let (env, (bin, before), rootfs) = attack_setup("unwrap-create");
    // create: the victim's init waits for `start` as the runtime's image.
    let (att, att_bundle, att_pid) = attacker(&env, &rootfs, 20);
    let victim = env.bundle(|c| {
        set_args(c, &["true"]);
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "pid");
        ns.push(json!({"type": "pid", "path": format!("/proc/{att_pid}/ns/pid")}));
    });
    let vid = env.id();
    env.create(&victim, &vid, &[]).ok();
    wait_file_contains(&att_bundle.join("stdout"), "clone");
    // Once the init is gone, only the seal stands between the kept handle and a write.
    env.rt(&["delete", "--force", &vid]).ok();
    let report = wait_file_contains(&att_bundle.join("stdout"), "after-exec");
    assert_sealed(&report, "create");
    env.rt(&["delete", "--force", &att]).ok();
    // run: a createRuntime hook holds the init back for a while.
    let (att, att_bundle, att_pid) = attacker(&env, &rootfs, 20);
    let victim = env.bundle(|c| {
        set_args(c, &["true"]);
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "pid");
        ns.push(json!({"type": "pid", "path": format!("/proc/{att_pid}/ns/pid")}));
        c["hooks"] = json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "2"]}]});
    });
    let vid = env.id();
    let o = env.run_fg(&victim, &vid);
    let report = wait_file_contains(&att_bundle.join("stdout"), "after-exec");
    assert_sealed(&report, "run");
    println!("{o}");
    env.rt(&["delete", "--force", &att]).ok();
    assert_unchanged(&bin, &before);
    env.finish();
}

/// CVE-2019-5736 during `exec`: the process entering the container runs the
/// runtime's image until it execs the command. A privileged process already
/// in the container watches for it and attacks its /proc/<pid>/exe.
#[test]
fn exe_unwrap_during_exec() {
    require_root!();
    let (env, (bin, before), rootfs) = attack_setup("unwrap-exec");
    let (att, att_bundle, _) = attacker(&env, &rootfs, 25);
    // The window is short: exec until the watcher has caught one.
    let mut caught = false;
    for _ in 0..200 {
        env.exec(&att, &["true"]).ok();
        if read_lossy(&att_bundle.join("stdout")).contains("after-exec") {
            caught = true;
            break;
        }
    }
    let report = read_lossy(&att_bundle.join("stdout"));
    assert!(caught, "the watcher never caught an exec:\n{report}");
    assert_sealed(&report, "exec");
    assert_unchanged(&bin, &before);
    env.finish();
}

/// CVE-2019-5736 through /proc/self/exe: an image whose entry point is a
/// script interpreted by `/proc/self/exe` makes the kernel run the runtime's
/// own image as the container's process; a privileged process in the same
/// pid namespace attacks it while it runs.
#[test]
fn exe_unwrap_through_proc_self_exe() {
    require_root!();
    let (env, (bin, before), rootfs) = attack_setup("unwrap-self");
    std::fs::write(rootfs.join("evil"), "#!/proc/self/exe\n").unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(rootfs.join("evil"))
            .unwrap()
            .permissions(),
        0o755,
    );
    std::fs::set_permissions(
        rootfs.join("evil"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let (att, att_bundle, _) = attacker(&env, &rootfs, 25);
    let mut caught = false;
    for _ in 0..200 {
        let _ = env.exec(&att, &["/evil"]);
        if read_lossy(&att_bundle.join("stdout")).contains("after-exec") {
            caught = true;
            break;
        }
    }
    let report = read_lossy(&att_bundle.join("stdout"));
    assert!(
        caught,
        "the watcher never caught the runtime's image:\n{report}"
    );
    assert_sealed(&report, "exec of #!/proc/self/exe");
    assert_unchanged(&bin, &before);
    env.finish();
}

/// Unmounts the read-only install dir however the test ends.
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// A runtime installed in a read-only bind mount is not thereby sealed:
/// anyone with CAP_SYS_ADMIN in that mount namespace (here the test itself,
/// as a container configured without a mount namespace would be) clones the
/// mount and clears the flag on the clone. The init must run from an image
/// nobody can unwrap, and the attack from the host namespace must fail.
#[test]
fn exe_unwrap_readonly_install() {
    require_root!();
    let env = Env::new("unwrap-roinst");
    let dir = env.subdir("install");
    let installed = dir.join("runtime");
    std::fs::copy(runtime(), &installed).unwrap();
    let bind =
        |flags| nix::mount::mount(Some(&dir), &dir, None::<&str>, flags, None::<&str>).unwrap();
    use nix::mount::MsFlags;
    bind(MsFlags::MS_BIND);
    let guard = Unmount(dir.clone());
    bind(MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY);
    let before = std::fs::read(&installed).unwrap();
    let bundle = env.bundle_args(&["sleep", "1000"]);
    let id = env.id();
    let mut cmd = std::process::Command::new(&installed);
    cmd.arg("--root")
        .arg(&env.root)
        .args(["create", "--bundle", bundle.to_str().unwrap(), &id])
        .stdin(std::process::Stdio::null());
    env.rt_to_files(cmd, &bundle).ok();
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let exe = format!("/proc/{pid}/exe");
    let o = run_piped(
        {
            let mut c = std::process::Command::new(unwrap_helper(&env));
            c.arg(&exe);
            c
        },
        None,
        CMD_TIMEOUT,
    );
    assert_sealed(&o.stdout, "init of a runtime on a read-only bind");
    env.rt(&["delete", "--force", &id]).ok();
    assert!(
        std::fs::read(&installed).unwrap() == before,
        "installed runtime changed"
    );
    drop(guard);
    env.finish();
}

/// A runtime installed on a filesystem without write support (squashfs)
/// skips the re-exec, and that is safe: cloning its mount and clearing
/// the read-only flag leaves the superblock read-only.
#[test]
fn exe_on_squashfs_is_sealed_as_installed() {
    require_root!();
    if std::process::Command::new("mksquashfs")
        .arg("-version")
        .output()
        .is_err()
    {
        println!("SKIPPED: mksquashfs (squashfs-tools) is not installed");
        return;
    }
    let env = Env::new("unwrap-squash");
    let src = env.subdir("squash-src");
    std::fs::copy(runtime(), src.join("runtime")).unwrap();
    let image = env.dir.join("runtime.squashfs");
    let st = std::process::Command::new("mksquashfs")
        .arg(&src)
        .arg(&image)
        .args(["-quiet", "-noappend"])
        .status()
        .unwrap();
    assert!(st.success(), "mksquashfs");
    let dir = env.subdir("squash-mnt");
    let st = std::process::Command::new("mount")
        .args(["-t", "squashfs", "-o", "loop,ro"])
        .arg(&image)
        .arg(&dir)
        .status()
        .unwrap();
    assert!(st.success(), "mount squashfs");
    let guard = Unmount(dir.clone());
    let installed = dir.join("runtime");
    let bundle = env.bundle_args(&["sleep", "1000"]);
    let id = env.id();
    let mut cmd = std::process::Command::new(&installed);
    cmd.arg("--root")
        .arg(&env.root)
        .args(["create", "--bundle", bundle.to_str().unwrap(), &id])
        .stdin(std::process::Stdio::null());
    env.rt_to_files(cmd, &bundle).ok();
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let exe = format!("/proc/{pid}/exe");
    if is_control() {
        println!("control runtime: it may re-exec from a copy; only the attack is checked");
    } else {
        assert_eq!(
            std::fs::read_link(&exe).unwrap(),
            installed,
            "the init did not run from the squashfs as installed"
        );
    }
    let mut c = std::process::Command::new(unwrap_helper(&env));
    c.arg(&exe);
    let o = run_piped(c, None, CMD_TIMEOUT);
    assert_sealed(&o.stdout, "init of a runtime on squashfs");
    env.rt(&["delete", "--force", &id]).ok();
    drop(guard);
    env.finish();
}
