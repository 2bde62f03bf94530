//! Running commands: every command a test runs goes through [`Running`],
//! which captures its output with a timeout and, for our own binaries,
//! fails the test on an error line that prints a cause twice.

use super::{BIN, SUPERVISOR};
use serde_json::Value;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// How long any one command may take before the test fails. The longer of
/// the two the old harnesses had: 2 shared cores make 30 s flaky.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(60);

/// What a command left: exit code (128+N if killed by signal N) and output.
#[derive(Debug, Clone)]
pub struct Out {
    pub cmdline: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Out {
    /// Assert exit `code`.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "expected exit {code}:\n{self}");
        self
    }

    /// Assert exit 0.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert_eq!(self.code, 0, "expected success:\n{self}");
        self
    }

    /// Assert a runtime error: exit 1, exactly one line on stderr, and that
    /// line contains every one of `needles`.
    #[track_caller]
    pub fn fails_with(&self, needles: &[&str]) -> &Self {
        assert_eq!(self.code, 1, "expected exit 1:\n{self}");
        let lines: Vec<&str> = self.stderr.trim_end().lines().collect();
        assert_eq!(lines.len(), 1, "expected one line on stderr:\n{self}");
        for n in needles {
            assert!(lines[0].contains(n), "stderr lacks {n:?}:\n{self}");
        }
        self
    }

    /// Assert a refusal: exit `code`, nothing on stdout, exactly one line on
    /// stderr, and that line contains every one of `needles`.
    #[track_caller]
    pub fn refused_with(&self, code: i32, needles: &[&str]) -> &Self {
        assert_eq!(self.code, code, "expected exit {code}:\n{self}");
        assert_eq!(
            self.stdout, "",
            "a refusal prints nothing on stdout:\n{self}"
        );
        let lines = self.stderr_lines();
        assert_eq!(
            lines.len(),
            1,
            "a refusal prints exactly one line on stderr:\n{self}"
        );
        for n in needles {
            assert!(
                lines[0].contains(n),
                "stderr line should mention {n:?}:\n{self}"
            );
        }
        self
    }

    /// Assert exit 125 with one stderr line naming every one of `needles`.
    #[track_caller]
    pub fn refused(&self, needles: &[&str]) -> &Self {
        self.refused_with(125, needles)
    }

    /// Assert stdout is exactly `want`.
    #[track_caller]
    pub fn stdout_is(&self, want: &str) -> &Self {
        assert_eq!(self.stdout, want, "unexpected stdout:\n{self}");
        self
    }

    /// The non-empty stderr lines.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }

    /// stdout, trimmed.
    pub fn out(&self) -> &str {
        self.stdout.trim()
    }

    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self}"))
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "$ {}\nexit: {} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.cmdline, self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// The command as a shell line, with the environment it sets.
pub fn describe(cmd: &Command) -> String {
    let mut s = String::new();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            s.push_str(&format!("{}={} ", k.to_string_lossy(), v.to_string_lossy()));
        }
    }
    s.push_str(&cmd.get_program().to_string_lossy());
    for a in cmd.get_args() {
        s.push(' ');
        let a = a.to_string_lossy();
        if a.is_empty() || a.contains(' ') {
            s.push_str(&format!("{a:?}"));
        } else {
            s.push_str(&a);
        }
    }
    s
}

/// True when `cmd` runs one of our binaries, directly or through a wrapper
/// (`script -c`, `unshare`), and not a control runtime.
fn runs_ours(cmd: &Command) -> bool {
    let ours = |s: &str| s.contains(BIN) || s.contains(SUPERVISOR);
    let program = cmd.get_program().to_string_lossy();
    let installed_copy = Path::new(&*program)
        .file_name()
        .is_some_and(|n| n == "cellos-runtime" || n == "cellos-supervisor");
    ours(&program) || installed_copy || cmd.get_args().any(|a| ours(&a.to_string_lossy()))
}

/// The first line of `stderr` that prints a cause twice: a `: X` suffix
/// whose X already stood earlier in the line as a whole `: `-separated
/// part, e.g. `a: No such file (os error 2): No such file (os error 2)`.
pub fn doubled_cause(stderr: &str) -> Option<&str> {
    stderr.lines().find(|line| {
        let starts: Vec<usize> = std::iter::once(0)
            .chain(line.match_indices(": ").map(|(i, _)| i + 2))
            .collect();
        starts.iter().skip(1).any(|&tail| {
            let cause = &line[tail..];
            !cause.trim().is_empty()
                && starts
                    .iter()
                    .take_while(|&&s| s + cause.len() + 2 <= tail)
                    .any(|&s| {
                        line[s..].starts_with(cause) && line[s + cause.len()..].starts_with(": ")
                    })
        })
    })
}

/// An error naming the line, when our binary's stderr repeats a cause.
fn check_causes(out: &Out, ours: bool) -> Result<(), String> {
    match doubled_cause(&out.stderr).filter(|_| ours) {
        Some(line) => Err(format!("cause printed twice: {line:?}\n{out}")),
        None => Ok(()),
    }
}

/// Fail the test when `stderr` of our binary (collected outside [`Running`],
/// e.g. in a file an orphaned init keeps open) repeats a cause.
#[track_caller]
pub fn assert_single_causes(what: &str, stderr: &str) {
    if let Some(line) = doubled_cause(stderr) {
        panic!("{what}: cause printed twice: {line:?}\n{stderr}");
    }
}

fn status_code(st: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

fn set_nonblocking(fd: i32) {
    // SAFETY: fcntl on a pipe fd we own.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
}

/// Read whatever is available now.
fn drain(r: &mut impl Read, buf: &mut Vec<u8>) {
    let mut chunk = [0u8; 8192];
    loop {
        match r.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
    }
}

/// Where a started command's stdout/stderr go.
enum Capture {
    Pipes(ChildStdout, ChildStderr),
    /// Files in this dir (`stdout`, `stderr`): a container started by the
    /// command inherits them and keeps collecting its output there.
    Files(std::path::PathBuf),
}

/// A command started by the harness; [`Running::wait`] collects it.
pub struct Running {
    pub child: Child,
    cmdline: String,
    ours: bool,
    started: Instant,
    capture: Capture,
    out: Vec<u8>,
    err: Vec<u8>,
    done: bool,
}

fn start(mut cmd: Command, input: Option<&[u8]>, files: Option<&Path>) -> Result<Running, String> {
    let cmdline = describe(&cmd);
    let ours = runs_ours(&cmd);
    match files {
        Some(dir) => {
            let f = |n: &str| std::fs::File::create(dir.join(n)).map_err(|e| format!("{n}: {e}"));
            cmd.stdout(f("stdout")?).stderr(f("stderr")?);
        }
        None => {
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        }
    }
    if input.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().map_err(|e| format!("spawn {cmdline}: {e}"))?;
    if let (Some(data), Some(mut w)) = (input, child.stdin.take()) {
        w.write_all(data)
            .map_err(|e| format!("write stdin of {cmdline}: {e}"))?;
    }
    let capture = match (files, child.stdout.take(), child.stderr.take()) {
        (Some(dir), _, _) => Capture::Files(dir.to_path_buf()),
        (None, Some(so), Some(se)) => {
            set_nonblocking(so.as_raw_fd());
            set_nonblocking(se.as_raw_fd());
            Capture::Pipes(so, se)
        }
        _ => return Err(format!("no pipes for {cmdline}")),
    };
    Ok(Running {
        child,
        cmdline,
        ours,
        started: Instant::now(),
        capture,
        out: Vec::new(),
        err: Vec::new(),
        done: false,
    })
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn pump(&mut self) {
        if let Capture::Pipes(so, se) = &mut self.capture {
            drain(so, &mut self.out);
            drain(se, &mut self.err);
        }
    }

    /// Wait for the process itself to exit, not for EOF (a container it
    /// started may keep the pipes open); kill it after `timeout`.
    pub fn try_wait_for(mut self, timeout: Duration) -> Result<Out, String> {
        let deadline = self.started + timeout;
        let code = loop {
            self.pump();
            if let Ok(Some(st)) = self.child.try_wait() {
                self.pump();
                break status_code(st);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                self.done = true;
                return Err(format!(
                    "timed out after {timeout:?}: {}\nstdout: {}\nstderr: {}",
                    self.cmdline,
                    String::from_utf8_lossy(&self.out),
                    String::from_utf8_lossy(&self.err)
                ));
            }
            self.poll_pipes();
        };
        self.done = true;
        let (stdout, stderr) = match &self.capture {
            Capture::Pipes(..) => (
                String::from_utf8_lossy(&self.out).into_owned(),
                String::from_utf8_lossy(&self.err).into_owned(),
            ),
            Capture::Files(dir) => (
                read_lossy(&dir.join("stdout")),
                read_lossy(&dir.join("stderr")),
            ),
        };
        let out = Out {
            cmdline: self.cmdline.clone(),
            code,
            stdout,
            stderr,
            elapsed: self.started.elapsed(),
        };
        check_causes(&out, self.ours)?;
        Ok(out)
    }

    /// Sleep until output arrives or 5 ms pass (the exit check stays responsive).
    fn poll_pipes(&self) {
        let Capture::Pipes(so, se) = &self.capture else {
            std::thread::sleep(Duration::from_millis(5));
            return;
        };
        let mut fds = [so.as_raw_fd(), se.as_raw_fd()].map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        });
        // SAFETY: poll on two fds we own.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, 5) };
        if fds.iter().all(|f| f.revents & libc::POLLHUP != 0) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// SIGKILL the process and reap it; its output does not matter.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.done = true;
    }

    /// [`Running::try_wait_for`] with [`CMD_TIMEOUT`], failing the test on a
    /// timeout or a doubled cause.
    #[track_caller]
    pub fn wait(self) -> Out {
        self.try_wait_for(CMD_TIMEOUT)
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Start `cmd` with stdin closed and stdout/stderr collected.
#[track_caller]
pub fn spawn(mut cmd: Command) -> Running {
    cmd.stdin(Stdio::null());
    start(cmd, None, None).unwrap_or_else(|e| panic!("{e}"))
}

/// Start `cmd` with its stdout/stderr in `<dir>/stdout` and `<dir>/stderr`.
#[track_caller]
pub fn spawn_to_files(cmd: Command, dir: &Path) -> Running {
    start(cmd, None, Some(dir)).unwrap_or_else(|e| panic!("{e}"))
}

/// Run `cmd` to completion (stdin closed).
#[track_caller]
pub fn run(cmd: Command) -> Out {
    spawn(cmd).wait()
}

/// Run `cmd` with piped output (and `input` on stdin if given).
pub fn try_run_piped(cmd: Command, input: Option<&[u8]>, timeout: Duration) -> Result<Out, String> {
    start(cmd, input, None)?.try_wait_for(timeout)
}

/// `try_run_piped`, failing the test on a spawn error, timeout or doubled cause.
#[track_caller]
pub fn run_piped(cmd: Command, input: Option<&[u8]>, timeout: Duration) -> Out {
    try_run_piped(cmd, input, timeout).unwrap_or_else(|e| panic!("{e}"))
}

/// Run a script that drives our binary through other programs (engines,
/// a conformance suite): its stderr is theirs, so there is no cause check
/// (the suites check what the engines show).
#[track_caller]
pub fn run_script(mut cmd: Command, timeout: Duration) -> Out {
    cmd.stdin(Stdio::null());
    let mut running = start(cmd, None, None).unwrap_or_else(|e| panic!("{e}"));
    running.ours = false;
    running
        .try_wait_for(timeout)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Run a command whose stdout/stderr a container inherits (create, run
/// --detach, exec --detach): see [`spawn_to_files`].
#[track_caller]
pub fn run_to_files(cmd: Command, dir: &Path) -> Out {
    spawn_to_files(cmd, dir).wait()
}

/// Wait for a spawned child with a timeout (killing it on timeout).
pub fn wait_child(child: &mut Child, timeout: Duration) -> Option<i32> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            return Some(status_code(st));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Poll `f` every 10 ms until it returns Some, failing after `timeout`.
#[track_caller]
pub fn poll_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn read_lossy(p: &Path) -> String {
    std::fs::read(p)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Wait until `path` exists and holds something containing `needle`.
#[track_caller]
pub fn wait_file_contains(path: &Path, needle: &str) -> String {
    let what = format!("{} to contain {needle:?}", path.display());
    poll_until(&what, Duration::from_secs(10), || {
        let s = read_lossy(path);
        s.contains(needle).then_some(s)
    })
}

/// Make `src` (an fd of this process) appear as `target` in the child,
/// inherited across exec (no CLOEXEC), like a shell's `target<&src`.
pub fn inherit_fd(cmd: &mut Command, src: i32, target: i32) {
    use std::os::unix::process::CommandExt;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if src == target {
                // dup2 onto itself keeps FD_CLOEXEC: clear it by hand.
                let fl = libc::fcntl(src, libc::F_GETFD);
                if fl < 0 || libc::fcntl(src, libc::F_SETFD, fl & !libc::FD_CLOEXEC) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(src, target) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
