//! Security settings really take effect inside the container, and nothing of
//! the host leaks in (fds, the runtime binary, symlinked mount targets).

mod support;

use serde_json::json;
use std::path::Path;
use support::*;

fn only_caps(c: &mut serde_json::Value, caps: &[&str]) {
    c["process"]["capabilities"] = json!({
        "bounding": caps, "effective": caps, "permitted": caps
    });
}

#[test]
fn capabilities_dropped() {
    require_root!();
    let env = Env::new("caps");
    let o = env.run_with(|c| {
        set_args(c, &["grep", "^Cap", "/proc/self/status"]);
        only_caps(c, &["CAP_KILL"]);
    });
    o.ok();
    assert_eq!(
        status_field(&o.stdout, "CapEff"),
        Some("0000000000000020"),
        "{o}"
    );
    assert_eq!(
        status_field(&o.stdout, "CapPrm"),
        Some("0000000000000020"),
        "{o}"
    );
    assert_eq!(
        status_field(&o.stdout, "CapBnd"),
        Some("0000000000000020"),
        "{o}"
    );
    assert_eq!(
        status_field(&o.stdout, "CapAmb"),
        Some("0000000000000000"),
        "{o}"
    );
    // No capabilities at all: even root cannot chown.
    let o = env.run_with(|c| {
        set_args(
            c,
            &["sh", "-c", "grep CapEff /proc/self/status; chown 1 /tmp"],
        );
        only_caps(c, &[]);
    });
    assert_ne!(o.code, 0, "{o}");
    assert_eq!(
        status_field(&o.stdout, "CapEff"),
        Some("0000000000000000"),
        "{o}"
    );
    assert!(o.stderr.contains("Operation not permitted"), "{o}");
    env.finish();
}

#[test]
fn no_new_privileges() {
    require_root!();
    let env = Env::new("nnp");
    let o = env.run_args(&["grep", "NoNewPrivs", "/proc/self/status"]);
    o.ok();
    assert_eq!(status_field(&o.stdout, "NoNewPrivs"), Some("1"), "{o}");
    let o = env.run_with(|c| {
        set_args(c, &["grep", "NoNewPrivs", "/proc/self/status"]);
        c["process"]["noNewPrivileges"] = json!(false);
    });
    o.ok();
    assert_eq!(status_field(&o.stdout, "NoNewPrivs"), Some("0"), "{o}");
    env.finish();
}

fn seccomp_blocking(names: &[&str]) -> serde_json::Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"],
        "syscalls": [{"names": names, "action": "SCMP_ACT_ERRNO"}]
    })
}

#[test]
fn seccomp_blocks_syscalls() {
    require_root!();
    let env = Env::new("seccomp");
    let o = env.run_with(|c| {
        set_args(c, &["sh", "-c", "mkdir /tmp/x && echo made-it"]);
        c["linux"]["seccomp"] = seccomp_blocking(&["mkdir", "mkdirat"]);
    });
    assert_ne!(o.code, 0, "{o}");
    assert!(!o.stdout.contains("made-it"), "{o}");
    assert!(o.stderr.contains("Operation not permitted"), "{o}");
    // chmod, with noNewPrivileges off (seccomp loaded before caps drop).
    let o = env.run_with(|c| {
        set_args(
            c,
            &[
                "sh",
                "-c",
                "touch /tmp/f && chmod 600 /tmp/f && echo chmod-worked",
            ],
        );
        c["process"]["noNewPrivileges"] = json!(false);
        c["linux"]["seccomp"] = seccomp_blocking(&["chmod", "fchmod", "fchmodat", "fchmodat2"]);
    });
    assert_ne!(o.code, 0, "{o}");
    assert!(!o.stdout.contains("chmod-worked"), "{o}");
    assert!(o.stderr.contains("Operation not permitted"), "{o}");
    // The same commands work without the profile.
    let o = env.run_args(&[
        "sh",
        "-c",
        "mkdir /tmp/x && touch /tmp/f && chmod 600 /tmp/f && echo fine",
    ]);
    o.ok();
    assert_eq!(o.out(), "fine");
    env.finish();
}

#[test]
fn masked_and_readonly_paths() {
    require_root!();
    let env = Env::new("masked");
    // Masked files read empty: /proc/kcore where the kernel has one (not all
    // do), /proc/timer_list, and a file of the image added to the list.
    let mut files = vec!["/proc/timer_list", "/etc/passwd"];
    if Path::new("/proc/kcore").exists() {
        files.push("/proc/kcore");
    }
    let script = format!(
        "for f in {}; do echo $f=$(wc -c < $f); done; ls /sys/firmware | wc -l; \
         if echo x > /proc/sys/kernel/domainname; then echo WROTE; fi",
        files.join(" ")
    );
    let o = env.run_with(|c| {
        set_args(c, &["sh", "-c", &script]);
        c["linux"]["maskedPaths"]
            .as_array_mut()
            .unwrap()
            .push(json!("/etc/passwd"));
    });
    o.ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    for (i, f) in files.iter().enumerate() {
        assert_eq!(lines[i], format!("{f}=0"), "{o}");
    }
    assert_eq!(lines[files.len()].trim(), "0", "{o}");
    assert!(!o.stdout.contains("WROTE"), "{o}");
    assert!(o.stderr.contains("Read-only file system"), "{o}");
    // Unmasked, the image's file has content.
    let o = env.run_args(&["sh", "-c", "wc -c < /etc/passwd"]);
    o.ok();
    assert_ne!(o.out(), "0", "{o}");
    // The root filesystem is read-only as configured.
    let o = env.run_args(&["sh", "-c", "touch /etc/x"]);
    assert_ne!(o.code, 0, "{o}");
    assert!(o.stderr.contains("Read-only file system"), "{o}");
    env.finish();
}

#[test]
fn rlimits_applied() {
    require_root!();
    let env = Env::new("rlimits");
    let o = env.run_with(|c| {
        set_args(c, &["sh", "-c", "ulimit -n; ulimit -Hn"]);
        c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 777, "hard": 888}]);
    });
    o.ok();
    assert_eq!(o.stdout, "777\n888\n");
    env.finish();
}

#[test]
fn sysctl_in_new_netns() {
    require_root!();
    let env = Env::new("sysctl");
    let o = env.run_with(|c| {
        set_args(c, &["cat", "/proc/sys/net/ipv4/ip_forward"]);
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    });
    o.ok();
    assert_eq!(o.out(), "1");
    // Without the sysctl a fresh network namespace has forwarding off.
    let o = env.run_args(&["cat", "/proc/sys/net/ipv4/ip_forward"]);
    o.ok();
    assert_eq!(o.out(), "0");
    env.finish();
}

#[test]
fn no_host_fd_leak() {
    require_root!();
    let env = Env::new("fdleak");
    let secret = env.subdir("secret").join("host-secret");
    std::fs::write(&secret, "secret").unwrap();
    let f = std::fs::File::open(&secret).unwrap();
    let raw = std::os::fd::AsRawFd::as_raw_fd(&f);
    let run = |extra_fd: Option<i32>, args: &[&str]| {
        let b = env.bundle_args(args);
        let id = env.id();
        let mut cmd = env.rt_cmd(&["run", "--bundle", b.to_str().unwrap(), &id]);
        if let Some(target) = extra_fd {
            inherit_fd(&mut cmd, raw, target);
        }
        run_piped(cmd, None, CMD_TIMEOUT)
    };
    for fd in [None, Some(3), Some(7)] {
        // `; true` keeps sh from exec'ing ls in its own place: $$ stays the shell.
        let o = run(fd, &["sh", "-c", "ls /proc/$$/fd; true"]);
        o.ok();
        assert_eq!(
            o.stdout, "0\n1\n2\n",
            "fds of the container process (host fd {fd:?}):\n{o}"
        );
        let o = run(
            fd,
            &["sh", "-c", "ls -l /proc/$$/fd/ | grep -c host-secret"],
        );
        assert_eq!(o.out(), "0", "{o}");
    }
    // The init of a detached container too (seen through exec).
    let b = env.bundle_args(&["sleep", "1000"]);
    let id = env.id();
    let mut cmd = env.rt_cmd(&["create", "--bundle", b.to_str().unwrap(), &id]);
    inherit_fd(&mut cmd, raw, 5);
    env.rt_to_files(cmd, &b).ok();
    env.start(&id).ok();
    let o = env.exec(&id, &["ls", "/proc/1/fd"]);
    o.ok();
    assert_eq!(o.stdout, "0\n1\n2\n", "{o}");
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let host_fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(host_fds.len(), 3, "init fds: {host_fds:?}");
    env.finish();
}

#[test]
fn cwd_is_inside_container() {
    require_root!();
    let env = Env::new("cwd");
    let o = env.run_with(|c| {
        set_args(c, &["sh", "-c", "readlink /proc/self/cwd; pwd; ls"]);
        c["process"]["cwd"] = json!("/work");
    });
    o.ok();
    assert_eq!(o.stdout, "/work\n/work\nimage-file\n");
    let o = env.run_args(&["readlink", "/proc/self/cwd"]);
    o.ok();
    assert_eq!(o.out(), "/");
    env.finish();
}

/// As root the runtime seals its image in place (its pages mapped again
/// from the detached read-only mount, then PR_SET_MM_MAP) instead of
/// exec'ing itself a second time: `create`, a foreground `run` and `exec`
/// exec nothing but the container's processes. Traced with strace; that the
/// image is sealed is `runtime_binary_is_sealed` and tests/security_attacks.rs.
#[test]
fn root_seals_in_place_without_a_second_exec() {
    require_root!();
    let env = Env::new("seal-inplace");
    // The runtime's own process only: the re-exec is its execveat, and the
    // container's processes are its children.
    let runtime_execs = |name: &str, args: &[&str]| -> Vec<String> {
        let (o, trace) = env.rt_traced("execve,execveat", args);
        assert_eq!(o.code, 0, "strace {name}: {o}");
        // The first exec is the one strace starts.
        trace
            .lines()
            .filter(|l| l.starts_with("exec"))
            .skip(1)
            .map(String::from)
            .collect()
    };
    let true_bundle = env.bundle_args(&["/bin/true"]);
    let run_id = env.id();
    let run = runtime_execs(
        "run",
        &["run", "--bundle", true_bundle.to_str().unwrap(), &run_id],
    );
    let sleeper = env.bundle_args(&["/bin/sleep", "1000"]);
    let id = env.id();
    let create = runtime_execs(
        "create",
        &["create", "--bundle", sleeper.to_str().unwrap(), &id],
    );
    env.start(&id).ok();
    let exec = runtime_execs("exec", &["exec", &id, "/bin/true"]);
    env.rt(&["delete", "--force", &id]).ok();
    let all = [("run", run), ("create", create), ("exec", exec)];
    if is_control() {
        println!("control runtime's own execs: {all:?}");
    } else {
        for (verb, execs) in &all {
            assert!(
                execs.is_empty(),
                "{verb} exec'd the runtime again: {execs:?}"
            );
        }
    }
    env.finish();
}

#[test]
fn runtime_binary_is_sealed() {
    require_root!();
    let env = Env::new("sealed");
    let bundle = env.bundle_args(&["sleep", "1000"]);
    let id = env.id();
    env.create(&bundle, &id, &[]).ok();
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    // Before start the init is still a fork of the runtime. This is the
    // CVE-2019-5736 attack: keep an O_PATH handle on its /proc/<pid>/exe,
    // wait until nothing executes the image any more, then reopen it for
    // writing. A sealed image (read-only bind or write-sealed memfd) refuses.
    let exe_link = format!("/proc/{pid}/exe");
    let host_bin = Path::new(BIN).canonicalize().unwrap();
    let before = std::fs::read(&host_bin).unwrap();
    let c_link = std::ffi::CString::new(exe_link.clone()).unwrap();
    // SAFETY: open(2) with O_PATH on a NUL-terminated path; fd closed below.
    let handle = unsafe { libc::open(c_link.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    assert!(handle >= 0, "open {exe_link} O_PATH");
    env.rt(&["delete", "--force", &id]).ok();
    let reopen_path = format!("/proc/self/fd/{handle}");
    let reopen = std::ffi::CString::new(reopen_path.clone()).unwrap();
    let w = unsafe { libc::open(reopen.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    let err = std::io::Error::last_os_error();
    if w >= 0 {
        unsafe { libc::close(w) };
        panic!("the init's exe could be reopened for writing after the init exited");
    }
    // ETXTBSY only means another runtime invocation runs the same image
    // right now (parallel tests); what protects the binary is that the image
    // sits on a read-only mount or is write-sealed.
    assert!(
        matches!(
            err.raw_os_error(),
            Some(libc::EROFS) | Some(libc::EPERM) | Some(libc::ETXTBSY)
        ),
        "expected EROFS or EPERM, got {err}"
    );
    let f = std::fs::File::open(&reopen_path).unwrap();
    let ro = nix::sys::statvfs::fstatvfs(&f)
        .unwrap()
        .flags()
        .contains(nix::sys::statvfs::FsFlags::ST_RDONLY);
    // SAFETY: F_GET_SEALS on an fd we own.
    let seals = unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&f), libc::F_GET_SEALS) };
    let sealed = seals >= 0 && seals & libc::F_SEAL_WRITE != 0;
    assert!(
        ro || sealed,
        "the init's image is neither on a read-only mount nor write-sealed"
    );
    assert_eq!(
        std::fs::read(&host_bin).unwrap(),
        before,
        "host binary changed"
    );
    env.finish();
}

#[test]
fn symlinked_mount_destination_stays_inside() {
    let env = Env::new("symlinkmnt");
    let rootfs = env.subdir("rootfs").join("rootfs");
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(fixture_rootfs())
        .arg(&rootfs)
        .status()
        .unwrap();
    assert!(st.success());
    let host_target = env.dir.join("host-target");
    let host_target_dir = env.dir.join("host-dir");
    std::fs::create_dir_all(&host_target_dir).unwrap();
    // rootfs/evil -> <absolute host path that does not exist>
    std::os::unix::fs::symlink(&host_target, rootfs.join("evil")).unwrap();
    // rootfs/evil2 -> ../../../<host dir that exists>
    let rel = format!("../../../../../../..{}", host_target_dir.display());
    std::os::unix::fs::symlink(&rel, rootfs.join("evil2")).unwrap();
    let o = env.run_with(|c| {
        c["root"] = json!({"path": rootfs, "readonly": false});
        set_args(c, &["sh", "-c", "echo inside > /evil/f; echo inside > /evil2/g; echo done"]);
        let m = c["mounts"].as_array_mut().unwrap();
        m.push(json!({"destination": "/evil", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]}));
        m.push(json!({"destination": "/evil2", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]}));
    });
    // Either the mounts were resolved inside the rootfs, or the create was
    // refused; the host must be untouched in both cases.
    assert!(
        !host_target.exists(),
        "mount created {} on the host:\n{o}",
        host_target.display()
    );
    assert_eq!(
        std::fs::read_dir(&host_target_dir).unwrap().count(),
        0,
        "something was written into {} on the host:\n{o}",
        host_target_dir.display()
    );
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mountinfo.contains(env.dir.to_str().unwrap()),
        "a mount landed on the host under {}:\n{mountinfo}",
        env.dir.display()
    );
    if o.code == 0 {
        assert_eq!(o.out(), "done");
    } else {
        assert_eq!(o.code, 1, "{o}");
    }
    env.finish();
}

#[test]
fn hostname_and_namespaces() {
    require_root!();
    let env = Env::new("ns");
    let o = env.run_args(&[
        "sh",
        "-c",
        "hostname; echo $$; ls /sys/class/net | tr '\\n' ' '",
    ]);
    o.ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines[0], "cellos");
    assert_eq!(lines[1], "1", "not pid 1 in its own pid namespace");
    assert_eq!(lines[2].trim(), "lo", "new network namespace has only lo");
    let host_ns = std::fs::read_link("/proc/self/ns/net").unwrap();
    let (id, _) = env.sleeper();
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    for ns in ["net", "pid", "mnt", "uts", "ipc", "cgroup"] {
        let inside = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap();
        let host = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        assert_ne!(inside, host, "{ns} namespace is shared with the host");
    }
    let _ = host_ns;
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    env.finish();
}
