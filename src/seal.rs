//! Protection against CVE-2019-5736: a process inside the container must
//! never be able to reach the runtime's own binary on the host through
//! /proc/<pid>/exe and overwrite it.
//!
//! libcontainer forks (it does not re-exec) the processes that enter the
//! container, so they run the very image this process runs. Before such a
//! fork we re-exec ourselves from a sealed memfd copy: /proc/<pid>/exe then
//! names an anonymous, write-sealed file, and the host binary is untouched.
//! Only commands that put processes into a container pay for this.

use crate::error::{Error, Result};
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
/// Newer kernels warn when a memfd is created without saying whether it may be executed.
const MFD_EXEC: libc::c_uint = 0x0010;

/// True when the running image is already a write-sealed memfd.
pub fn is_sealed() -> bool {
    match File::open("/proc/self/exe") {
        // SAFETY: F_GET_SEALS only reads the seal set of an fd we own.
        Ok(f) => unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GET_SEALS) & SEALS == SEALS },
        Err(_) => false,
    }
}

/// Re-exec from a sealed copy unless already sealed. Returns only when sealed.
pub fn ensure_sealed() -> Result<()> {
    if is_sealed() {
        return Ok(());
    }
    let memfd = sealed_copy()?;
    let argv: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.into_encoded_bytes()).unwrap_or_default())
        .collect();
    let envp: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.into_encoded_bytes();
            kv.push(b'=');
            kv.extend(v.into_encoded_bytes());
            CString::new(kv).unwrap_or_default()
        })
        .collect();
    let err = nix::unistd::fexecve(memfd.as_raw_fd(), &argv, &envp).unwrap_err();
    Err(Error::sys("execveat", "sealed runtime copy", err))
}

fn sealed_copy() -> Result<OwnedFd> {
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
    let mut src = File::open("/proc/self/exe").map_err(|e| Error::io("/proc/self/exe", e))?;
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
