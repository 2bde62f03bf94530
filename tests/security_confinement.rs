//! The confinement a config asks for really holds inside the container:
//! read-only and masked paths, the devices cgroup, capabilities and
//! noNewPrivileges. Run with `CELLOS_TEST_RUNTIME=/usr/sbin/runc` as a control.

mod support;

use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use support::*;

/// Every capability this host grants (its bounding set lacks CAP_SYS_RESOURCE):
/// what confines the process must be the paths, not missing capabilities.
fn host_caps() -> Vec<String> {
    let names = [
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
    ];
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let bnd = u64::from_str_radix(status_field(&status, "CapBnd").unwrap(), 16).unwrap();
    names
        .iter()
        .enumerate()
        .filter(|(i, _)| bnd & (1 << i) != 0)
        .map(|(_, n)| format!("CAP_{n}"))
        .collect()
}

fn with_caps(c: &mut serde_json::Value, caps: &[String]) {
    c["process"]["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps});
}

/// Every readonlyPaths entry of the fixture is a read-only mount, and
/// writable files below them (with every capability) fail with EROFS;
/// every maskedPaths entry that exists reads empty: /dev/null or an empty
/// read-only tmpfs.
#[test]
fn fixture_readonly_and_masked_paths() {
    require_root!();
    let env = Env::new("romask");
    let cfg = base_config();
    let ro: Vec<String> = cfg["linux"]["readonlyPaths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let masked: Vec<String> = cfg["linux"]["maskedPaths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let mut script = String::new();
    for p in &ro {
        // The mount point's options (field 6 of mountinfo) start with ro.
        script.push_str(&format!(
            "[ -e {p} ] && echo \"ro {p} $(awk '$5 == \"{p}\" {{print $6}}' /proc/self/mountinfo | tail -n1)\"; "
        ));
    }
    // Writable files below them. sysrq-trigger gets "h" (help, harmless)
    // should it ever be writable.
    for f in [
        "/proc/sys/kernel/domainname",
        "/proc/sys/kernel/hostname",
        "/proc/irq/default_smp_affinity",
    ] {
        script.push_str(&format!(
            "[ -e {f} ] && {{ v=$(cat {f}); echo \"$v\" > {f} && echo WROTE {f}; }}; "
        ));
    }
    script.push_str("echo h > /proc/sysrq-trigger && echo WROTE sysrq; ");
    for p in &masked {
        script.push_str(&format!(
            "if [ -d {p} ]; then echo \"masked {p} $(ls -A {p} | wc -l) $(touch {p}/x 2>&1 || echo refused)\"; \
             elif [ -e {p} ]; then echo \"masked {p} $(wc -c < {p}) $(stat -c %t:%T {p})\"; fi; "
        ));
    }
    script.push_str("true");
    let o = env.run_with(|c| {
        with_caps(c, &host_caps());
        set_args(c, &["sh", "-c", &script]);
    });
    o.ok();
    println!("{o}");
    assert!(
        !o.stdout.contains("WROTE"),
        "a read-only path was writable:\n{o}"
    );
    for p in &ro {
        let line = o
            .stdout
            .lines()
            .find(|l| l.starts_with(&format!("ro {p} ")));
        if let Some(line) = line {
            let opts = line.rsplit(' ').next().unwrap();
            assert!(
                opts.split(',').next() == Some("ro"),
                "{p} is not a read-only mount:\n{o}"
            );
        } else {
            println!("{p} does not exist on this kernel");
        }
    }
    let mut seen = 0;
    for l in o.stdout.lines().filter(|l| l.starts_with("masked ")) {
        seen += 1;
        let f: Vec<&str> = l.split(' ').collect();
        assert_eq!(f[2], "0", "{} is not empty:\n{o}", f[1]);
        // A file: /dev/null (1:3). A directory: empty and read-only.
        assert!(
            l.ends_with(" 1:3") || l.contains("Read-only"),
            "{} not masked:\n{o}",
            f[1]
        );
    }
    assert!(seen >= 3, "too few masked paths exist to tell:\n{o}");
    assert!(o.stderr.contains("Read-only file system"), "{o}");
    env.finish();
}

/// The devices cgroup denies what the fixture denies (everything not
/// listed): with CAP_MKNOD, a node for a host block device can be made
/// (runc's default rules allow mknod of any node, and so do ours) but not
/// opened, for reading or for writing. The device is /dev/loop0 (7:0),
/// which the host itself can open (this host refuses even its root the
/// root disk); allowing read access to it proves the test can tell.
#[test]
fn devices_cgroup_blocks_block_devices() {
    require_root!();
    let env = Env::new("devices");
    assert!(
        std::fs::File::open("/dev/loop0").is_ok(),
        "the host cannot open /dev/loop0"
    );
    // Opening for writing writes nothing: never a byte to the device.
    let script = "mknod /dev/disk b 7 0 || echo MKNOD-REFUSED; \
         ( exec 3< /dev/disk ) && echo OPENED-FOR-READ; \
         ( exec 3> /dev/disk ) && echo OPENED-FOR-WRITE; true";
    let run = |allow: Option<serde_json::Value>| {
        let o = env.run_with(|c| {
            with_caps(c, &host_caps());
            if let Some(rule) = allow {
                c["linux"]["resources"]["devices"]
                    .as_array_mut()
                    .unwrap()
                    .push(rule);
            }
            set_args(c, &["sh", "-c", script]);
        });
        println!("{o}");
        o.ok();
        o
    };
    let o = run(None);
    assert!(!o.stdout.contains("MKNOD-REFUSED"), "{o}");
    assert!(!o.stdout.contains("OPENED-FOR-READ"), "{o}");
    assert!(!o.stdout.contains("OPENED-FOR-WRITE"), "{o}");
    // Read allowed, write still not.
    let o = run(Some(
        json!({"allow": true, "type": "b", "major": 7, "minor": 0, "access": "r"}),
    ));
    assert!(o.stdout.contains("OPENED-FOR-READ"), "{o}");
    assert!(!o.stdout.contains("OPENED-FOR-WRITE"), "{o}");
    env.finish();
}

/// Each capability set exactly as configured. As uid 1000 (no root
/// privilege at exec) the kernel keeps them as set: permitted and
/// effective come from the ambient set.
#[test]
fn capabilities_exactly_as_configured() {
    require_root!();
    let env = Env::new("capsets");
    let o = env.run_with(|c| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        c["process"]["capabilities"] = json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_NET_RAW"],
            "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
            "effective": ["CAP_CHOWN", "CAP_KILL"],
            "inheritable": ["CAP_KILL", "CAP_NET_RAW"],
            "ambient": ["CAP_KILL"]
        });
        set_args(c, &["grep", "^Cap", "/proc/self/status"]);
    });
    o.ok();
    // CHOWN=0 KILL=5 SETUID=7 NET_RAW=13.
    for (k, v) in [
        ("CapBnd", "00000000000020a1"),
        ("CapInh", "0000000000002020"),
        ("CapPrm", "0000000000000020"),
        ("CapEff", "0000000000000020"),
        ("CapAmb", "0000000000000020"),
    ] {
        assert_eq!(status_field(&o.stdout, k), Some(v), "{k}:\n{o}");
    }
    // As root, the kernel grants the bounding set at exec, nothing beyond it.
    let o = env.run_with(|c| {
        c["process"]["capabilities"] = json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL"],
            "permitted": ["CAP_CHOWN", "CAP_KILL"],
            "effective": ["CAP_CHOWN", "CAP_KILL"],
            "inheritable": [],
            "ambient": []
        });
        set_args(c, &["grep", "^Cap", "/proc/self/status"]);
    });
    o.ok();
    for (k, v) in [
        ("CapBnd", "0000000000000021"),
        ("CapInh", "0000000000000000"),
        ("CapPrm", "0000000000000021"),
        ("CapEff", "0000000000000021"),
        ("CapAmb", "0000000000000000"),
    ] {
        assert_eq!(status_field(&o.stdout, k), Some(v), "{k}:\n{o}");
    }
    env.finish();
}

/// noNewPrivileges holds across a setuid-root binary of the image: run as
/// uid 1000, its euid stays 1000. With noNewPrivileges false the same
/// binary becomes euid 0, which proves the test can tell.
#[test]
fn no_new_privileges_across_setuid() {
    require_root!();
    let env = Env::new("nnpsuid");
    let rootfs = copy_fixture_rootfs(&env);
    let suid = rootfs.join("bin/suid-ids");
    std::fs::copy(c_helper(&env, "ids"), &suid).unwrap();
    std::os::unix::fs::chown(&suid, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(&suid, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let run = |nnp: bool| {
        env.run_with(|c| {
            c["root"] = json!({"path": rootfs, "readonly": true});
            c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
            c["process"]["noNewPrivileges"] = json!(nnp);
            set_args(c, &["/bin/suid-ids"]);
        })
    };
    let o = run(true);
    o.ok();
    assert_eq!(o.out(), "uid=1000 euid=1000", "{o}");
    let o = run(false);
    o.ok();
    assert_eq!(o.out(), "uid=1000 euid=0", "{o}");
    env.finish();
}
