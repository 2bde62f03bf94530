//! The argv[0] policy (`CELLOS_RUN_ARGV0_ALLOW_PREFIXES`): checked twice,
//! lexically and on the real path after following symlinks inside the cell's
//! root, so neither `..` nor a symlink can lead outside the allowed prefixes.

use super::{Refusal, exit};
use crate::cell::{lexically_clean, under_prefix};
pub use crate::paths::resolve_in_root;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
#[cfg(test)]
use std::path::PathBuf;

/// Refuse argv[0] unless it, and the file it really names, are allowed.
pub fn check_argv0(argv0: &str, prefixes: &[String], root: &Path) -> Result<(), Refusal> {
    let refuse = |msg: String| Err(Refusal::new(exit::REFUSED, msg));
    if !argv0.starts_with('/') {
        return refuse(format!(
            "argv[0] {argv0:?} must be an absolute path when CELLOS_RUN_ARGV0_ALLOW_PREFIXES is set"
        ));
    }
    if !lexically_clean(argv0) {
        return refuse(format!(
            "argv[0] {argv0:?} is not a clean path (no \".\", \"..\" or \"//\")"
        ));
    }
    if !under_prefix(argv0, prefixes) {
        return refuse(format!(
            "argv[0] {argv0:?} is not under an allowed prefix ({})",
            prefixes.join(",")
        ));
    }
    let real = match resolve_in_root(root, Path::new(argv0)) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Refusal::new(
                exit::NOT_FOUND,
                format!("argv[0] {argv0:?}: no such file or directory"),
            ));
        }
        Err(e) => return refuse(format!("argv[0] {argv0:?}: {e}")),
    };
    let real_str = real.to_string_lossy();
    if !under_prefix(&real_str, prefixes) {
        return refuse(format!(
            "argv[0] {argv0:?} resolves to {real_str:?}, outside the allowed prefixes ({})",
            prefixes.join(",")
        ));
    }
    let on_host = root.join(real.strip_prefix("/").unwrap_or(&real));
    match std::fs::metadata(&on_host) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(()),
        Ok(_) => Err(Refusal::new(
            exit::NOT_EXECUTABLE,
            format!("argv[0] {argv0:?}: permission denied"),
        )),
        Err(e) => Err(Refusal::new(
            exit::NOT_FOUND,
            format!("argv[0] {argv0:?}: {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_stay_inside_root() {
        let root = std::env::temp_dir().join(format!("cellos-policy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::write(root.join("usr/bin/real"), b"").unwrap();
        std::os::unix::fs::symlink("/usr/bin/real", root.join("usr/bin/abs")).unwrap();
        std::os::unix::fs::symlink("../../../../../usr/bin/real", root.join("usr/bin/climb"))
            .unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("usr/bin/out")).unwrap();
        let r = |p: &str| resolve_in_root(&root, Path::new(p));
        let abs = r("/usr/bin/abs");
        let climb = r("/usr/bin/climb");
        let out = r("/usr/bin/out");
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(abs.unwrap(), PathBuf::from("/usr/bin/real"));
        assert_eq!(climb.unwrap(), PathBuf::from("/usr/bin/real"));
        // /etc/passwd does not exist inside this root: resolution fails rather than escaping.
        assert_eq!(out.unwrap_err().kind(), std::io::ErrorKind::NotFound);
    }
}
