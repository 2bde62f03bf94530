//! Reading a bundle before libcontainer does: bad input gets one clear line
//! here, and the config is adjusted where libcontainer needs it (our
//! cgroupsPath default, seccomp with noNewPrivileges false, podman's
//! tmpcopyup). No libcontainer types: engine.rs stays the only door.

use crate::error::{Error, Result};
use crate::runtime::tmpcopyup::Staging;
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A bundle ready for libcontainer.
pub struct Prepared {
    /// The directory whose config.json libcontainer runs: the caller's
    /// bundle, or our scratch dir when the config had to be adjusted.
    pub config_dir: PathBuf,
    pub origin: Origin,
    pub staging: Staging,
    /// The config as libcontainer will read it from `config_dir`.
    pub spec: Spec,
}

/// What we remember beside libcontainer's state: the bundle as the caller
/// named it and the resolved rootfs, both shown by `state`.
#[derive(Debug, Serialize, Deserialize, Default)]
pub struct Origin {
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// The config had no HOME and we set one for its user: `exec` must not
    /// hand that HOME to a process running as another user.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub home_set: bool,
    /// The init's start time (field 22 of /proc/<pid>/stat) when it was
    /// created: a process with its pid and another start time is not it.
    #[serde(default)]
    pub init_start: Option<u64>,
    /// `create --no-new-keyring`, which `exec` follows too.
    #[serde(default)]
    pub no_new_keyring: bool,
}

/// libcontainer reports a missing cwd only as "failed to unix syscall";
/// name it instead. A cwd below a mount destination may appear later.
fn check_cwd(spec: &Spec, rootfs: &Path, config: &Path) -> Result<()> {
    let Some(cwd) = spec.process().as_ref().map(|p| p.cwd().clone()) else {
        return Ok(());
    };
    if !cwd.is_absolute() {
        return Err(Error::RelativeCwd {
            config: config.to_path_buf(),
            cwd,
        });
    }
    let under_mount = spec
        .mounts()
        .as_ref()
        .is_some_and(|ms| ms.iter().any(|m| cwd.starts_with(m.destination())));
    if under_mount {
        return Ok(());
    }
    match crate::paths::resolve_in_root(rootfs, &cwd) {
        Ok(p) if rootfs.join(p.strip_prefix("/").unwrap_or(&p)).is_dir() => Ok(()),
        _ => Err(Error::NoCwd { cwd }),
    }
}

/// The text of the /etc/passwd the container will see, read without
/// leaving the rootfs. A bind mount over /etc/passwd or /etc (the last one
/// wins, as they are mounted in order) is read at its source instead: the
/// config's author named that file, the image did not. Anything else
/// mounted there hides the image's file, and then no user is known.
fn image_passwd(spec: &Spec, bundle: &Path, rootfs: &Path) -> Option<String> {
    let over = spec.mounts().as_ref().and_then(|ms| {
        ms.iter().rev().find(|m| {
            let d = m.destination();
            d == Path::new("/etc/passwd") || d == Path::new("/etc")
        })
    });
    let Some(m) = over else {
        return crate::user::read_in_root(rootfs, Path::new("/etc/passwd"));
    };
    let bind = m.typ().as_deref() == Some("bind")
        || m.options()
            .as_ref()
            .is_some_and(|o| o.iter().any(|o| o == "bind" || o == "rbind"));
    let source = m.source().as_ref().filter(|_| bind)?;
    let source = bundle.join(source);
    if m.destination() == Path::new("/etc") {
        crate::user::read_in_root(&source, Path::new("/passwd"))
    } else {
        crate::user::read_host_file(&source)
    }
}

/// CVE-2024-21626: a cwd in /proc (such as /proc/self/fd/N) names whatever
/// the runtime's init holds open at the chdir. Nothing legitimate lives
/// there, so it is refused however it is spelled: `..`, or (with the
/// image's `root`) symlinks of the image.
pub fn check_cwd_not_in_proc(cwd: &Path, root: Option<&Path>, what: &str) -> Result<()> {
    let proc = [Path::new("/proc")];
    let lexical = crate::paths::leads_into(Path::new("/nonexistent-root"), cwd, &proc);
    if lexical || root.is_some_and(|r| crate::paths::leads_into(r, cwd, &proc)) {
        return Err(Error::CwdInProc {
            what: what.to_string(),
            cwd: cwd.to_path_buf(),
        });
    }
    Ok(())
}

/// Files of the image that the runtime creates or mounts procfs/sysfs on
/// must not be symlinks: a symlink there redirects the runtime's own
/// mounts and writes (CVE-2025-31133 with /dev/null, CVE-2025-52565 with
/// /dev/console, CVE-2025-52881 with /proc). libcontainer refuses these
/// too, but with debug text; this names the file.
fn check_image_symlinks(spec: &Spec, rootfs: &Path, config: &Path) -> Result<()> {
    let mounts = spec.mounts().as_deref().unwrap_or_default();
    let mounted = |dest: &str| mounts.iter().any(|m| m.destination() == Path::new(dest));
    let mut watched: Vec<PathBuf> = mounts
        .iter()
        .filter(|m| matches!(m.typ().as_deref(), Some("proc" | "sysfs")))
        .map(|m| m.destination().clone())
        .collect();
    if !mounted("/dev") {
        for dev in [
            "null", "zero", "full", "random", "urandom", "tty", "console",
        ] {
            watched.push(Path::new("/dev").join(dev));
        }
        if !mounted("/dev/pts") {
            watched.push("/dev/pts/ptmx".into());
        }
    }
    for dest in watched {
        let file = rootfs.join(dest.strip_prefix("/").unwrap_or(&dest));
        if let Ok(target) = std::fs::read_link(&file) {
            return Err(Error::ImageSymlink {
                config: config.to_path_buf(),
                file,
                target,
                dest,
            });
        }
    }
    Ok(())
}

/// Validation against hostile images and configs (one call from `prepare`).
fn check_hostile_paths(spec: &Spec, rootfs: &Path, config: &Path) -> Result<()> {
    if let Some(p) = spec.process() {
        let what = format!("{}: process.cwd", config.display());
        check_cwd_not_in_proc(p.cwd(), Some(rootfs), &what)?;
    }
    check_image_symlinks(spec, rootfs, config)
}

/// Load the bundle's config ourselves, so that bad input gets a clear
/// line. When libcontainer needs it changed (our defaults, mount options
/// it lacks), it gets a patched copy; otherwise the caller's own bundle,
/// so that hooks and `state` see exactly that.
pub fn prepare(id: &str, bundle_arg: &Path, dir: &Path) -> Result<Prepared> {
    let bundle = bundle_arg
        .canonicalize()
        .map_err(|e| Error::io(bundle_arg, e))?;
    let config = bundle.join("config.json");
    let text = std::fs::read_to_string(&config).map_err(|e| Error::io(&config, e))?;
    let mut spec: Spec = serde_json::from_str(&text).map_err(|e| Error::Parse {
        path: config.clone(),
        msg: crate::validate::parse_error(&text, &e),
    })?;
    let root = spec.root().as_ref().ok_or_else(|| Error::MissingSection {
        config: config.clone(),
        field: "root",
    })?;
    let rootfs_path = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    let rootfs = rootfs_path.canonicalize().map_err(|source| Error::Rootfs {
        path: rootfs_path.clone(),
        source,
    })?;
    if !rootfs.is_dir() {
        return Err(Error::RootfsNotDir { path: rootfs_path });
    }
    if spec.process().is_none() {
        return Err(Error::MissingSection {
            config,
            field: "process",
        });
    }
    crate::validate::bundle(&spec, &bundle, &rootfs).map_err(|source| Error::InvalidConfig {
        id: id.to_string(),
        config: config.clone(),
        source: Box::new(source),
    })?;
    check_cwd(&spec, &rootfs, &config)?;
    check_hostile_paths(&spec, &rootfs, &config)?;
    let mut patched = false;
    let mut home_set = false;
    // libcontainer would look HOME up with getpwuid inside the container,
    // which loads the image's NSS modules; resolve it here instead.
    let user_env = spec
        .process()
        .as_ref()
        .map(|p| (p.user().uid(), p.env().clone().unwrap_or_default()));
    if let Some((uid, mut env)) = user_env
        && crate::user::env_home(&env).is_none()
    {
        let passwd = image_passwd(&spec, &bundle, &rootfs);
        crate::user::ensure_home(&mut env, uid, passwd.as_deref());
        if let Some(p) = spec.process_mut() {
            p.set_env(Some(env));
        }
        home_set = true;
        patched = true;
    }
    // libcontainer loads seccomp late (after dropping capabilities, where
    // the kernel needs no_new_privs) whenever the field is present, even
    // as `false`; absent means the same and loads it while still privileged.
    if let Some(p) = spec.process_mut()
        && p.no_new_privileges() == Some(false)
    {
        p.set_no_new_privileges(None);
        patched = true;
    }
    let Some(linux) = spec.linux_mut() else {
        return Err(Error::MissingSection {
            config,
            field: "linux",
        });
    };
    if linux.cgroups_path().is_none() {
        // libcontainer would name it ":youki:<id>". A flat name, so that
        // delete leaves no shared parent behind.
        linux.set_cgroups_path(Some(PathBuf::from(format!("/cellos-{id}"))));
        patched = true;
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut staging = Staging::default();
    patched |= crate::runtime::tmpcopyup::prepare_tmpcopyup(&mut spec, &rootfs, dir, &mut staging)?;
    let origin = Origin {
        bundle: bundle.clone(),
        rootfs: rootfs.clone(),
        home_set,
        ..Origin::default()
    };
    let write =
        |path: &Path, bytes: Vec<u8>| std::fs::write(path, bytes).map_err(|e| Error::io(path, e));
    write(
        &dir.join("origin.json"),
        serde_json::to_vec(&origin).unwrap_or_default(),
    )?;
    let config_dir = if patched {
        let mut root = spec.root().clone().unwrap_or_default();
        root.set_path(rootfs);
        spec.set_root(Some(root));
        let bytes = serde_json::to_vec(&spec).map_err(|source| Error::Encode {
            what: "config.json",
            source,
        })?;
        write(&dir.join("config.json"), bytes)?;
        dir.to_path_buf()
    } else {
        bundle
    };
    Ok(Prepared {
        config_dir,
        origin,
        staging,
        spec,
    })
}

/// What `prepare` remembered in `dir` (empty if nothing).
pub fn read_origin(dir: &Path) -> Origin {
    std::fs::read(dir.join("origin.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{
        LinuxBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, ProcessBuilder, RootBuilder,
        SpecBuilder, UserBuilder,
    };

    /// A bundle in a fresh temp dir (removed on drop, failure included):
    /// `rootfs/` with an /etc/passwd, `config.json` written from a Spec.
    struct Bundle(PathBuf);

    impl Drop for Bundle {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    impl Bundle {
        fn new(name: &str, spec: &Spec) -> Self {
            let dir =
                std::env::temp_dir().join(format!("cellos-bundle-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("rootfs/etc")).unwrap();
            std::fs::create_dir_all(dir.join("rootfs/work")).unwrap();
            std::fs::write(
                dir.join("rootfs/etc/passwd"),
                "root:x:0:0:root:/root:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n",
            )
            .unwrap();
            spec.save(dir.join("config.json")).unwrap();
            Bundle(dir)
        }

        fn scratch(&self) -> PathBuf {
            self.0.join("scratch")
        }
    }

    /// What runc's `spec` makes, cut down: no mounts, one namespace.
    fn base(uid: u32, env: &[&str]) -> Spec {
        SpecBuilder::default()
            .root(RootBuilder::default().path("rootfs").build().unwrap())
            .process(
                ProcessBuilder::default()
                    .args(vec!["/bin/sh".to_string()])
                    .cwd("/work")
                    .env(env.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                    .user(UserBuilder::default().uid(uid).gid(uid).build().unwrap())
                    .build()
                    .unwrap(),
            )
            .mounts(vec![])
            .linux(
                LinuxBuilder::default()
                    .namespaces(vec![
                        LinuxNamespaceBuilder::default()
                            .typ(LinuxNamespaceType::Mount)
                            .build()
                            .unwrap(),
                    ])
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    #[test]
    fn a_config_that_needs_nothing_runs_from_the_callers_bundle() {
        let mut spec = base(1000, &["PATH=/bin", "HOME=/h"]);
        if let Some(l) = spec.linux_mut() {
            l.set_cgroups_path(Some("/mine".into()));
        }
        let b = Bundle::new("plain", &spec);
        let p = prepare("c1", &b.0, &b.scratch()).unwrap();
        let bundle = b.0.canonicalize().unwrap();
        assert_eq!(p.config_dir, bundle);
        assert!(!b.scratch().join("config.json").exists());
        assert_eq!(read_origin(&b.scratch()).bundle, bundle);
        assert!(!p.origin.home_set);
    }

    #[test]
    fn defaults_are_written_into_an_adjusted_copy() {
        let mut spec = base(1000, &["PATH=/bin"]);
        if let Some(p) = spec.process_mut() {
            p.set_no_new_privileges(Some(false));
        }
        let b = Bundle::new("adjusted", &spec);
        let p = prepare("c2", &b.0, &b.scratch()).unwrap();
        assert_eq!(p.config_dir, b.scratch());
        // What libcontainer will read, as a Spec, and the caller's untouched.
        let written = Spec::load(b.scratch().join("config.json")).unwrap();
        assert_eq!(written, p.spec);
        let process = written.process().as_ref().unwrap();
        let env = process.env().as_ref().unwrap();
        assert!(env.contains(&"HOME=/home/u".to_string()), "{env:?}");
        assert_eq!(process.no_new_privileges(), None);
        let linux = written.linux().as_ref().unwrap();
        assert_eq!(
            linux.cgroups_path().as_deref(),
            Some(Path::new("/cellos-c2"))
        );
        let rootfs = b.0.join("rootfs").canonicalize().unwrap();
        assert_eq!(written.root().as_ref().unwrap().path(), &rootfs);
        assert!(p.origin.home_set);
        assert!(read_origin(&b.scratch()).home_set);
        assert_eq!(Spec::load(b.0.join("config.json")).unwrap(), spec);
    }

    fn refused(id: &str, b: &Bundle) -> Error {
        match prepare(id, &b.0, &b.scratch()) {
            Ok(_) => panic!("{id}: prepared"),
            Err(e) => e,
        }
    }

    #[test]
    fn refusals_name_the_file_and_the_field() {
        let config = |b: &Bundle| b.0.canonicalize().unwrap().join("config.json");
        let mut spec = base(0, &["HOME=/"]);
        spec.set_process(None);
        let b = Bundle::new("noprocess", &spec);
        let e = refused("c3", &b);
        assert_eq!(
            e.to_string(),
            format!("{}: process is missing", config(&b).display())
        );

        let mut spec = base(0, &["HOME=/"]);
        if let Some(p) = spec.process_mut() {
            p.set_cwd("/no/such".into());
        }
        let b = Bundle::new("nocwd", &spec);
        let e = refused("c4", &b);
        assert_eq!(
            e.to_string(),
            "chdir to cwd \"/no/such\" set in config.json failed: no such directory in the rootfs"
        );

        let b = Bundle::new("devnull", &base(0, &["HOME=/"]));
        std::fs::create_dir_all(b.0.join("rootfs/dev")).unwrap();
        std::os::unix::fs::symlink("/etc/shadow", b.0.join("rootfs/dev/null")).unwrap();
        let e = refused("c5", &b);
        assert!(matches!(e, Error::ImageSymlink { .. }), "{e:?}");
        assert!(
            e.to_string()
                .contains("dev/null is a symlink in the rootfs (to /etc/shadow)")
        );
    }
}
