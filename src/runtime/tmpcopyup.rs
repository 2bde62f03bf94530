//! Mount options libcontainer does not implement, turned into ones it does
//! before the config reaches it (as bubblewrap turns its command line into a
//! list of mount operations first).
//!
//! `tmpcopyup` (runc's extension, sent by podman for `--tmpfs` and
//! `--read-only`): a fresh tmpfs that starts with the image's content at that
//! path. We build it on the host in a private staging mount, copy the
//! content in, and hand libcontainer a bind of it. Once the container holds
//! its own reference, the staging mount is detached: the host mount table is
//! left as it was.

use crate::error::{Error, Result};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use oci_spec::runtime::{Mount, Spec};
use std::path::{Path, PathBuf};

/// The option that asks for this rewrite (advertised by `features`).
pub const TMPCOPYUP: &str = "tmpcopyup";

/// Options that are flags of the bind we hand on, not tmpfs data.
const FLAG_OPTIONS: &[&str] = &[
    "ro",
    "rw",
    "nosuid",
    "suid",
    "nodev",
    "dev",
    "noexec",
    "exec",
    "sync",
    "async",
    "noatime",
    "atime",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
    "nodiratime",
    "diratime",
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "unbindable",
    "runbindable",
];

/// Staging mounts to detach once the container exists (or creation failed).
#[derive(Debug, Default)]
pub struct Staging {
    dirs: Vec<PathBuf>,
}

impl Staging {
    pub fn is_empty(&self) -> bool {
        self.dirs.is_empty()
    }

    /// Detach and remove every staging mount. Safe to call more than once.
    pub fn release(&mut self) {
        for d in self.dirs.drain(..) {
            let _ = umount2(&d, MntFlags::MNT_DETACH);
            let _ = std::fs::remove_dir(&d);
        }
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        self.release();
    }
}

fn has_tmpcopyup(m: &Mount) -> bool {
    m.typ().as_deref() == Some("tmpfs")
        && m.options()
            .as_ref()
            .is_some_and(|o| o.iter().any(|x| x == "tmpcopyup"))
}

/// The host uid and gid that the container's root maps to (0 without a user namespace).
fn root_owner(spec: &Spec) -> (u32, u32) {
    let map = |m: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| {
        m.and_then(|v| {
            v.iter()
                .find(|x| x.container_id() == 0)
                .map(|x| x.host_id())
        })
        .unwrap_or(0)
    };
    let linux = spec.linux().as_ref();
    (
        map(linux.and_then(|l| l.uid_mappings().as_ref())),
        map(linux.and_then(|l| l.gid_mappings().as_ref())),
    )
}

/// A tmpcopyup mount's options, sorted for the two mounts made of it.
#[derive(Debug, PartialEq)]
struct Split {
    /// For the staging tmpfs: the flags that protect its content.
    flags: MsFlags,
    /// For the staging tmpfs: what tmpfs reads as its own (size, mode...).
    data: String,
    /// For the bind libcontainer makes: every flag option, after `rbind`.
    bind_opts: Vec<String>,
}

fn split_options(opts: &[String]) -> Split {
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    let mut bind_opts = vec!["rbind".to_string()];
    for o in opts {
        match o.as_str() {
            "tmpcopyup" => continue,
            "nosuid" => flags |= MsFlags::MS_NOSUID,
            "nodev" => flags |= MsFlags::MS_NODEV,
            "noexec" => flags |= MsFlags::MS_NOEXEC,
            _ => {}
        }
        if FLAG_OPTIONS.contains(&o.as_str()) {
            bind_opts.push(o.clone());
        } else {
            data.push(o.as_str());
        }
    }
    Split {
        flags,
        data: data.join(","),
        bind_opts,
    }
}

/// Rewrite every `tmpcopyup` tmpfs in `spec` into a bind of a prepared
/// tmpfs under `stage_dir`. Returns whether anything changed.
pub fn prepare_tmpcopyup(
    spec: &mut Spec,
    rootfs: &Path,
    stage_dir: &Path,
    staging: &mut Staging,
) -> Result<bool> {
    if !spec
        .mounts()
        .as_ref()
        .is_some_and(|ms| ms.iter().any(has_tmpcopyup))
    {
        return Ok(false);
    }
    let (uid, gid) = root_owner(spec);
    let mut mounts = spec.mounts().clone().unwrap_or_default();
    for (n, m) in mounts.iter_mut().enumerate() {
        if !has_tmpcopyup(m) {
            continue;
        }
        let Split {
            flags,
            data,
            bind_opts,
        } = split_options(m.options().as_deref().unwrap_or_default());
        let stage = stage_dir.join(format!("tmpcopyup-{n}"));
        std::fs::create_dir_all(&stage).map_err(|e| Error::io(&stage, e))?;
        staging.dirs.push(stage.clone());
        mount(
            Some("tmpfs"),
            &stage,
            Some("tmpfs"),
            flags,
            Some(data.as_str()),
        )
        .map_err(|e| Error::sys("mount(tmpfs)", stage.display(), e))?;
        // Private, so that detaching it later never reaches the container's copy.
        mount(
            None::<&str>,
            &stage,
            None::<&str>,
            MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .map_err(|e| Error::sys("mount(MS_PRIVATE)", stage.display(), e))?;
        nix::unistd::chown(&stage, Some(uid.into()), Some(gid.into()))
            .map_err(|e| Error::sys("chown", stage.display(), e))?;
        copy_image_content(rootfs, m.destination(), &stage)?;
        m.set_typ(Some("bind".into()));
        m.set_source(Some(stage));
        m.set_options(Some(bind_opts));
    }
    spec.set_mounts(Some(mounts));
    Ok(true)
}

/// Copy what the image has at `dest` (resolved inside the rootfs, never
/// following a symlink out of it) into `stage`, keeping owners and modes.
fn copy_image_content(rootfs: &Path, dest: &Path, stage: &Path) -> Result<()> {
    let inside = match crate::paths::resolve_in_root(rootfs, dest) {
        Ok(p) => p,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dest, e)),
    };
    let src = rootfs.join(inside.strip_prefix("/").unwrap_or(&inside));
    if !src.is_dir() {
        return Ok(());
    }
    // Mode of the image's directory, like runc (the tmpfs root takes it over).
    if let Ok(meta) = std::fs::metadata(&src) {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(
            stage,
            std::fs::Permissions::from_mode(meta.permissions().mode()),
        );
    }
    let out = std::process::Command::new("cp")
        .arg("-a")
        .arg("--no-dereference")
        .arg(format!("{}/.", src.display()))
        .arg(stage)
        .output()
        .map_err(|e| Error::io("cp", e))?;
    if !out.status.success() {
        return Err(Error::Tmpcopyup {
            dest: dest.to_path_buf(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::MountBuilder;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn options_split_into_tmpfs_data_flags_and_bind_options() {
        let s = split_options(&strings(&[
            "nosuid",
            "tmpcopyup",
            "size=64k",
            "mode=1777",
            "noexec",
            "ro",
        ]));
        assert_eq!(s.flags, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC);
        assert_eq!(s.data, "size=64k,mode=1777");
        assert_eq!(s.bind_opts, strings(&["rbind", "nosuid", "noexec", "ro"]));
        let bare = split_options(&strings(&["tmpcopyup"]));
        assert_eq!(bare.flags, MsFlags::empty());
        assert_eq!(bare.data, "");
        assert_eq!(bare.bind_opts, strings(&["rbind"]));
    }

    #[test]
    fn only_a_tmpfs_asks_for_tmpcopyup() {
        let mount = |typ: &str, opts: &[&str]| {
            MountBuilder::default()
                .destination("/tmp")
                .typ(typ)
                .options(strings(opts))
                .build()
                .unwrap()
        };
        assert!(has_tmpcopyup(&mount("tmpfs", &["tmpcopyup", "nosuid"])));
        assert!(!has_tmpcopyup(&mount("tmpfs", &["nosuid"])));
        assert!(!has_tmpcopyup(&mount("bind", &["tmpcopyup"])));
        // Nothing to rewrite: the spec is untouched and nothing is mounted.
        let mut spec = Spec::default();
        spec.set_mounts(Some(vec![mount("tmpfs", &["nosuid"])]));
        let before = spec.clone();
        let mut staging = Staging::default();
        let dir = Path::new("/nonexistent-stage");
        assert!(!prepare_tmpcopyup(&mut spec, dir, dir, &mut staging).unwrap());
        assert_eq!(spec, before);
    }
}
