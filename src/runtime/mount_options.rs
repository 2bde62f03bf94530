//! The mount options the runtime acts on, read from libcontainer's own
//! parsers so that `features` (commands/features.rs) cannot advertise an
//! option the engine would silently drop.

use libcontainer::syscall::linux::{MountOption, MountRecursive};
use std::str::FromStr;

/// The runtime spec's recursive (mount_setattr) options. Only those that
/// libcontainer's own parser accepts are advertised; the others would reach
/// the kernel as filesystem data.
const SPEC_RECURSIVE_OPTIONS: &[&str] = &[
    "rro",
    "rrw",
    "rnosuid",
    "rsuid",
    "rnodev",
    "rdev",
    "rnoexec",
    "rexec",
    "rnodiratime",
    "rdiratime",
    "rrelatime",
    "rnorelatime",
    "rnoatime",
    "ratime",
    "rstrictatime",
    "rnostrictatime",
    "rnosymfollow",
    "rsymfollow",
];

/// Options in libcontainer's flag table (`MountOption::known_options`) that
/// its mount code drops: `rootfs/mount.rs` mounts through fsmount/open_tree
/// and carries over only the flags `mount_flag_to_attr` maps to mount_setattr
/// attributes (ro, nosuid, nodev, noexec and the atime ones). Superblock
/// flags, remount and propagation are parsed and then lost, so a container
/// asking for them would start without them.
const DROPPED_BY_LIBCONTAINER: &[&str] = &[
    "sync",
    "async",
    "dirsync",
    "mand",
    "nomand",
    "remount",
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "unbindable",
    "runbindable",
];

/// Every mount option the runtime acts on: libcontainer's flag table less
/// what its mount code drops, the recursive options its parser takes, and
/// ours (`tmpcopyup`, rewritten in tmpcopyup.rs). Options libcontainer skips
/// (`idmap`, `ridmap`: it never makes an idmapped mount) or passes on as
/// filesystem data are left out.
pub fn supported() -> Vec<String> {
    let mut v = MountOption::known_options();
    v.retain(|o| !DROPPED_BY_LIBCONTAINER.contains(&o.as_str()));
    v.extend(
        SPEC_RECURSIVE_OPTIONS
            .iter()
            .filter(|o| MountRecursive::from_str(o).is_ok())
            .map(|o| o.to_string()),
    );
    v.push(super::tmpcopyup::TMPCOPYUP.to_string());
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_options_are_those_the_parsers_take() {
        let opts = supported();
        for o in &opts {
            let known = MountOption::from_str(o).is_ok()
                || MountRecursive::from_str(o).is_ok()
                || o == super::super::tmpcopyup::TMPCOPYUP;
            assert!(known, "{o} is advertised but no parser takes it");
        }
        for o in ["rro", "tmpcopyup", "bind", "nosuid"] {
            assert!(opts.iter().any(|x| x == o), "{o} missing: {opts:?}");
        }
        // Passed on as filesystem data (or dropped) by libcontainer.
        for o in [
            "nosymfollow",
            "lazytime",
            "iversion",
            "loud",
            "silent",
            "idmap",
            "sync",
            "shared",
        ] {
            assert!(!opts.iter().any(|x| x == o), "{o} advertised: {opts:?}");
        }
    }
}
