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
    walk_in_root(root, path, Missing::Fail, |_| false).map(|(p, _)| p)
}

/// Whether `path`, walked the same way, passes through one of `dests` at any
/// step (before a symlink there is followed). Components that do not exist
/// are taken literally: a path the image does not have yet can still lead
/// somewhere once mounts appear.
pub fn leads_into(root: &Path, path: &Path, dests: &[&Path]) -> bool {
    walk_in_root(root, path, Missing::Literal, |here| {
        dests.iter().any(|d| here.starts_with(d))
    })
    .is_ok_and(|(_, hit)| hit)
}

/// What a walk does with a component that does not exist.
#[derive(Clone, Copy, PartialEq)]
enum Missing {
    Fail,
    Literal,
}

/// The one walker behind both: `visit` sees every path reached (as seen
/// from inside, starting at `/`) and stops the walk by returning true.
/// Returns the final path and whether `visit` stopped it.
fn walk_in_root(
    root: &Path,
    path: &Path,
    missing: Missing,
    mut visit: impl FnMut(&Path) -> bool,
) -> std::io::Result<(PathBuf, bool)> {
    let mut todo: VecDeque<OsString> = components(path);
    let mut done: Vec<OsString> = Vec::new();
    let mut links = 0;
    let inside = |done: &[OsString]| -> PathBuf {
        let mut p = PathBuf::from("/");
        p.extend(done);
        p
    };
    while let Some(c) = todo.pop_front() {
        if c == ".." {
            done.pop();
            continue;
        }
        done.push(c);
        if visit(&inside(&done)) {
            return Ok((inside(&done), true));
        }
        let mut cand = root.to_path_buf();
        cand.extend(done.iter());
        let is_link = match std::fs::symlink_metadata(&cand) {
            Ok(meta) => meta.file_type().is_symlink(),
            Err(_) if missing == Missing::Literal => false,
            Err(e) => return Err(e),
        };
        if !is_link {
            continue;
        }
        links += 1;
        if links > MAX_LINKS {
            return Err(std::io::Error::from_raw_os_error(libc::ELOOP));
        }
        let target = std::fs::read_link(&cand)?;
        done.pop();
        if target.is_absolute() {
            done.clear();
        }
        for (i, t) in components(&target).into_iter().enumerate() {
            todo.insert(i, t);
        }
    }
    Ok((inside(&done), false))
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

#[cfg(test)]
mod tests {
    use super::{leads_into, resolve_in_root};
    use std::os::unix::fs::symlink;
    use std::path::Path;

    fn root_with_links() -> std::path::PathBuf {
        let root = std::env::temp_dir().join(format!("cellos-paths-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("proc")).unwrap();
        symlink("/proc/self", root.join("abs")).unwrap();
        symlink("../../../proc", root.join("etc/up")).unwrap();
        symlink("etc", root.join("rel")).unwrap();
        symlink("loop", root.join("loop")).unwrap();
        root
    }

    #[test]
    fn symlinks_stay_inside_the_root() {
        let root = root_with_links();
        let r = |p: &str| resolve_in_root(&root, Path::new(p)).map_err(|e| e.raw_os_error());
        assert_eq!(r("/rel/up").unwrap(), Path::new("/proc"));
        assert_eq!(r("/../../etc/../etc").unwrap(), Path::new("/etc"));
        assert_eq!(r("/loop").unwrap_err(), Some(libc::ELOOP));
        assert!(r("/no/such").is_err(), "a missing component is an error");
        let proc = [Path::new("/proc")];
        let leads = |p: &str| leads_into(&root, Path::new(p), &proc);
        assert!(leads("/abs/fd/3"), "absolute link into /proc");
        assert!(
            leads("/rel/up/self/fd/3"),
            "relative link climbing to /proc"
        );
        assert!(leads("/etc/../proc/1"), "plain ..");
        assert!(
            !leads("/etc/no/such"),
            "missing components are taken literally"
        );
        assert!(!leads("/loop"), "a loop leads nowhere");
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// A root removed when the test ends, failed or not.
    struct Root(std::path::PathBuf);

    impl Drop for Root {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn root(name: &str) -> Root {
        let p = std::env::temp_dir().join(format!("cellos-paths-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(p.join("etc")).unwrap();
        Root(p)
    }

    #[test]
    fn absolute_and_climbing_links_restart_at_the_root() {
        let r = root("abs");
        std::fs::write(r.0.join("etc/passwd"), "").unwrap();
        symlink("/etc/passwd", r.0.join("pw")).unwrap();
        symlink("../../../../../../etc/passwd", r.0.join("etc/pw2")).unwrap();
        symlink("/../../etc", r.0.join("etc2")).unwrap();
        let res = |p: &str| resolve_in_root(&r.0, Path::new(p)).unwrap();
        assert_eq!(res("/pw"), Path::new("/etc/passwd"));
        assert_eq!(res("/etc/pw2"), Path::new("/etc/passwd"));
        assert_eq!(res("/etc2/passwd"), Path::new("/etc/passwd"));
        assert_eq!(res("etc/../../.."), Path::new("/"));
        // A relative path is taken from the root too.
        assert_eq!(res("etc/passwd"), Path::new("/etc/passwd"));
    }

    #[test]
    fn link_loops_and_long_chains_end_in_eloop() {
        let r = root("loops");
        symlink("b", r.0.join("a")).unwrap();
        symlink("a", r.0.join("b")).unwrap();
        std::fs::create_dir(r.0.join("end")).unwrap();
        // l0 -> l1 -> ... -> l40 -> end: 41 links, one more than the kernel follows.
        for i in 0..=40 {
            let next = if i == 40 {
                "end".to_string()
            } else {
                format!("l{}", i + 1)
            };
            symlink(&next, r.0.join(format!("l{i}"))).unwrap();
        }
        let err = |p: &str| {
            resolve_in_root(&r.0, Path::new(p))
                .unwrap_err()
                .raw_os_error()
        };
        assert_eq!(err("/a"), Some(libc::ELOOP));
        assert_eq!(err("/a/x"), Some(libc::ELOOP));
        assert_eq!(err("/l0"), Some(libc::ELOOP));
        assert_eq!(
            resolve_in_root(&r.0, Path::new("/l1")).unwrap(),
            Path::new("/end"),
            "40 links are followed"
        );
        assert!(!leads_into(
            &r.0,
            Path::new("/a/proc"),
            &[Path::new("/proc")]
        ));
    }

    #[test]
    fn leads_into_checks_every_step_not_only_the_end() {
        let r = root("leads");
        symlink("/proc/self", r.0.join("etc/me")).unwrap();
        let proc = [Path::new("/proc")];
        let leads = |p: &str| leads_into(&r.0, Path::new(p), &proc);
        assert!(leads("/etc/me"), "a link whose target is in /proc");
        assert!(leads("/etc/me/../.."), "passing through /proc counts");
        assert!(leads("/proc"));
        assert!(!leads("/procfs/x"), "a sibling name is not /proc");
        assert!(!leads("/etc/../etc/x"));
        // The dests are compared as seen from inside: a host path means nothing.
        let host = r.0.join("etc");
        assert!(!leads_into(&r.0, Path::new("/x"), &[host.as_path()]));
    }
}
