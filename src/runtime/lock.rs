//! The per-container lock that serializes verbs on one container ID.
//!
//! The lock is a file, `lock`, in the container's scratch dir
//! (`<root>/@bundles/<id>`), which `claim` makes together with the ID and
//! `delete` removes last, so the root holds no lock file once the container
//! is gone. A waiter that gets the lock after a delete holds an unlinked
//! file: it sees that (`st_nlink == 0`) and treats the container as never
//! having existed.
//!
//! It is a POSIX record lock (`fcntl(F_SETLKW)`), not `flock`: an flock
//! belongs to the open file description, which libcontainer's forked init
//! inherits and keeps until it execs at `start`. After a SIGKILLed `create`
//! that init would still hold the lock, and the `delete --force` meant to
//! clean up would wait for it forever. A record lock belongs to our process
//! only: it is never inherited and the kernel drops it when we die. Its one
//! trap, that closing any fd of the file drops it, cannot bite: only this
//! module opens the file, once per process and ID.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

const LOCK_FILE: &str = "lock";

/// A held lock; dropping it (or dying) releases it.
#[derive(Debug)]
pub struct ContainerLock {
    _file: File,
}

/// Make the lock file of a freshly claimed scratch dir and take it.
/// `Ok(None)`: the dir was removed under us (a delete swept a claim it
/// thought had crashed); the caller claims again.
pub fn create(scratch: &Path) -> io::Result<Option<ContainerLock>> {
    let path = scratch.join(LOCK_FILE);
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(&path)
    {
        Ok(f) => take(f, &path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Wait for the lock of an existing container. `Ok(None)`: there is no
/// such container (any more).
pub fn acquire(scratch: &Path) -> io::Result<Option<ContainerLock>> {
    let path = scratch.join(LOCK_FILE);
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(&path)
    {
        Ok(f) => take(f, &path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // A scratch dir without its lock file is a claim that died
            // before making it (or one that is a microsecond from making
            // it: its create fails to and claims again). Only an empty dir
            // goes, so nothing of a real container can be lost here.
            let _ = std::fs::remove_dir(scratch);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn take(file: File, path: &Path) -> io::Result<Option<ContainerLock>> {
    // SAFETY: an all-zero flock is a valid value; the fields are set below.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = libc::F_WRLCK as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    loop {
        // SAFETY: F_SETLKW on an fd we own with a valid flock struct.
        let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLKW, &fl) };
        if r == 0 {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    // The holder before us may have deleted the container (and a new
    // create may even have claimed the ID again): our file must still be
    // the one at the path.
    let ours = file.metadata()?;
    let current = std::fs::symlink_metadata(path);
    let same =
        ours.nlink() > 0 && current.is_ok_and(|m| m.ino() == ours.ino() && m.dev() == ours.dev());
    Ok(same.then_some(ContainerLock { _file: file }))
}
