//! The last step inside the container: libcontainer calls this executor right
//! before the user's program runs. It does what libcontainer's default one
//! leaves out:
//! - the exec errors are worded as runc's, since podman maps them to 126/127;
//! - the signal mask and SIGPIPE disposition of the runtime are reset (a
//!   foreground `run` blocks signals, Rust ignores SIGPIPE, and both would
//!   otherwise leak into the container's process);
//! - a cell's argv[0] policy (the `io.cellos.argv0.allow` annotation) is
//!   enforced here, inside the container, on the very file that is executed.
//!
//! The new session keyring is joined by the runtime before it forks (see
//! engine.rs): here, after seccomp, a profile denying keyctl would stop it.

use crate::cell::{Argv0Allow, lexically_clean};
use crate::error::ExecKind;
use libcontainer::workload::{Executor, ExecutorError, ExecutorValidationError};
use nix::fcntl::{AtFlags, FdFlag, OFlag};
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, signal, sigprocmask};
use oci_spec::runtime::Spec;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[derive(Clone, Default)]
pub struct CellosExecutor;

fn args(spec: &Spec) -> Option<&Vec<String>> {
    spec.process()
        .as_ref()
        .and_then(|p| p.args().as_ref())
        .filter(|a| !a.is_empty())
}

fn path_var(spec: &Spec) -> String {
    spec.process()
        .as_ref()
        .and_then(|p| p.env().as_ref())
        .and_then(|env| env.iter().find_map(|e| e.strip_prefix("PATH=")))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .to_string()
}

/// argv[0] not executed, in runc's words (`exec: "<argv0>": <reason>`,
/// which podman and the supervisor read), with why as a kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("exec: {argv0:?}: {reason}")]
pub struct ExecError {
    pub argv0: String,
    pub kind: ExecKind,
    reason: String,
}

impl ExecError {
    fn new(argv0: &str, kind: ExecKind, reason: impl Into<String>) -> Self {
        Self {
            argv0: argv0.to_string(),
            kind,
            reason: reason.into(),
        }
    }

    /// An execve/open failure, sorted as a shell sorts it.
    fn errno(argv0: &str, e: nix::Error) -> Self {
        let kind = match e {
            nix::Error::ENOENT => ExecKind::NotFound,
            nix::Error::EACCES | nix::Error::ENOEXEC => ExecKind::NotExecutable,
            _ => ExecKind::Refused,
        };
        Self::new(argv0, kind, e.desc().to_lowercase())
    }
}

impl ExecKind {
    /// The exit code a shell (and the supervisor) gives it.
    pub fn exit_code(self) -> i32 {
        match self {
            ExecKind::NotFound => 127,
            ExecKind::NotExecutable => 126,
            ExecKind::Refused => 125,
        }
    }

    /// The kind of an `ExecError` that reached the runtime as text: the
    /// container's init reports it to libcontainer over a pipe, and an
    /// external runtime on its stderr. Reads the words `ExecError` writes
    /// (runc writes the same), and only after its `exec: "` prefix.
    pub fn of_reported(msg: &str) -> Option<ExecKind> {
        let at = msg.find("exec: \"")?;
        let exec = &msg[at..];
        Some(
            if exec.contains("executable file not found")
                || exec.contains("no such file or directory")
            {
                ExecKind::NotFound
            } else if exec.contains("permission denied") || exec.contains("exec format error") {
                ExecKind::NotExecutable
            } else {
                ExecKind::Refused
            },
        )
    }
}

/// Find argv[0] the way exec.LookPath does, with runc's error wording.
pub fn look_path(cmd: &str, path: &str) -> Result<PathBuf, ExecError> {
    let check = |p: &Path| -> Result<(), ExecError> {
        let meta = std::fs::metadata(p).map_err(|_| {
            ExecError::new(
                cmd,
                ExecKind::NotFound,
                format!("stat {}: no such file or directory", p.display()),
            )
        })?;
        if meta.is_dir() || meta.permissions().mode() & 0o111 == 0 {
            return Err(ExecError::new(
                cmd,
                ExecKind::NotExecutable,
                "permission denied",
            ));
        }
        Ok(())
    };
    if cmd.contains('/') {
        check(Path::new(cmd))?;
        return Ok(PathBuf::from(cmd));
    }
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = Path::new(dir).join(cmd);
        if check(&cand).is_ok() {
            return Ok(cand);
        }
    }
    Err(ExecError::new(
        cmd,
        ExecKind::NotFound,
        "executable file not found in $PATH",
    ))
}

impl Executor for CellosExecutor {
    fn validate(&self, spec: &Spec) -> Result<(), ExecutorValidationError> {
        let args = args(spec).ok_or_else(|| {
            ExecutorValidationError::ArgValidationError("args must not be empty".into())
        })?;
        let invalid = |e: ExecError| ExecutorValidationError::ArgValidationError(e.to_string());
        look_path(&args[0], &path_var(spec)).map_err(invalid)?;
        // The early in-cell refusal, seen by `create`; exec checks again.
        if let Some(policy) = argv0_policy(spec)
            .map_err(|e| ExecutorValidationError::ArgValidationError(e.to_string()))?
        {
            open_allowed(&args[0], &policy).map_err(invalid)?;
        }
        Ok(())
    }

    fn exec(&self, spec: &Spec) -> Result<(), ExecutorError> {
        let args = args(spec).ok_or(ExecutorError::InvalidArg)?;
        let prog = look_path(&args[0], &path_var(spec))
            .map_err(|e| ExecutorError::Other(e.to_string()))?;
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
        // SAFETY: restoring the default disposition; no handler code is involved.
        let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
        let cprog = CString::new(prog.as_os_str().as_encoded_bytes())
            .map_err(|_| ExecutorError::InvalidArg)?;
        let cargs: Vec<CString> = args
            .iter()
            .map(|a| CString::new(a.as_bytes()).unwrap_or_default())
            .collect();
        let policy = argv0_policy(spec).map_err(|e| ExecutorError::Other(e.to_string()))?;
        let err = match policy {
            Some(policy) => exec_allowed(&args[0], &policy, &cargs),
            None => nix::unistd::execv(&cprog, &cargs).unwrap_err(),
        };
        Err(ExecutorError::Other(
            ExecError::errno(&args[0], err).to_string(),
        ))
    }
}

/// The cell's argv[0] policy carried in the config, if any.
fn argv0_policy(spec: &Spec) -> Result<Option<Argv0Allow>, crate::cell::CellError> {
    Argv0Allow::from_spec(spec)
}

/// Open argv[0] as an `O_PATH` fd resolved inside the container root, and
/// check the policy against the real path of that fd: symlinks and `..`
/// cannot lead out of the root, and whatever the path names later, the fd
/// stays the file that was checked. Errors are worded as exec errors.
fn open_allowed(argv0: &str, policy: &Argv0Allow) -> Result<OwnedFd, ExecError> {
    let refuse = |why: String| Err(ExecError::new(argv0, ExecKind::Refused, why));
    if !lexically_clean(argv0) || !policy.allows(argv0) {
        return refuse(format!(
            "not an absolute clean path under the allowed prefixes ({})",
            policy.display()
        ));
    }
    // After pivot_root "/" is the container's root: absolute symlinks
    // restart there and `..` stops there, as RESOLVE_IN_ROOT would make
    // them. openat2 itself is not used: the cell's seccomp filter answers
    // it ENOSYS (see cell::convert::no_setid_files).
    let fd = nix::fcntl::open(
        argv0,
        OFlag::O_PATH | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map(|fd| {
        // SAFETY: open returned a new fd that nothing else owns.
        unsafe { OwnedFd::from_raw_fd(fd) }
    })
    .map_err(|e| match e {
        nix::Error::ENOENT => ExecError::new(
            argv0,
            ExecKind::NotFound,
            format!("stat {argv0}: no such file or directory"),
        ),
        e => ExecError::errno(argv0, e),
    })?;
    let real = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).map_err(|e| {
        ExecError::new(
            argv0,
            ExecKind::Refused,
            format!("cannot read its real path: {e}"),
        )
    })?;
    let real = real.to_string_lossy();
    if !policy.allows(&real) {
        return refuse(format!(
            "resolves to {real:?} inside the cell, outside the allowed prefixes ({})",
            policy.display()
        ));
    }
    Ok(fd)
}

/// An `O_PATH` fd for `path` below the directory `root`, resolved by
/// openat2(2) with the given `RESOLVE_*` flags.
pub(crate) fn openat2_path(root: &Path, path: &str, resolve: u64) -> nix::Result<OwnedFd> {
    let dir = nix::fcntl::open(
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    // SAFETY: open returned a new fd that nothing else owns.
    let dir = unsafe { OwnedFd::from_raw_fd(dir) };
    let cpath = CString::new(path).map_err(|_| nix::Error::EINVAL)?;
    // libc's open_how is non_exhaustive; this is the kernel's v0 layout.
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    let how = OpenHow {
        flags: (libc::O_PATH | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve,
    };
    // SAFETY: openat2 reads the path and the open_how we own, with its size.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            cpath.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        return Err(nix::Error::last());
    }
    // SAFETY: openat2 returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Check argv[0] again, now, and execute the checked fd itself with
/// execveat(AT_EMPTY_PATH): no path is looked up between check and exec.
/// Returns only on failure. A refusal ends the process with one line and
/// the supervisor's exit code for it (125 for the policy, 127 for a file
/// gone since `create`): the payload never ran.
fn exec_allowed(argv0: &str, policy: &Argv0Allow, args: &[CString]) -> nix::Error {
    let fd = match open_allowed(argv0, policy) {
        Ok(fd) => fd,
        // This is the container's process, after `start`: nobody is left
        // to return to, and its exit code is how the refusal reaches the
        // supervisor.
        Err(e) => {
            eprintln!("cellos: argv[0] refused inside the cell: {e}");
            std::process::exit(e.kind.exit_code());
        }
    };
    // A script's interpreter opens it as /dev/fd/N after exec: the fd must
    // survive the exec then (the kernel refuses a close-on-exec one).
    if starts_with_shebang(&fd) {
        let _ = nix::fcntl::fcntl(
            fd.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFD(FdFlag::empty()),
        );
    }
    let env = crate::runtime::environ();
    nix::unistd::execveat(
        Some(fd.as_raw_fd()),
        c"",
        args,
        &env,
        AtFlags::AT_EMPTY_PATH,
    )
    .unwrap_err()
}

/// Whether the file behind an O_PATH fd starts with `#!` (an unreadable
/// file counts as not a script).
fn starts_with_shebang(fd: &OwnedFd) -> bool {
    let Ok(mut f) = std::fs::File::open(format!("/proc/self/fd/{}", fd.as_raw_fd())) else {
        return false;
    };
    let mut head = [0u8; 2];
    std::io::Read::read_exact(&mut f, &mut head).is_ok() && &head == b"#!"
}

#[cfg(test)]
mod tests {
    use super::look_path;
    use crate::error::ExecKind;

    #[test]
    fn look_path_errors_are_runc_worded() {
        let e = look_path("no-such-cmd-xyz", "/usr/bin:/bin").unwrap_err();
        assert_eq!(
            e.to_string(),
            "exec: \"no-such-cmd-xyz\": executable file not found in $PATH"
        );
        assert_eq!(e.kind, ExecKind::NotFound);
        let e = look_path("/no/such/file", "/bin").unwrap_err();
        assert!(e.to_string().contains("no such file or directory"), "{e}");
        assert_eq!(e.kind, ExecKind::NotFound);
        let e = look_path("/etc/passwd", "/bin").unwrap_err();
        assert!(e.to_string().contains("permission denied"), "{e}");
        assert_eq!(e.kind, ExecKind::NotExecutable);
        // The words read back as the kind they were written for.
        for (cmd, path) in [("no-such-cmd-xyz", "/bin"), ("/etc/passwd", "/bin")] {
            let e = look_path(cmd, path).unwrap_err();
            assert_eq!(ExecKind::of_reported(&e.to_string()), Some(e.kind));
        }
        assert!(look_path("sh", "/usr/bin:/bin").is_ok());
    }
}
