//! Path resolution inside a root directory, for everything that looks into
//! a rootfs from the host: absolute symlink targets restart at the root and
//! `..` never climbs above it, so no symlink leads out.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

/// Symlinks followed before giving up, as the kernel's ELOOP limit.
const MAX_LINKS: usize = 40;

/// Resolve `path` as a process would see it with `root` as `/`: absolute
/// symlink targets restart at `root`, and `..` never climbs above it.
pub fn resolve_in_root(root: &Path, path: &Path) -> std::io::Result<PathBuf> {
    let mut todo: VecDeque<OsString> = components(path);
    let mut done: Vec<OsString> = Vec::new();
    let mut links = 0;
    while let Some(c) = todo.pop_front() {
        if c == ".." {
            done.pop();
            continue;
        }
        let mut cand = root.to_path_buf();
        cand.extend(done.iter());
        cand.push(&c);
        let meta = std::fs::symlink_metadata(&cand)?;
        if !meta.file_type().is_symlink() {
            done.push(c);
            continue;
        }
        links += 1;
        if links > MAX_LINKS {
            return Err(std::io::Error::from_raw_os_error(libc::ELOOP));
        }
        let target = std::fs::read_link(&cand)?;
        if target.is_absolute() {
            done.clear();
        }
        for (i, t) in components(&target).into_iter().enumerate() {
            todo.insert(i, t);
        }
    }
    let mut out = PathBuf::from("/");
    out.extend(done);
    Ok(out)
}

fn components(p: &Path) -> VecDeque<OsString> {
    p.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}
