//! Escapes from the container's filesystem view, after the CVEs that runc
//! fixed: a hostile image (symlinks in its rootfs) or config (cwd, mounts,
//! sysctls) must not reach a host file, a host fd or host procfs.
//! Run with `CELLOS_TEST_RUNTIME=/usr/sbin/runc` as a control.

mod support;

use serde_json::json;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use support::*;

fn use_rootfs(c: &mut serde_json::Value, rootfs: &Path) {
    c["root"] = json!({"path": rootfs, "readonly": false});
}

/// Drop the config's mount of `dest` (so that the image's own files show there).
fn drop_mount(c: &mut serde_json::Value, dest: &str) {
    c["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["destination"] != dest);
}

/// The host's mount table, minus lines that come and go with other tests.
fn host_mounts_touching(needle: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// A refusal must be one line naming the file (the control runtime words it its own way).
#[track_caller]
fn assert_refused_naming(o: &Out, needle: &str) {
    if is_control() {
        assert_ne!(o.code, 0, "{o}");
    } else {
        o.fails_with(&[needle]);
    }
}

const CORE_PATTERN: &str = "/proc/sys/kernel/core_pattern";

/// A directory of the host with a marker file, opened for the runtime to inherit.
fn host_dir(env: &Env) -> (PathBuf, std::fs::File) {
    let d = env.subdir("hostdir");
    std::fs::write(d.join("host-marker"), "host").unwrap();
    let f = std::fs::File::open(&d).unwrap();
    (d, f)
}

/// What a process learns about its cwd: getcwd, its listing, its fds.
/// (No pipe around the last `ls`: the shell would hold one end of it.)
const CWD_PROBE: &str = "pwd; ls; ls -a ..; echo FDS; ls /proc/$$/fd; true";

#[track_caller]
fn assert_cwd_inside(o: &Out, what: &str, cwd: &str) {
    if o.code != 0 {
        // Refusing the cwd is fine, in one line naming it (runc's exec
        // says so with exit 255).
        if !is_control() {
            o.fails_with(&["cwd", cwd]);
        }
        return;
    }
    assert!(
        !o.stdout.contains("host-marker"),
        "{what}: host dir reached:\n{o}"
    );
    assert!(
        !o.stdout.contains("unreachable"),
        "{what}: cwd outside the root:\n{o}"
    );
    let fds: Vec<&str> = o
        .stdout
        .lines()
        .skip_while(|l| *l != "FDS")
        .skip(1)
        .collect();
    assert_eq!(
        fds,
        ["0", "1", "2"],
        "{what}: extra fds in the container:\n{o}"
    );
}

/// CVE-2024-21626: process.cwd /proc/self/fd/N names, in the runtime's init,
/// whatever fd N is at the chdir: a leaked host directory fd would put the
/// process's cwd on the host. With and without a host dir fd inherited
/// from the runtime's caller at N.
#[test]
fn cwd_proc_self_fd() {
    require_root!();
    let env = Env::new("cve21626");
    let (_d, dir) = host_dir(&env);
    // cwd "/" with the host fd inherited: the process starts, and must see no host fd.
    for n in 3..=10 {
        for (cwd, inherit) in [
            (format!("/proc/self/fd/{n}"), false),
            (format!("/proc/self/fd/{n}"), true),
            ("/".to_string(), true),
        ] {
            let b = env.bundle(|c| {
                set_args(c, &["sh", "-c", CWD_PROBE]);
                c["process"]["cwd"] = json!(cwd);
            });
            let id = env.id();
            let mut cmd = env.rt_cmd(&["run", "--bundle", b.to_str().unwrap(), &id]);
            if inherit {
                inherit_fd(&mut cmd, dir.as_raw_fd(), n);
            }
            let o = run_piped(cmd, None, CMD_TIMEOUT);
            if cwd == "/" {
                o.ok();
            }
            assert_cwd_inside(&o, &format!("cwd {cwd}, inherited: {inherit}"), &cwd);
        }
    }
    // The same spelled with `..` past a mount, or through a symlink of the image.
    let rootfs = copy_fixture_rootfs(&env);
    std::os::unix::fs::symlink("/proc/self/fd/5", rootfs.join("fdlink")).unwrap();
    for cwd in ["/tmp/../proc/self/fd/5", "/fdlink", "/tmp/../fdlink"] {
        let b = env.bundle(|c| {
            c["root"] = json!({"path": rootfs, "readonly": true});
            set_args(c, &["sh", "-c", CWD_PROBE]);
            c["process"]["cwd"] = json!(cwd);
        });
        let id = env.id();
        let mut cmd = env.rt_cmd(&["run", "--bundle", b.to_str().unwrap(), &id]);
        inherit_fd(&mut cmd, dir.as_raw_fd(), 5);
        let o = run_piped(cmd, None, CMD_TIMEOUT);
        assert_cwd_inside(&o, &format!("cwd {cwd}"), cwd);
    }
    env.finish();
}

/// CVE-2024-21626 through `exec --cwd`.
#[test]
fn exec_cwd_proc_self_fd() {
    require_root!();
    let env = Env::new("cve21626x");
    let (_d, dir) = host_dir(&env);
    let (id, _) = env.sleeper();
    for n in 3..=10 {
        for (cwd, inherit) in [
            (format!("/proc/self/fd/{n}"), false),
            (format!("/proc/self/fd/{n}"), true),
            ("/".to_string(), true),
        ] {
            let mut cmd = env.rt_cmd(&["exec", "--cwd", &cwd, &id, "sh", "-c", CWD_PROBE]);
            if inherit {
                inherit_fd(&mut cmd, dir.as_raw_fd(), n);
            }
            let o = run_piped(cmd, None, CMD_TIMEOUT);
            if cwd == "/" {
                o.ok();
            }
            assert_cwd_inside(&o, &format!("exec --cwd {cwd}, inherited: {inherit}"), &cwd);
        }
    }
    env.finish();
}

/// A shell line that tries to write `target` with the value it already has
/// (so that a successful attack changes nothing on the host) and says so.
/// No redirection to /dev/null: in these images it may be the attack.
fn try_rewrite(target: &str) -> String {
    format!("v=$(cat {target}) && echo \"$v\" > {target} && echo WROTE {target}; true")
}

/// Puts the host's core_pattern back if an attack (on a vulnerable control
/// runtime) changed it: it is not namespaced and the whole host uses it.
struct KeepCorePattern(Vec<u8>);

impl KeepCorePattern {
    fn new() -> Self {
        KeepCorePattern(std::fs::read(CORE_PATTERN).unwrap())
    }

    #[track_caller]
    fn assert_unchanged(&self, o: &Out) {
        let now = std::fs::read(CORE_PATTERN).unwrap();
        assert!(
            now == self.0,
            "host core_pattern changed to {:?}:\n{o}",
            String::from_utf8_lossy(&now)
        );
    }
}

impl Drop for KeepCorePattern {
    fn drop(&mut self) {
        if std::fs::read(CORE_PATTERN).is_ok_and(|now| now != self.0) {
            let _ = std::fs::write(CORE_PATTERN, &self.0);
        }
    }
}

/// CVE-2025-31133: the runtime masks a path by bind-mounting /dev/null over
/// it. An image without a /dev mount whose /dev/null is a symlink to host
/// procfs (core_pattern) would turn the mask into a writable core_pattern.
#[test]
fn masked_path_with_dev_null_symlink() {
    let env = Env::new("cve31133");
    if is_control() {
        println!(
            "control: runc before 1.2.8 has CVE-2025-31133; Debian's runc 1.1.5 fails this test"
        );
    }
    let core = KeepCorePattern::new();
    let rootfs = copy_fixture_rootfs(&env);
    let _ = std::fs::remove_file(rootfs.join("dev/null"));
    std::os::unix::fs::symlink(CORE_PATTERN, rootfs.join("dev/null")).unwrap();
    // The image also replaced a masked file by a symlink to a host file.
    let host_file = env.subdir("host").join("secret");
    std::fs::write(&host_file, "host secret\n").unwrap();
    std::fs::create_dir_all(rootfs.join("etc")).unwrap();
    std::os::unix::fs::symlink(&host_file, rootfs.join("etc/masked")).unwrap();
    let script = format!(
        "{}; {}; {}; cat /etc/masked; grep -c core_pattern /proc/self/mountinfo; true",
        try_rewrite("/proc/timer_list"),
        try_rewrite("/etc/masked"),
        try_rewrite(CORE_PATTERN),
    );
    let o = env.run_with(|c| {
        use_rootfs(c, &rootfs);
        drop_mount(c, "/dev");
        drop_mount(c, "/dev/pts");
        drop_mount(c, "/dev/shm");
        drop_mount(c, "/dev/mqueue");
        c["linux"]["maskedPaths"]
            .as_array_mut()
            .unwrap()
            .push(json!("/etc/masked"));
        set_args(c, &["sh", "-c", &script]);
    });
    println!("{o}");
    assert!(
        !o.stdout.contains("WROTE"),
        "a masked path was writable:\n{o}"
    );
    assert!(
        !o.stdout.contains("host secret"),
        "the host file was readable:\n{o}"
    );
    if o.code == 0 {
        assert_eq!(
            o.stdout.lines().last(),
            Some("0"),
            "core_pattern mounted:\n{o}"
        );
    } else {
        assert_refused_naming(&o, "/dev/null is a symlink");
    }
    core.assert_unchanged(&o);
    assert_eq!(
        std::fs::read_to_string(&host_file).unwrap(),
        "host secret\n"
    );
    assert!(host_mounts_touching(env.dir.to_str().unwrap()).is_empty());
    env.finish();
}

/// CVE-2025-31133, the image's side: a maskedPaths entry that the image
/// replaced with a symlink to a host file (absolute, and climbing with
/// `..`). The mask must land inside the container (or be refused): the
/// host file stays unread and unwritten.
#[test]
fn masked_path_is_symlink_to_host() {
    require_root!();
    let env = Env::new("maskedsym");
    let host_file = env.subdir("host").join("secret");
    std::fs::write(&host_file, "host secret\n").unwrap();
    let rootfs = copy_fixture_rootfs(&env);
    std::os::unix::fs::symlink(&host_file, rootfs.join("etc/masked")).unwrap();
    let rel = format!("{}{}", "../".repeat(20), host_file.display());
    std::os::unix::fs::symlink(&rel, rootfs.join("etc/masked2")).unwrap();
    let script = format!(
        "cat /etc/masked /etc/masked2; {}; {}; true",
        try_rewrite("/etc/masked"),
        try_rewrite("/etc/masked2")
    );
    let o = env.run_with(|c| {
        use_rootfs(c, &rootfs);
        let m = c["linux"]["maskedPaths"].as_array_mut().unwrap();
        m.push(json!("/etc/masked"));
        m.push(json!("/etc/masked2"));
        set_args(c, &["sh", "-c", &script]);
    });
    println!("{o}");
    assert!(!o.stdout.contains("host secret"), "{o}");
    assert!(!o.stdout.contains("WROTE"), "{o}");
    assert_eq!(read_lossy(&host_file), "host secret\n", "{o}");
    assert!(
        host_mounts_touching(env.dir.to_str().unwrap()).is_empty(),
        "{o}"
    );
    if o.code != 0 {
        assert_refused_naming(&o, "/etc/masked");
    }
    env.finish();
}

/// CVE-2025-52565: with terminal: true the runtime bind-mounts the pty onto
/// /dev/console. An image whose /dev/console (and /dev/pts/ptmx) are
/// symlinks to host procfs must not get a mount of, or a write to, them.
#[test]
fn console_symlink_with_terminal() {
    let env = Env::new("cve52565");
    if is_control() {
        println!(
            "control: runc before 1.2.8 has CVE-2025-52565; Debian's runc 1.1.5 fails this test \
             (and then hangs on the console until the 30 s timeout)"
        );
    }
    let core = KeepCorePattern::new();
    let host_file = env.subdir("host").join("console-target");
    std::fs::write(&host_file, "host file\n").unwrap();
    for (target, with_devpts) in [
        (CORE_PATTERN.to_string(), false),
        (CORE_PATTERN.to_string(), true),
        (host_file.display().to_string(), false),
    ] {
        let rootfs = copy_fixture_rootfs(&env);
        let dev = rootfs.join("dev");
        let _ = std::fs::remove_file(dev.join("console"));
        std::os::unix::fs::symlink(&target, dev.join("console")).unwrap();
        std::fs::create_dir_all(dev.join("pts")).unwrap();
        let _ = std::fs::remove_file(dev.join("pts/ptmx"));
        std::os::unix::fs::symlink(&target, dev.join("pts/ptmx")).unwrap();
        // Reading /dev/console would wait for input: compare inodes instead.
        let script = format!(
            "tty; [ \"$(stat -L -c %d:%i /dev/console)\" = \"$(stat -L -c %d:%i {CORE_PATTERN})\" ] \
             && echo CONSOLE-IS-CORE-PATTERN; {}; \
             grep -cE 'core_pattern|console-target' /proc/self/mountinfo; true",
            try_rewrite(CORE_PATTERN),
        );
        let b = env.bundle(|c| {
            use_rootfs(c, &rootfs);
            drop_mount(c, "/dev");
            if !with_devpts {
                drop_mount(c, "/dev/pts");
            }
            drop_mount(c, "/dev/shm");
            drop_mount(c, "/dev/mqueue");
            c["process"]["terminal"] = json!(true);
            set_args(c, &["sh", "-c", &script]);
        });
        let id = env.id();
        // `script` gives the runtime a terminal of its own, as a shell would.
        let cmd = format!(
            "{} --root {} run --bundle {} {id}",
            runtime(),
            env.root.display(),
            b.display()
        );
        let mut c = std::process::Command::new("script");
        c.args(["-qec", &cmd, "/dev/null"])
            .stdin(std::process::Stdio::null());
        let o = run_piped(c, None, CMD_TIMEOUT);
        println!("console -> {target}, devpts: {with_devpts}\n{o}");
        assert!(!o.stdout.contains("WROTE"), "{target} was writable:\n{o}");
        assert!(
            !o.stdout.contains("CONSOLE-IS"),
            "/dev/console is {target}:\n{o}"
        );
        if o.stdout.contains("/dev/pts") {
            let last = o.stdout.lines().last().unwrap_or("").trim();
            assert_eq!(last, "0", "a mount of {target} in the container:\n{o}");
        } else if !is_control() {
            // `script` hands on the runtime's exit code and its output.
            assert_eq!(o.code, 1, "{o}");
            assert!(o.stdout.contains("/dev/console is a symlink"), "{o}");
        }
        core.assert_unchanged(&o);
        assert_eq!(std::fs::read_to_string(&host_file).unwrap(), "host file\n");
        assert!(host_mounts_touching(env.dir.to_str().unwrap()).is_empty());
    }
    env.finish();
}

/// CVE-2025-52881: a sysctl write redirected by a mount. The config
/// bind-mounts a host file of the test over /proc/sys/kernel/domainname and
/// sets that sysctl: the runtime must write the real procfs file or refuse,
/// never the host file.
#[test]
fn sysctl_redirected_by_mount() {
    let env = Env::new("cve52881");
    let host_file = env.subdir("host").join("fake-domainname");
    std::fs::write(&host_file, "untouched\n").unwrap();
    let host_dir = env.subdir("hostsys");
    std::fs::write(host_dir.join("marker"), "untouched\n").unwrap();
    // Over the sysctl file itself, and over the whole of /proc/sys.
    for (dest, src) in [
        ("/proc/sys/kernel/domainname", host_file.clone()),
        ("/proc/sys", host_dir.clone()),
    ] {
        let o = env.run_with(|c| {
            c["mounts"].as_array_mut().unwrap().push(json!({
                "destination": dest, "type": "bind", "source": src, "options": ["rbind", "rw"]
            }));
            c["linux"]["sysctl"] = json!({"kernel.domainname": "attacker"});
            set_args(c, &["sh", "-c", "cat /proc/sys/kernel/domainname; true"]);
        });
        println!("{dest}:\n{o}");
        assert_eq!(read_lossy(&host_file), "untouched\n", "{o}");
        assert_eq!(read_lossy(&host_dir.join("marker")), "untouched\n", "{o}");
        assert_eq!(std::fs::read_dir(&host_dir).unwrap().count(), 1, "{o}");
        assert!(!read_lossy(Path::new("/proc/sys/kernel/domainname")).contains("attacker"));
        if o.code != 0 {
            assert_eq!(o.code, 1, "{o}");
        }
    }
    env.finish();
}

/// CVE-2025-52881 through the image: rootfs /proc is a symlink to a host
/// directory. Mounting procfs there, then writing sysctls through it, must
/// not touch the host directory.
#[test]
fn proc_symlink_in_rootfs() {
    let env = Env::new("procsym");
    let host_dir = env.subdir("hostproc");
    let rootfs = copy_fixture_rootfs(&env);
    std::fs::remove_dir_all(rootfs.join("proc")).unwrap();
    std::os::unix::fs::symlink(&host_dir, rootfs.join("proc")).unwrap();
    let o = env.run_with(|c| {
        use_rootfs(c, &rootfs);
        c["linux"]["sysctl"] = json!({"kernel.domainname": "attacker"});
        set_args(c, &["sh", "-c", "cat /proc/sys/kernel/domainname; true"]);
    });
    println!("{o}");
    assert_eq!(std::fs::read_dir(&host_dir).unwrap().count(), 0, "{o}");
    assert!(
        host_mounts_touching(env.dir.to_str().unwrap()).is_empty(),
        "{o}"
    );
    assert!(!read_lossy(Path::new("/proc/sys/kernel/domainname")).contains("attacker"));
    if o.code != 0 {
        assert_refused_naming(&o, "/proc is a symlink");
    }
    env.finish();
}

/// Mount destinations that lead out of the rootfs through symlinks in the
/// image: absolute (rootfs/mnt -> /etc-like host dir) and with `..`
/// components, as the destination and inside the symlink.
#[test]
fn mount_destination_symlinks_out() {
    let env = Env::new("mntsym");
    let host = env.subdir("hostetc");
    std::fs::write(host.join("passwd"), "host\n").unwrap();
    let rootfs = copy_fixture_rootfs(&env);
    let up = "../".repeat(20);
    std::os::unix::fs::symlink(&host, rootfs.join("abs")).unwrap();
    std::os::unix::fs::symlink(format!("{up}{}", host.display()), rootfs.join("rel")).unwrap();
    std::fs::create_dir_all(rootfs.join("deep/er")).unwrap();
    std::os::unix::fs::symlink(format!("../..{}", host.display()), rootfs.join("deep/er/x"))
        .unwrap();
    let dests = [
        "/abs".to_string(),
        "/abs/sub".to_string(),
        "/rel/passwd".to_string(),
        format!("/{up}{}", host.join("dd").display()),
        format!("/deep/../{up}{}", host.join("ee").display()),
        "/deep/er/x/ff".to_string(),
    ];
    let src = env.subdir("src");
    std::fs::write(src.join("payload"), "payload\n").unwrap();
    for d in &dests {
        let o = env.run_with(|c| {
            use_rootfs(c, &rootfs);
            c["mounts"].as_array_mut().unwrap().push(json!({
                "destination": d, "type": "bind", "source": src.join("payload"), "options": ["bind"]
            }));
            set_args(c, &["sh", "-c", "echo inside > /abs/w 2>/dev/null; true"]);
        });
        println!("{d}:\n{o}");
        let names: Vec<_> = std::fs::read_dir(&host)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            names,
            vec![std::ffi::OsString::from("passwd")],
            "{d}: host dir changed:\n{o}"
        );
        assert_eq!(read_lossy(&host.join("passwd")), "host\n", "{d}:\n{o}");
        assert!(
            host_mounts_touching(host.to_str().unwrap()).is_empty(),
            "{d}:\n{o}"
        );
        if o.code != 0 {
            assert_eq!(o.code, 1, "{d}:\n{o}");
        }
    }
    env.finish();
}
