//! Protection against CVE-2019-5736: a process inside the container must
//! never be able to reach the runtime's own binary on the host through
//! /proc/<pid>/exe and overwrite it.
//!
//! libcontainer forks (it does not re-exec) the processes that enter the
//! container, so they run the very image this process runs. Before such a
//! fork our image becomes a sealed one:
//! - preferred: the binary seen through a detached, read-only bind mount of
//!   itself (open_tree + mount_setattr). Nothing is copied, the mount is in
//!   no mount table and dies with us, and any write through /proc/<pid>/exe
//!   (even re-opening an O_PATH fd) fails with EROFS. As root we switch to
//!   it in place (`in_place`: remap, then PR_SET_MM_MAP); otherwise, or if
//!   that fails, we re-exec from it;
//! - fallback (no new mount API): re-exec from a copy in a write-sealed memfd.
//!
//! Only commands that put processes into a container pay for this.

mod in_place;

use crate::error::{Error, Result};
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
/// Newer kernels warn when a memfd is created without saying whether it may be executed.
const MFD_EXEC: libc::c_uint = 0x0010;

/// How the running image is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealed {
    ReadOnlyBind,
    Memfd,
    ReadOnlyFs,
}

fn exe_is_sealed_memfd(exe: &File) -> bool {
    // SAFETY: F_GET_SEALS only reads the seal set of an fd we own.
    let seals = unsafe { libc::fcntl(exe.as_raw_fd(), libc::F_GET_SEALS) };
    // A regular file fails with EINVAL: -1 has every bit set but is no seal.
    seals >= 0 && seals & SEALS == SEALS
}

fn exe_is_on_readonly_mount(exe: &File) -> bool {
    nix::sys::statvfs::fstatvfs(exe)
        .is_ok_and(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
}

/// Filesystems that have no write support at all: no flag to clear.
const READONLY_BY_NATURE: &[i64] = &[
    0x7371_7368, // squashfs
    0xE0F5_E1E2, // erofs
    0x9660,      // iso9660
    0x28cd_3d45, // cramfs
];

fn exe_is_on_readonly_fs(exe: &File) -> bool {
    nix::sys::statfs::fstatfs(exe)
        .is_ok_and(|s| READONLY_BY_NATURE.contains(&{ s.filesystem_type().0 }))
}

/// Whether nobody, not even root with CAP_SYS_ADMIN in our mount namespace,
/// can clone the image's mount and clear the read-only flag on the clone.
/// Our own detached bind was dissolved when its fd closed at the re-exec, so
/// it belongs to no namespace and open_tree refuses it (EINVAL). A read-only
/// bind of an install dir in a namespace is cloned fine: unwrappable.
fn exe_mount_is_unreachable(exe: &File) -> bool {
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    // SAFETY: open_tree on an fd we own and an empty C string; any fd it
    // returns is owned (and so closed) right away.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            exe.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH as libc::c_uint | OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
        )
    };
    if ret >= 0 {
        drop(unsafe { OwnedFd::from_raw_fd(ret as libc::c_int) });
        return false;
    }
    nix::Error::last() == nix::Error::EINVAL
}

/// Whether the running image is already sealed, and how: a write-sealed
/// memfd, a filesystem without write support (squashfs, erofs, ...: a
/// binary installed there pays nothing), or a read-only mount that no
/// namespace holds any more (our own re-exec). A read-only bind mount of
/// the install dir does not count: anyone with CAP_SYS_ADMIN in its mount
/// namespace (a container configured without one, for instance) can clone
/// it and clear the flag on the clone.
///
/// A yes is kept: nothing but an exec undoes any of these, and `main`'s
/// in-place sealing has just checked what `ensure_sealed` would check again.
pub fn sealed() -> Option<Sealed> {
    static KNOWN: std::sync::OnceLock<Sealed> = std::sync::OnceLock::new();
    if let Some(s) = KNOWN.get() {
        return Some(*s);
    }
    let exe = File::open("/proc/self/exe").ok()?;
    let found = if exe_is_sealed_memfd(&exe) {
        Some(Sealed::Memfd)
    } else if !exe_is_on_readonly_mount(&exe) {
        None
    } else if exe_is_on_readonly_fs(&exe) {
        Some(Sealed::ReadOnlyFs)
    } else {
        exe_mount_is_unreachable(&exe).then_some(Sealed::ReadOnlyBind)
    };
    found.map(|s| *KNOWN.get_or_init(|| s))
}

/// True in the image we re-executed into (a detached mount shows as "/",
/// a memfd as "/memfd:…"); false for a binary that was sealed as installed.
pub fn reexecuted() -> bool {
    std::fs::read_link("/proc/self/exe")
        .is_ok_and(|p| p.as_os_str() == "/" || p.to_string_lossy().starts_with("/memfd:"))
}

/// Switch to the sealed image in place (`in_place`); true when sealed.
fn try_in_place() -> Result<bool> {
    let fd = readonly_bind_image()?;
    in_place::seal(fd.as_fd())?;
    // Closing the O_PATH fd dissolves the detached mount's namespace, as the
    // re-exec's CLOEXEC does: from then on nobody can clone the mount.
    drop(fd);
    let done = sealed().is_some();
    if done {
        crate::runtime::warmup::forget_reexec_handoff();
    }
    Ok(done)
}

/// First thing in cellos-runtime's main, for the verbs that fork into a
/// container: seal in place before much of our text is paged in (the
/// remapping drops every page touched so far, and they fault in again).
/// Silent: `ensure_sealed`, later, reports or re-execs.
pub fn seal_early_for(args: &[String]) {
    if crate::runtime::warmup::joins_cgroup(args) && sealed().is_none() {
        let _ = try_in_place();
    }
}

/// Make our image a sealed one unless it is: in place (root), else by a
/// re-exec. Returns only when sealed.
pub fn ensure_sealed() -> Result<()> {
    if sealed().is_some() {
        return Ok(());
    }
    // Our own detached read-only image, where `sealed` cannot tell (open_tree
    // refused for want of CAP_SYS_ADMIN): never re-exec in a loop.
    if reexecuted() && File::open("/proc/self/exe").is_ok_and(|f| exe_is_on_readonly_mount(&f)) {
        return Ok(());
    }
    match try_in_place() {
        Ok(true) => return Ok(()),
        Ok(false) => tracing::debug!("in-place sealing left the image unsealed; re-executing"),
        Err(e) => tracing::debug!(
            "in-place sealing unavailable ({}); re-executing",
            crate::error::chain_message(&e)
        ),
    }
    let (fd, how) = match readonly_bind_image() {
        Ok(fd) => (fd, "robind"),
        Err(e) => {
            tracing::debug!(
                "read-only bind sealing unavailable ({}); copying into a sealed memfd",
                crate::error::chain_message(&e)
            );
            (memfd_image()?, "memfd")
        }
    };
    let argv: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.into_encoded_bytes()).unwrap_or_default())
        .collect();
    let envp = crate::runtime::environ();
    // SAFETY: execveat with AT_EMPTY_PATH on an fd we own, NUL-terminated arrays.
    let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut envp_p: Vec<*const libc::c_char> = envp.iter().map(|e| e.as_ptr()).collect();
    envp_p.push(std::ptr::null());
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd.as_raw_fd(),
            c"".as_ptr(),
            argv_p.as_ptr(),
            envp_p.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    Err(Error::sys(
        "execveat",
        format!("sealed runtime image ({how})"),
        nix::Error::last(),
    ))
}

fn check(ret: libc::c_long, what: &'static str) -> Result<libc::c_int> {
    if ret < 0 {
        Err(Error::sys(what, "sealed runtime image", nix::Error::last()))
    } else {
        Ok(ret as libc::c_int)
    }
}

/// Our binary through a detached, read-only bind mount of the file itself.
fn readonly_bind_image() -> Result<OwnedFd> {
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    const MOUNT_ATTR_RDONLY: u64 = 1;
    const MOUNT_ATTR_NOSUID: u64 = 2;
    const MOUNT_ATTR_NODEV: u64 = 4;
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    // SAFETY: open_tree/mount_setattr on NUL-terminated strings and fds we own.
    unsafe {
        let fd = check(
            libc::syscall(
                libc::SYS_open_tree,
                libc::AT_FDCWD,
                c"/proc/self/exe".as_ptr(),
                OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
            ),
            "open_tree(/proc/self/exe)",
        )?;
        let fd = OwnedFd::from_raw_fd(fd);
        let attr = MountAttr {
            attr_set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
            attr_clr: 0,
            propagation: 0,
            userns_fd: 0,
        };
        check(
            libc::syscall(
                libc::SYS_mount_setattr,
                fd.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_EMPTY_PATH,
                &attr as *const MountAttr,
                std::mem::size_of::<MountAttr>(),
            ),
            "mount_setattr(ro)",
        )?;
        Ok(fd)
    }
}

/// Our binary copied into a memfd and sealed against writes.
fn memfd_image() -> Result<OwnedFd> {
    let name = c"cellos-runtime";
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // SAFETY: plain syscalls on a constant C string; the fd is owned right away.
    let mut raw = unsafe { libc::memfd_create(name.as_ptr(), flags | MFD_EXEC) };
    if raw < 0 {
        raw = unsafe { libc::memfd_create(name.as_ptr(), flags) };
    }
    if raw < 0 {
        return Err(Error::sys(
            "memfd_create",
            "sealed runtime copy",
            nix::Error::last(),
        ));
    }
    let memfd = unsafe { OwnedFd::from_raw_fd(raw) };
    let exe = Path::new("/proc/self/exe");
    let mut src = File::open(exe).map_err(|e| Error::io(exe, e))?;
    let mut dst = File::from(memfd);
    std::io::copy(&mut src, &mut dst).map_err(|e| Error::io("memfd:cellos-runtime", e))?;
    // SAFETY: adding seals to our own memfd.
    if unsafe { libc::fcntl(dst.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } < 0 {
        return Err(Error::sys(
            "fcntl(F_ADD_SEALS)",
            "memfd:cellos-runtime",
            nix::Error::last(),
        ));
    }
    Ok(OwnedFd::from(dst))
}
