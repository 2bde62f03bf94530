//! A terminal for a foreground `run`/`exec` whose process wants one
//! (`process.terminal: true`) when the caller gave no `--console-socket`:
//! we take the pty master ourselves through a private console socket and
//! join it to our own stdio, as runc does for `runc run` in a shell.

use crate::error::{Error, Result};
use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
use nix::sys::termios::{SetArg, Termios, cfmakeraw, tcgetattr, tcsetattr};
use std::io::{IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

/// The listening side of a console socket in our private directory.
pub struct ConsoleSocket {
    path: PathBuf,
    listener: UnixListener,
}

impl ConsoleSocket {
    pub fn bind(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(format!("console-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).map_err(|e| Error::io(&path, e))?;
        Ok(Self { path, listener })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accept the runtime's connection and take the pty master it sends.
    pub fn receive(self) -> Result<OwnedFd> {
        let (stream, _) = self
            .listener
            .accept()
            .map_err(|e| Error::io(&self.path, e))?;
        let mut buf = [0u8; 4096];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let msg = recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(|e| Error::sys("recvmsg", self.path.display(), e))?;
        for c in msg
            .cmsgs()
            .map_err(|e| Error::sys("recvmsg", self.path.display(), e))?
        {
            if let ControlMessageOwned::ScmRights(fds) = c
                && let Some(fd) = fds.first()
            {
                // SAFETY: the kernel just installed this fd for us.
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
        Err(Error::NoPtyMaster {
            socket: self.path.clone(),
        })
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Our stdin in raw mode while the container owns the terminal; restored on drop.
struct RawMode(Option<Termios>);

impl RawMode {
    fn enter() -> Self {
        let stdin = std::io::stdin();
        let Ok(saved) = tcgetattr(stdin.as_fd()) else {
            return Self(None);
        };
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        Self(Some(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, t);
        }
    }
}

/// The running proxy between our stdio and the pty master.
pub struct Proxy {
    output: JoinHandle<()>,
    _raw: RawMode,
}

impl Proxy {
    /// Copy the window size, put our terminal in raw mode, and pump bytes both ways.
    pub fn start(master: OwnedFd) -> Self {
        // SAFETY: TIOCGWINSZ/TIOCSWINSZ with a properly sized winsize struct.
        unsafe {
            let mut ws: libc::winsize = std::mem::zeroed();
            if libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0 {
                libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws);
            }
        }
        let raw = RawMode::enter();
        let mut reader = std::fs::File::from(master);
        let mut writer = reader.try_clone().ok();
        // stdin → pty: a daemon-like thread; it ends with the process.
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut stdin = std::io::stdin();
            while let (Ok(n), Some(w)) = (stdin.read(&mut buf), writer.as_mut()) {
                if n == 0 || w.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
        // pty → stdout until EIO: every slave end is closed.
        let output = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut out = std::io::stdout();
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || out.write_all(&buf[..n]).is_err() {
                    break;
                }
                let _ = out.flush();
            }
        });
        Self { output, _raw: raw }
    }

    /// Wait (briefly) for the last output after the process has exited.
    pub fn finish(self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while !self.output.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}
