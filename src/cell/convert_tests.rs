//! Tests for conversion to an OCI spec and bundle (module `convert::tests`).

use std::path::{Path, PathBuf};

use oci_spec::runtime::{Capability, LinuxNamespaceType, Mount, Spec};
use serde_json::{Value, json};

use crate::cell::{Cell, CellError, ConvertOptions, Namespace, to_oci_spec, write_bundle};

fn cell_with(patch: impl FnOnce(&mut Value)) -> Cell {
    let mut doc = json!({"apiVersion": "cellos.io/v1", "kind": "ExecutionCell",
        "spec": {"id": "build-42", "authority": {}, "lifetime": {"ttlSeconds": 60},
                 "run": {"argv": ["/bin/sh", "-c", "make test"], "workingDirectory": "/work"}}});
    patch(&mut doc);
    Cell::from_json(&doc.to_string()).unwrap()
}

fn cell() -> Cell {
    cell_with(|_| {})
}

fn spec_of(cell: &Cell) -> Spec {
    to_oci_spec(cell, &ConvertOptions::default()).unwrap()
}

fn mounts(spec: &Spec) -> &[Mount] {
    spec.mounts().as_deref().unwrap()
}

fn destinations(spec: &Spec) -> Vec<PathBuf> {
    mounts(spec)
        .iter()
        .map(|m| m.destination().clone())
        .collect()
}

fn namespaces(spec: &Spec) -> Vec<LinuxNamespaceType> {
    let linux = spec.linux().as_ref().unwrap();
    linux
        .namespaces()
        .iter()
        .flatten()
        .map(|n| n.typ())
        .collect()
}

/// Removes a temporary directory even when the test panics.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("cell-{tag}-{}-{nanos}", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn process_and_root() {
    let spec = spec_of(&cell());
    assert_eq!(spec.version(), crate::OCI_VERSION);
    let root = spec.root().as_ref().unwrap();
    assert_eq!(root.path(), Path::new("rootfs"));
    assert_eq!(root.readonly(), Some(true));
    let p = spec.process().as_ref().unwrap();
    assert_eq!(p.cwd(), Path::new("/work"));
    assert_eq!(p.args().as_deref().unwrap(), ["/bin/sh", "-c", "make test"]);
    assert_eq!(p.terminal(), Some(false));
    assert_eq!(p.no_new_privileges(), Some(true));
    assert_eq!((p.user().uid(), p.user().gid()), (0, 0));
    let env = p.env().as_deref().unwrap();
    assert!(env.iter().any(|e| e.starts_with("PATH=/usr/local/sbin:")));
    assert!(env.contains(&"HOME=/work".to_string()));
    let rl = p.rlimits().as_deref().unwrap();
    assert_eq!((rl.len(), rl[0].soft(), rl[0].hard()), (1, 1024, 1024));
    assert_eq!(spec.hostname().as_deref(), Some("cell"));
    assert!(spec.annotations().is_none());
    let linux = spec.linux().as_ref().unwrap();
    assert_eq!(linux.masked_paths().as_ref().unwrap().len(), 10);
    assert!(linux.resources().is_none());
    assert!(linux.devices().is_none());
}

#[test]
fn cwd_defaults_to_root_without_workdir() {
    let c = cell_with(|d| {
        d["spec"]["run"]
            .as_object_mut()
            .unwrap()
            .remove("workingDirectory");
    });
    let opts = ConvertOptions {
        namespaces: vec![Namespace::Pid],
        cgroups_path: Some("/cellos/build-42".into()),
        ..Default::default()
    };
    let spec = to_oci_spec(&c, &opts).unwrap();
    assert_eq!(spec.process().as_ref().unwrap().cwd(), Path::new("/"));
    let linux = spec.linux().as_ref().unwrap();
    assert_eq!(
        linux.cgroups_path().as_deref(),
        Some(Path::new("/cellos/build-42"))
    );
    assert!(spec.hostname().is_none(), "no uts namespace, no hostname");
    // Without a net namespace sysfs cannot be mounted: host /sys is bound.
    let sys = mounts(&spec)
        .iter()
        .find(|m| m.destination() == Path::new("/sys"));
    assert_eq!(sys.unwrap().typ().as_deref(), Some("bind"));
}

#[test]
fn workdir_tmpfs_is_last_mount() {
    let c = cell_with(|d| {
        d["spec"]["authority"]["writablePaths"] = json!([std::env::temp_dir()]);
        d["spec"]["run"]["user"] = json!({"uid": 1000, "gid": 1000});
    });
    let spec = spec_of(&c);
    let last = mounts(&spec).last().unwrap();
    assert_eq!(last.destination(), Path::new("/work"));
    assert_eq!(last.typ().as_deref(), Some("tmpfs"));
    let opts = last.options().as_deref().unwrap();
    assert!(!opts.iter().any(|o| o == "noexec"));
    assert!(opts.iter().any(|o| o == "uid=1000"));
}

#[test]
fn host_secrets_are_not_mounted() {
    let spec = spec_of(&cell());
    for m in mounts(&spec) {
        let paths = [Some(m.destination().clone()), m.source().clone()];
        for p in paths.iter().flatten() {
            for bad in [
                "/etc/shadow",
                "/etc/gshadow",
                "/etc/ssh",
                "/home",
                "/root",
                "/var",
                "/run",
            ] {
                assert!(!p.starts_with(bad), "{} mounted: {m:?}", p.display());
            }
        }
        if m.typ().as_deref() == Some("bind") {
            assert_ne!(
                m.source().as_deref(),
                Some(Path::new("/etc")),
                "host /etc bound"
            );
        }
    }
    let dests = destinations(&spec);
    for want in [
        "/proc",
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/mqueue",
        "/sys",
        "/etc",
        "/tmp",
    ] {
        assert!(dests.contains(&PathBuf::from(want)), "missing {want}");
    }
    let etc = dests.iter().position(|d| d == Path::new("/etc")).unwrap();
    let passwd = dests.iter().position(|d| d == Path::new("/etc/passwd"));
    assert!(
        passwd.is_none_or(|p| p > etc),
        "/etc/passwd must come after the /etc tmpfs"
    );
}

#[test]
fn empty_authority_has_no_capabilities_and_own_network() {
    let spec = spec_of(&cell());
    let caps = spec
        .process()
        .as_ref()
        .unwrap()
        .capabilities()
        .as_ref()
        .unwrap();
    for set in [
        caps.bounding(),
        caps.effective(),
        caps.inheritable(),
        caps.permitted(),
        caps.ambient(),
    ] {
        assert_eq!(set.as_ref().map(|s| s.len()), Some(0));
    }
    assert!(namespaces(&spec).contains(&LinuxNamespaceType::Network));
    let sys = mounts(&spec)
        .iter()
        .find(|m| m.destination() == Path::new("/sys"));
    assert_eq!(sys.unwrap().typ().as_deref(), Some("sysfs"));
}

#[test]
fn granted_capabilities_and_network() {
    let c = cell_with(|d| {
        d["spec"]["authority"] = json!({"network": true, "capabilities": ["CAP_NET_BIND_SERVICE"]});
    });
    let spec = spec_of(&c);
    assert!(!namespaces(&spec).contains(&LinuxNamespaceType::Network));
    let caps = spec
        .process()
        .as_ref()
        .unwrap()
        .capabilities()
        .clone()
        .unwrap();
    assert!(
        caps.bounding()
            .as_ref()
            .unwrap()
            .contains(&Capability::NetBindService)
    );
    assert!(
        caps.permitted()
            .as_ref()
            .unwrap()
            .contains(&Capability::NetBindService)
    );
    assert!(
        caps.ambient().as_ref().unwrap().is_empty(),
        "root needs no ambient caps"
    );

    let c = cell_with(|d| {
        d["spec"]["authority"]["capabilities"] = json!(["CAP_CHOWN"]);
        d["spec"]["run"]["user"] = json!({"uid": 1000, "gid": 1000});
    });
    let caps = spec_of(&c)
        .process()
        .as_ref()
        .unwrap()
        .capabilities()
        .clone()
        .unwrap();
    assert!(
        caps.ambient()
            .as_ref()
            .unwrap()
            .contains(&Capability::Chown)
    );
    assert!(
        caps.inheritable()
            .as_ref()
            .unwrap()
            .contains(&Capability::Chown)
    );
}

#[test]
fn grants_resources_and_user_namespace() {
    let tmp = std::env::temp_dir();
    let c = cell_with(|d| {
        d["spec"]["authority"]["readOnlyPaths"] = json!([tmp]);
        d["spec"]["resources"] = json!({"memoryBytes": 268435456, "cpus": 1.5, "pids": 100});
    });
    let mut opts = ConvertOptions::default();
    opts.namespaces.push(Namespace::User);
    let spec = to_oci_spec(&c, &opts).unwrap();
    let grant = mounts(&spec)
        .iter()
        .find(|m| m.destination() == tmp.as_path() && m.typ().as_deref() == Some("bind"));
    assert!(
        grant
            .unwrap()
            .options()
            .as_ref()
            .unwrap()
            .contains(&"ro".to_string())
    );
    let linux = spec.linux().as_ref().unwrap();
    let r = linux.resources().as_ref().unwrap();
    assert_eq!(r.memory().unwrap().limit(), Some(268435456));
    assert_eq!(
        (
            r.cpu().as_ref().unwrap().quota(),
            r.cpu().as_ref().unwrap().period()
        ),
        (Some(150000), Some(100000))
    );
    assert_eq!(r.pids().unwrap().limit(), 100);
    assert_eq!(linux.uid_mappings().as_ref().unwrap()[0].size(), u32::MAX);
    assert!(namespaces(&spec).contains(&LinuxNamespaceType::User));
}

#[test]
fn convert_time_errors() {
    let c = cell_with(|d| {
        d["spec"]["authority"]["writablePaths"] = json!(["/nonexistent/cellos-test"])
    });
    let msg = to_oci_spec(&c, &ConvertOptions::default())
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        "spec.authority.writablePaths[0] \"/nonexistent/cellos-test\" cannot be used: does not exist on the host"
    );
    let c = cell_with(|d| d["spec"]["rootfs"] = json!("/nonexistent/cellos-root"));
    let msg = to_oci_spec(&c, &ConvertOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with("spec.rootfs \"/nonexistent/cellos-root\""),
        "{msg}"
    );
    let opts = ConvertOptions {
        namespaces: vec![Namespace::Pid, Namespace::Net],
        cgroups_path: None,
        ..Default::default()
    };
    let err = to_oci_spec(&cell(), &opts).unwrap_err();
    assert!(matches!(err, CellError::NeedsMountNamespace));
    assert_eq!(
        err.to_string(),
        "CELLOS_SUBPROCESS_UNSHARE must include \"mnt\" when spec.run.workingDirectory is set"
    );
}

#[test]
fn custom_rootfs_has_no_host_binds() {
    let root = TempDir::new("root");
    let c = cell_with(|d| d["spec"]["rootfs"] = json!(root.0));
    let spec = spec_of(&c);
    assert_eq!(spec.root().as_ref().unwrap().path(), &root.0);
    let dests = destinations(&spec);
    assert!(
        !dests
            .iter()
            .any(|d| d.starts_with("/usr") || d.starts_with("/etc"))
    );
    assert!(dests.contains(&PathBuf::from("/tmp")) && dests.contains(&PathBuf::from("/proc")));
    assert_eq!(dests.last().unwrap(), Path::new("/work"));
}

#[test]
fn namespace_lists() {
    use Namespace::*;
    assert_eq!(
        Namespace::parse_list("mnt,pid,net").unwrap(),
        [Mount, Pid, Net]
    );
    assert_eq!(
        Namespace::parse_list(" mnt,,pid ,mnt,").unwrap(),
        [Mount, Pid]
    );
    assert_eq!(Namespace::parse_list("").unwrap(), []);
    assert_eq!(
        Namespace::parse_list("ipc,uts,user,cgroup").unwrap(),
        [Ipc, Uts, User, Cgroup]
    );
    let msg = Namespace::parse_list("mnt,bogus").unwrap_err().to_string();
    assert!(msg.starts_with("unknown namespace \"bogus\""), "{msg}");
    assert_eq!(
        ConvertOptions::default().namespaces,
        [Mount, Pid, Net, Ipc, Uts, Cgroup]
    );
}

/// The host view's /etc tmpfs is made read-only once the host files are
/// bound into it; a cell with its own rootfs has a read-only root anyway.
#[test]
fn host_view_etc_is_read_only() {
    let ro = |spec: &Spec| {
        spec.linux()
            .as_ref()
            .unwrap()
            .readonly_paths()
            .clone()
            .unwrap_or_default()
    };
    assert!(ro(&spec_of(&cell())).contains(&"/etc".to_string()));
    let dir = TempDir::new("etc-ro");
    let own = cell_with(|d| d["spec"]["rootfs"] = json!(dir.0));
    assert!(!ro(&spec_of(&own)).contains(&"/etc".to_string()));
}

/// In a user namespace proc and mqueue can only be mounted when the pid /
/// ipc namespace is the cell's own too; otherwise the host's are bound.
#[test]
fn user_namespace_without_pid_or_ipc_binds_proc() {
    use Namespace::*;
    let typ_of = |spec: &Spec, dest: &str| {
        mounts(spec)
            .iter()
            .find(|m| m.destination() == Path::new(dest))
            .map(|m| m.typ().clone().unwrap_or_default())
    };
    let with = |ns: Vec<Namespace>| {
        let opts = ConvertOptions {
            namespaces: ns,
            cgroups_path: None,
            ..Default::default()
        };
        to_oci_spec(&cell(), &opts).unwrap()
    };
    let own = with(vec![Mount, Pid, Ipc, User]);
    assert_eq!(typ_of(&own, "/proc").as_deref(), Some("proc"));
    assert_eq!(typ_of(&own, "/dev/mqueue").as_deref(), Some("mqueue"));
    let shared = with(vec![Mount, User]);
    assert_eq!(typ_of(&shared, "/proc").as_deref(), Some("bind"));
    assert_ne!(typ_of(&shared, "/dev/mqueue").as_deref(), Some("mqueue"));
    // Without a user namespace the kernel lets root mount them anyway.
    let plain = with(vec![Mount]);
    assert_eq!(typ_of(&plain, "/proc").as_deref(), Some("proc"));
    assert_eq!(typ_of(&plain, "/dev/mqueue").as_deref(), Some("mqueue"));
}

#[test]
fn spec_json_round_trip() {
    let spec = spec_of(&cell());
    let text = serde_json::to_string(&spec).unwrap();
    let back: Spec = serde_json::from_str(&text).unwrap();
    assert_eq!(back, spec);
    assert!(!text.contains("youki"), "builder defaults leaked: {text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["ociVersion"], crate::OCI_VERSION);
    assert_eq!(
        v["mounts"].as_array().unwrap().last().unwrap()["destination"],
        "/work"
    );
}

#[test]
fn bundle_on_disk() {
    let tmp = TempDir::new("bundle");
    let dir = tmp.0.join("b");
    write_bundle(&cell(), &ConvertOptions::default(), &dir).unwrap();
    let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
    let spec: Spec = serde_json::from_str(&text).unwrap();
    assert_eq!(spec.process().as_ref().unwrap().cwd(), Path::new("/work"));
    let rootfs = dir.join("rootfs");
    for name in ["bin", "sbin", "lib", "lib64"] {
        let host = Path::new("/").join(name);
        match std::fs::symlink_metadata(&host) {
            Ok(m) if m.file_type().is_symlink() => {
                let want = std::fs::read_link(&host).unwrap();
                assert_eq!(std::fs::read_link(rootfs.join(name)).unwrap(), want);
            }
            Ok(_) => assert!(destinations(&spec).contains(&host), "{name} not bound"),
            Err(_) => {}
        }
    }
    assert!(rootfs.join("work").is_dir() && rootfs.join("proc").is_dir());
    let err = write_bundle(&cell(), &ConvertOptions::default(), &dir).unwrap_err();
    assert!(
        err.to_string().contains("config.json already exists"),
        "{err}"
    );
    let orphan = tmp.0.join("no/such/parent");
    assert!(write_bundle(&cell(), &ConvertOptions::default(), &orphan).is_err());
}

#[test]
fn read_only_binds_are_recursive_and_proc_hides_the_host() {
    let c = cell_with(|d| d["spec"]["authority"]["network"] = json!(true));
    let spec = spec_of(&c);
    for m in mounts(&spec) {
        let opts = m.options().clone().unwrap_or_default();
        if opts.iter().any(|o| o == "ro") && m.typ().as_deref() == Some("bind") {
            assert!(
                opts.iter().any(|o| o == "rro"),
                "{:?} is read-only on its top mount only: {opts:?}",
                m.destination()
            );
        }
    }
    let proc_opts = |ns: Vec<Namespace>, gid: u32| {
        let c = cell_with(|d| d["spec"]["run"]["user"] = json!({"uid": 0, "gid": gid}));
        let opts = ConvertOptions {
            namespaces: ns,
            ..Default::default()
        };
        let spec = to_oci_spec(&c, &opts).unwrap();
        let proc = mounts(&spec)
            .iter()
            .find(|m| m.destination() == Path::new("/proc"))
            .unwrap()
            .clone();
        proc.options().clone().unwrap_or_default()
    };
    let own = proc_opts(vec![Namespace::Mount, Namespace::Pid], 0);
    assert!(!own.iter().any(|o| o.starts_with("hidepid")), "{own:?}");
    let shared = proc_opts(vec![Namespace::Mount], 0);
    assert!(
        shared.contains(&"hidepid=invisible".to_string()),
        "{shared:?}"
    );
    assert!(shared.contains(&"gid=65534".to_string()), "{shared:?}");
    // The exempt group is never the cell's own.
    let nogroup = proc_opts(vec![Namespace::Mount], 65534);
    assert!(nogroup.contains(&"gid=65533".to_string()), "{nogroup:?}");
}

#[test]
fn the_argv0_policy_travels_as_an_annotation() {
    use crate::cell::{ARGV0_ALLOW_ANNOTATION, Argv0Allow};
    assert_eq!(spec_of(&cell()).annotations(), &None);
    let policy = Argv0Allow::new(vec!["/usr/bin".into(), "/opt/tools".into()]);
    let opts = ConvertOptions {
        argv0_allow: Some(policy.clone()),
        ..Default::default()
    };
    let spec = to_oci_spec(&cell(), &opts).unwrap();
    let ann = spec.annotations().as_ref().unwrap();
    assert_eq!(ann.len(), 1);
    assert_eq!(ann[ARGV0_ALLOW_ANNOTATION], r#"["/usr/bin","/opt/tools"]"#);
    assert_eq!(Argv0Allow::from_spec(&spec).unwrap(), Some(policy));
}

#[test]
fn grants_through_symlinks_are_refused() {
    let tmp = TempDir::new("symgrant");
    let real = tmp.0.join("real");
    std::fs::create_dir(&real).unwrap();
    std::os::unix::fs::symlink(&real, tmp.0.join("link")).unwrap();
    for path in [tmp.0.join("link"), tmp.0.join("link").join("x")] {
        if path.ends_with("x") {
            std::fs::create_dir_all(real.join("x")).unwrap();
        }
        let c = cell_with(|d| d["spec"]["authority"]["writablePaths"] = json!([path]));
        let e = to_oci_spec(&c, &ConvertOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("writablePaths[0]") && e.contains("symlink"),
            "{e}"
        );
    }
    let c = cell_with(|d| d["spec"]["authority"]["readOnlyPaths"] = json!([real]));
    to_oci_spec(&c, &ConvertOptions::default()).unwrap();
}

#[test]
fn mountinfo_escapes_are_undone() {
    use crate::cell::mounts::unescape_mountinfo;
    assert_eq!(unescape_mountinfo("/mnt/a\\040dir"), "/mnt/a dir");
    assert_eq!(unescape_mountinfo("/x\\134y\\011z"), "/x\\y\tz");
    assert_eq!(unescape_mountinfo("/plain\\0"), "/plain\\0");
}

#[test]
fn pinned_grants_are_bound_from_their_copy() {
    let tmp = TempDir::new("pinned");
    let grant = tmp.0.join("grant");
    std::fs::create_dir(&grant).unwrap();
    let c = cell_with(|d| d["spec"]["authority"]["writablePaths"] = json!([grant]));
    let pinned = PathBuf::from("/run/cellos/@cells/x/grants/0");
    let opts = ConvertOptions {
        bind_sources: [(grant.clone(), pinned.clone())].into_iter().collect(),
        ..Default::default()
    };
    let spec = to_oci_spec(&c, &opts).unwrap();
    let m = mounts(&spec)
        .iter()
        .find(|m| m.destination() == &grant)
        .unwrap();
    assert_eq!(m.source().as_deref(), Some(pinned.as_path()));
}

#[test]
fn set_id_bits_are_filtered() {
    use oci_spec::runtime::{LinuxSeccompAction, LinuxSeccompOperator};
    let spec = spec_of(&cell());
    let seccomp = spec.linux().as_ref().unwrap().seccomp().clone().unwrap();
    assert_eq!(seccomp.default_action(), LinuxSeccompAction::ScmpActAllow);
    let rules = seccomp.syscalls().clone().unwrap();
    for (name, index) in [
        ("chmod", 1),
        ("fchmodat", 2),
        ("fchmodat2", 2),
        ("openat", 3),
        ("mknodat", 2),
    ] {
        for bit in [0o4000u64, 0o2000] {
            let hit = rules.iter().any(|r| {
                r.names().iter().any(|n| n == name)
                    && r.errno_ret() == Some(libc::EPERM as u32)
                    && r.args().as_ref().is_some_and(|a| {
                        a.len() == 1
                            && a[0].index() == index
                            && a[0].value() == bit
                            && a[0].op() == LinuxSeccompOperator::ScmpCmpMaskedEq
                    })
            });
            assert!(hit, "{name} with {bit:o} is not refused");
        }
    }
    let openat2 = rules.iter().find(|r| r.names() == &["openat2"]).unwrap();
    assert_eq!(openat2.errno_ret(), Some(libc::ENOSYS as u32));
    assert!(openat2.args().is_none());
}
