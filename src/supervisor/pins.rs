//! Granted host paths pinned before any runtime sees them.
//!
//! The converter refuses a grant that is or crosses a symlink, but the
//! runtime binds the path later, by name: a job of another cell that can
//! write the grant's parent could swap it for a symlink in between
//! (measured: 4 of 40 runs read the symlink's target). So each grant is
//! opened once here without following any symlink, and that very directory
//! or file is bound onto a private path in the bundle; the bundle names the
//! pinned copy as the bind source. Works for every runtime and namespace
//! set, because the pinned copy is an ordinary mount of the host.

use super::{Refusal, exit};
use crate::cell::Cell;
use crate::runtime::executor::openat2_path;
use nix::mount::{MntFlags, MsFlags};
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The pinned copies of a cell's grants; unmounted on release or drop.
pub(super) struct Pins {
    /// grant path → its pinned copy
    sources: BTreeMap<PathBuf, PathBuf>,
    mounted: Vec<PathBuf>,
}

impl Pins {
    /// Pin every `readOnlyPaths` / `writablePaths` entry below `dir` (which
    /// is created). On error, whatever was pinned is released.
    pub(super) fn pin(cell: &Cell, dir: &Path) -> Result<Pins, Refusal> {
        let mut pins = Pins {
            sources: BTreeMap::new(),
            mounted: Vec::new(),
        };
        let a = &cell.spec.authority;
        if a.read_only_paths.is_empty() && a.writable_paths.is_empty() {
            return Ok(pins);
        }
        pins.private_dir(dir)?;
        let grants = [
            ("readOnlyPaths", &a.read_only_paths),
            ("writablePaths", &a.writable_paths),
        ];
        for (name, paths) in grants {
            for (i, p) in paths.iter().enumerate() {
                if pins.sources.contains_key(p) {
                    continue;
                }
                let field = format!("spec.authority.{name}[{i}]");
                let staging = dir.join(pins.sources.len().to_string());
                pins.pin_one(&field, p, &staging)?;
                pins.sources.insert(p.clone(), staging);
            }
        }
        Ok(pins)
    }

    /// `dir` as a private mount of its own: mounts made below it then never
    /// propagate to the host's peer groups (a shared /run, say), not even
    /// for the moment before they could be made private themselves.
    fn private_dir(&mut self, dir: &Path) -> Result<(), Refusal> {
        let fail = |e: nix::Error| {
            Refusal::new(
                exit::REFUSED,
                format!(
                    "cannot prepare {}: {}",
                    dir.display(),
                    e.desc().to_lowercase()
                ),
            )
        };
        std::fs::create_dir_all(dir)
            .map_err(|e| Refusal::new(exit::REFUSED, format!("create {}: {e}", dir.display())))?;
        nix::mount::mount(Some(dir), dir, None::<&str>, MsFlags::MS_BIND, None::<&str>)
            .map_err(fail)?;
        self.mounted.push(dir.to_path_buf());
        let private = MsFlags::MS_PRIVATE;
        nix::mount::mount(None::<&str>, dir, None::<&str>, private, None::<&str>).map_err(fail)
    }

    fn pin_one(&mut self, field: &str, p: &Path, staging: &Path) -> Result<(), Refusal> {
        let refuse = |reason: String| {
            Refusal::new(
                exit::REFUSED,
                format!("{field} \"{}\" cannot be used: {reason}", p.display()),
            )
        };
        let rel = p.to_string_lossy();
        let fd = openat2_path(
            Path::new("/"),
            &rel,
            libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS,
        )
        .map_err(|e| match e {
            nix::Error::ELOOP => refuse("is or goes through a symlink; name the real path".into()),
            nix::Error::ENOENT => refuse("does not exist on the host".into()),
            e => refuse(e.desc().to_lowercase()),
        })?;
        let magic = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        let is_dir = std::fs::metadata(&magic)
            .map_err(|e| refuse(e.to_string()))?
            .is_dir();
        let made = if is_dir {
            std::fs::create_dir(staging)
        } else {
            std::fs::File::create(staging).map(drop)
        };
        made.map_err(|e| refuse(format!("cannot pin it at {}: {e}", staging.display())))?;
        // The magic link names the opened inode itself, not a path.
        let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
        nix::mount::mount(Some(&magic), staging, None::<&str>, flags, None::<&str>)
            .map_err(|e| refuse(format!("cannot pin it: {}", e.desc().to_lowercase())))?;
        self.mounted.push(staging.to_path_buf());
        Ok(())
    }

    /// grant path → the path to bind from instead.
    pub(super) fn sources(&self) -> &BTreeMap<PathBuf, PathBuf> {
        &self.sources
    }

    /// Detach every pinned copy. The cell's own mounts are its own: they
    /// are gone with its mount namespace.
    pub(super) fn release(&mut self) {
        for m in self.mounted.drain(..).rev() {
            let _ = nix::mount::umount2(&m, MntFlags::MNT_DETACH);
        }
    }
}

impl Drop for Pins {
    fn drop(&mut self) {
        self.release();
    }
}
