//! Shared harness for the integration tests: every test drives the real
//! `cellos-runtime` binary against real containers built from the busybox
//! fixture (`make fixtures`).
//!
//! Each test makes an [`Env`]: its own `--root`, its own temp dir for
//! bundles, and unique container IDs. `Env::finish()` force-deletes every
//! container and fails the test if any state dir, cgroup or process is left
//! behind. If the test panics first, `Drop` cleans up best-effort instead.

#![allow(dead_code)]

use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_cellos-runtime");

/// The runtime the tests drive: ours, or another one as a control
/// (`CELLOS_TEST_RUNTIME=/usr/sbin/runc cargo test --test security_…`).
pub fn runtime() -> String {
    std::env::var("CELLOS_TEST_RUNTIME").unwrap_or_else(|_| BIN.to_string())
}

/// True when the tests drive a control runtime rather than cellos-runtime.
pub fn is_control() -> bool {
    std::env::var_os("CELLOS_TEST_RUNTIME").is_some()
}
pub const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/bundle-fixtures/busybox");

/// How long any single runtime command may take before the test fails.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(30);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The fixture's rootfs, as an absolute path.
pub fn fixture_rootfs() -> PathBuf {
    let p = Path::new(FIXTURE).join("rootfs");
    assert!(
        p.join("bin/busybox").exists(),
        "busybox fixture missing at {}: run `make fixtures`",
        p.display()
    );
    p.canonicalize().expect("canonicalize fixture rootfs")
}

/// The fixture's config.json, with `root.path` made absolute.
pub fn base_config() -> Value {
    let text = std::fs::read_to_string(Path::new(FIXTURE).join("config.json"))
        .expect("read fixture config.json");
    let mut cfg: Value = serde_json::from_str(&text).expect("parse fixture config.json");
    cfg["root"]["path"] = json!(fixture_rootfs());
    cfg
}

/// Set `process.args`.
pub fn set_args(cfg: &mut Value, args: &[&str]) {
    cfg["process"]["args"] = json!(args);
}

/// What a runtime command left: exit code (128+N if killed by signal N) and output.
#[derive(Debug, Clone)]
pub struct Out {
    pub cmdline: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Assert exit 0.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert_eq!(self.code, 0, "expected success:\n{self}");
        self
    }

    /// Assert exit `code`.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "expected exit {code}:\n{self}");
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

    /// stdout, trimmed.
    pub fn out(&self) -> &str {
        self.stdout.trim()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self}"))
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "$ {}\nexit: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.cmdline, self.code, self.stdout, self.stderr
        )
    }
}

fn status_code(st: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
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

fn set_nonblocking(fd: i32) {
    // SAFETY: fcntl on a pipe fd we own.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
}

/// Read whatever is available now; false once EOF.
fn drain(r: &mut impl Read, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 8192];
    loop {
        match r.read(&mut chunk) {
            Ok(0) => return false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return true,
        }
    }
}

/// Run `cmd` with piped stdout/stderr (and `input` on stdin if given),
/// waiting for the process itself to exit rather than for EOF: a container
/// started by the command may keep the pipes open.
pub fn try_run_piped(
    mut cmd: Command,
    input: Option<&[u8]>,
    timeout: Duration,
) -> Result<Out, String> {
    let cmdline = describe(&cmd);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    if input.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().map_err(|e| format!("spawn {cmdline}: {e}"))?;
    if let (Some(data), Some(mut w)) = (input, child.stdin.take()) {
        w.write_all(data)
            .map_err(|e| format!("write stdin of {cmdline}: {e}"))?;
    }
    let (Some(mut so), Some(mut se)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(format!("no pipes for {cmdline}"));
    };
    set_nonblocking(so.as_raw_fd());
    set_nonblocking(se.as_raw_fd());
    let (mut ob, mut eb) = (Vec::new(), Vec::new());
    let deadline = Instant::now() + timeout;
    let code = loop {
        drain(&mut so, &mut ob);
        drain(&mut se, &mut eb);
        if let Ok(Some(st)) = child.try_wait() {
            drain(&mut so, &mut ob);
            drain(&mut se, &mut eb);
            break status_code(st);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "timed out after {timeout:?}: {cmdline}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&ob),
                String::from_utf8_lossy(&eb)
            ));
        }
        let mut fds = [
            libc::pollfd {
                fd: so.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: se.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: poll on two fds we own. POLLHUP ends the wait early; the
        // 5 ms cap keeps the exit check responsive.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, 5) };
        if fds.iter().all(|f| f.revents & libc::POLLHUP != 0) {
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    Ok(Out {
        cmdline,
        code,
        stdout: String::from_utf8_lossy(&ob).into_owned(),
        stderr: String::from_utf8_lossy(&eb).into_owned(),
    })
}

/// `try_run_piped`, failing the test on a spawn error or timeout.
pub fn run_piped(cmd: Command, input: Option<&[u8]>, timeout: Duration) -> Out {
    try_run_piped(cmd, input, timeout).unwrap_or_else(|e| panic!("{e}"))
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

/// Poll `f` until it returns Some, or panic with `what` after `timeout`.
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

/// An RFC 3339 timestamp, e.g. 2026-11-28T12:00:00Z or …T12:00:00.123456789+01:00.
pub fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || !(b[10] == b'T' || b[10] == b't')
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match &s[i..] {
        "Z" | "z" => true,
        off => {
            let o = off.as_bytes();
            o.len() == 6
                && (o[0] == b'+' || o[0] == b'-')
                && o[1..3].iter().all(u8::is_ascii_digit)
                && o[3] == b':'
                && o[4..6].iter().all(u8::is_ascii_digit)
        }
    }
}

/// CapEff (etc.) line value from /proc/<pid>/status text.
pub fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|l| {
        l.strip_prefix(key)
            .and_then(|r| r.strip_prefix(':'))
            .map(str::trim)
    })
}

/// The cgroup directories a container with this ID could own on this host.
pub fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let name = format!("cellos-{id}");
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        for e in rd.flatten() {
            let p = e.path().join(&name);
            if p.exists() {
                out.push(p);
            }
        }
    }
    let direct = Path::new("/sys/fs/cgroup").join(&name);
    if direct.exists() {
        out.push(direct);
    }
    out
}

/// The memory controller's directory for the container (v1 or v2).
pub fn memory_cgroup(id: &str) -> PathBuf {
    let v1 = PathBuf::from(format!("/sys/fs/cgroup/memory/cellos-{id}"));
    if Path::new("/sys/fs/cgroup/memory").is_dir() {
        return v1;
    }
    unified_cgroup(id)
}

/// The container's cgroup2 directory (hybrid: under /unified).
pub fn unified_cgroup(id: &str) -> PathBuf {
    if Path::new("/sys/fs/cgroup/unified").is_dir() {
        PathBuf::from(format!("/sys/fs/cgroup/unified/cellos-{id}"))
    } else {
        PathBuf::from(format!("/sys/fs/cgroup/cellos-{id}"))
    }
}

/// Live (non-zombie) host pids whose cgroup path names the container.
pub fn pids_in_cgroup_of(id: &str) -> Vec<i32> {
    let needle = format!("/cellos-{id}");
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(cg) = std::fs::read_to_string(e.path().join("cgroup")) else {
            continue;
        };
        let hit = cg.lines().any(|l| {
            l.split(':').nth(2).is_some_and(|path| {
                path == needle
                    || path.starts_with(&format!("{needle}/"))
                    || path.ends_with(&needle)
                    || path.contains(&format!("{needle}/"))
            })
        });
        if hit && !is_zombie(pid) {
            out.push(pid);
        }
    }
    out
}

pub fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().next().map(|st| st == "Z" || st == "X"))
        })
        .unwrap_or(true)
}

pub fn pid_alive(pid: i32) -> bool {
    pid > 0 && Path::new(&format!("/proc/{pid}")).exists() && !is_zombie(pid)
}

/// One test's world: its own state root, temp dir and container IDs.
pub struct Env {
    pub name: String,
    /// Temp dir holding bundles, the state root, and outputs.
    pub dir: PathBuf,
    /// The `--root` given to every runtime command.
    pub root: PathBuf,
    ids: Mutex<BTreeSet<String>>,
    counter: AtomicUsize,
    finished: Mutex<bool>,
}

impl Env {
    pub fn new(name: &str) -> Env {
        let _ = fixture_rootfs();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = PathBuf::from(format!("/tmp/cellos-t-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create test dir");
        let root = dir.join("state");
        Env {
            name: name.to_string(),
            dir,
            root,
            ids: Mutex::new(BTreeSet::new()),
            counter: AtomicUsize::new(0),
            finished: Mutex::new(false),
        }
    }

    fn next(&self) -> usize {
        self.counter.fetch_add(1, Ordering::SeqCst)
    }

    /// A fresh container ID, unique across tests and test processes.
    pub fn id(&self) -> String {
        let id = format!("{}-{}-{}", self.name, std::process::id(), self.next());
        self.track(&id);
        id
    }

    /// Remember an ID for the leak checks (e.g. one the test chose itself).
    pub fn track(&self, id: &str) {
        self.ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.to_string());
    }

    /// A fresh empty directory inside the test dir.
    pub fn subdir(&self, what: &str) -> PathBuf {
        let d = self.dir.join(format!("{what}-{}", self.next()));
        std::fs::create_dir_all(&d).expect("create subdir");
        d
    }

    /// A new bundle dir whose config.json is the fixture's, edited by `edit`.
    pub fn bundle(&self, edit: impl FnOnce(&mut Value)) -> PathBuf {
        let mut cfg = base_config();
        edit(&mut cfg);
        self.bundle_from(&cfg)
    }

    pub fn bundle_from(&self, cfg: &Value) -> PathBuf {
        let dir = self.subdir("bundle");
        std::fs::write(
            dir.join("config.json"),
            serde_json::to_string_pretty(cfg).unwrap(),
        )
        .expect("write config.json");
        dir
    }

    /// A bundle running `args`.
    pub fn bundle_args(&self, args: &[&str]) -> PathBuf {
        self.bundle(|c| set_args(c, args))
    }

    /// The runtime with `--root` set and stdin from /dev/null.
    pub fn rt_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(runtime());
        c.arg("--root").arg(&self.root).args(args);
        c.stdin(Stdio::null());
        c
    }

    /// Run the runtime with `--root` prepended; capture output.
    pub fn rt(&self, args: &[&str]) -> Out {
        run_piped(self.rt_cmd(args), None, CMD_TIMEOUT)
    }

    /// Run the runtime with exactly these arguments (no `--root` added).
    pub fn rt_exact(&self, args: &[&str]) -> Out {
        let mut c = Command::new(runtime());
        c.args(args).stdin(Stdio::null());
        run_piped(c, None, CMD_TIMEOUT)
    }

    /// Like `rt`, with `input` on stdin.
    pub fn rt_stdin(&self, args: &[&str], input: &[u8]) -> Out {
        run_piped(self.rt_cmd(args), Some(input), CMD_TIMEOUT)
    }

    /// Run a command whose stdout/stderr the container inherits (create,
    /// run --detach, exec --detach): they go to `<out_dir>/stdout` and
    /// `<out_dir>/stderr`, which keep collecting the container's output.
    pub fn rt_to_files(&self, mut cmd: Command, out_dir: &Path) -> Out {
        let cmdline = describe(&cmd);
        let so = std::fs::File::create(out_dir.join("stdout")).unwrap();
        let se = std::fs::File::create(out_dir.join("stderr")).unwrap();
        cmd.stdout(so).stderr(se);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmdline}: {e}"));
        let code = wait_child(&mut child, CMD_TIMEOUT)
            .unwrap_or_else(|| panic!("timed out after {CMD_TIMEOUT:?}: {cmdline}"));
        Out {
            cmdline,
            code,
            stdout: read_lossy(&out_dir.join("stdout")),
            stderr: read_lossy(&out_dir.join("stderr")),
        }
    }

    /// `create --bundle B ID`, stdio into files in the bundle.
    pub fn create(&self, bundle: &Path, id: &str, extra: &[&str]) -> Out {
        let mut args = vec!["create", "--bundle", bundle.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push(id);
        self.rt_to_files(self.rt_cmd(&args), bundle)
    }

    /// The container's output so far (stdout file of its bundle).
    pub fn output(&self, bundle: &Path) -> String {
        read_lossy(&bundle.join("stdout"))
    }

    pub fn start(&self, id: &str) -> Out {
        self.rt(&["start", id])
    }

    /// Create and start a container running `args`; returns (id, bundle).
    pub fn create_started(&self, args: &[&str]) -> (String, PathBuf) {
        self.create_started_with(|c| set_args(c, args))
    }

    /// Create and start a container from an edited fixture config.
    pub fn create_started_with(&self, edit: impl FnOnce(&mut Value)) -> (String, PathBuf) {
        let bundle = self.bundle(edit);
        let id = self.id();
        self.create(&bundle, &id, &[]).ok();
        self.start(&id).ok();
        (id, bundle)
    }

    /// A long-running container (sleep), started.
    pub fn sleeper(&self) -> (String, PathBuf) {
        self.create_started(&["sleep", "1000"])
    }

    /// `state ID` as JSON (asserting success and an empty stderr).
    pub fn state(&self, id: &str) -> Value {
        let o = self.rt(&["state", id]);
        o.ok();
        assert_eq!(o.stderr, "", "state printed on stderr:\n{o}");
        o.json()
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap_or("").to_string()
    }

    /// Poll `state` until the status is `want`.
    #[track_caller]
    pub fn wait_status(&self, id: &str, want: &str) -> Value {
        let what = format!("container {id} to be {want}");
        poll_until(&what, Duration::from_secs(15), || {
            // The container may not exist yet (a foreground run being set up).
            let o = self.rt(&["state", id]);
            if o.code != 0 {
                return None;
            }
            assert_eq!(o.stderr, "", "state printed on stderr:\n{o}");
            let s = o.json();
            (s["status"] == want).then_some(s)
        })
    }

    /// `exec ID cmd…` in the foreground.
    pub fn exec(&self, id: &str, cmd: &[&str]) -> Out {
        let mut args = vec!["exec", id];
        args.extend_from_slice(cmd);
        self.rt(&args)
    }

    /// A foreground `run` of a bundle (captured output), returns the Out.
    pub fn run_fg(&self, bundle: &Path, id: &str) -> Out {
        self.rt(&["run", "--bundle", bundle.to_str().unwrap(), id])
    }

    /// Run `args` in a fresh container in the foreground, with `edit` applied.
    pub fn run_with(&self, edit: impl FnOnce(&mut Value)) -> Out {
        let b = self.bundle(edit);
        let id = self.id();
        self.run_fg(&b, &id)
    }

    /// Run `args` in a fresh fixture container in the foreground.
    pub fn run_args(&self, args: &[&str]) -> Out {
        self.run_with(|c| set_args(c, args))
    }

    /// Assert that nothing is left of container `id`: no state dir, no
    /// engine copy of its bundle, no cgroup, no process.
    #[track_caller]
    pub fn assert_gone(&self, id: &str) {
        let problems = self.leftovers(id);
        assert!(problems.is_empty(), "left behind: {problems:#?}");
    }

    fn leftovers(&self, id: &str) -> Vec<String> {
        let mut p = Vec::new();
        if self.root.join(id).exists() {
            p.push(format!("state dir {}", self.root.join(id).display()));
        }
        let eb = self.root.join("@bundles").join(id);
        if eb.exists() {
            p.push(format!("engine bundle {}", eb.display()));
        }
        for d in cgroup_dirs(id) {
            p.push(format!("cgroup {}", d.display()));
        }
        for pid in pids_in_cgroup_of(id) {
            p.push(format!("process {pid} in cgroup of {id}"));
        }
        p
    }

    /// Force-delete everything, then report anything left behind.
    fn cleanup(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut ids: BTreeSet<String> = self.ids.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Ok(rd) = std::fs::read_dir(&self.root) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n != "@bundles" {
                    ids.insert(n);
                }
            }
        }
        for id in &ids {
            if self.root.join(id).exists() {
                let mut c = self.rt_cmd(&["delete", "--force", id]);
                c.stdout(Stdio::null()).stderr(Stdio::piped());
                // Never panic here: this also runs in Drop during a panic.
                match try_run_piped(c, None, Duration::from_secs(20)) {
                    Ok(o) if o.code == 0 => {}
                    Ok(o) => {
                        problems.push(format!("delete --force {id} failed: {}", o.stderr.trim()))
                    }
                    Err(e) => problems.push(e),
                }
            }
        }
        for id in &ids {
            let found = self.leftovers(id);
            if found.is_empty() {
                continue;
            }
            problems.extend(found);
            // Clean the mess: kill processes, then remove cgroups and state.
            for _ in 0..50 {
                let pids = pids_in_cgroup_of(id);
                if pids.is_empty() {
                    break;
                }
                for pid in pids {
                    // SAFETY: plain kill(2).
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            for d in cgroup_dirs(id) {
                remove_cgroup(&d);
            }
        }
        if let Ok(rd) = std::fs::read_dir(self.root.join("@bundles")) {
            for e in rd.flatten() {
                problems.push(format!("leftover {}", e.path().display()));
            }
        }
        if let Ok(rd) = std::fs::read_dir(&self.root) {
            for e in rd.flatten() {
                if e.file_name() != "@bundles" {
                    problems.push(format!("leftover {}", e.path().display()));
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        problems.sort();
        problems.dedup();
        problems
    }

    /// End of test: force-delete everything and fail if anything leaked.
    pub fn finish(self) {
        *self.finished.lock().unwrap_or_else(|e| e.into_inner()) = true;
        let problems = self.cleanup();
        assert!(
            problems.is_empty(),
            "test {} left things behind: {problems:#?}",
            self.name
        );
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if *self.finished.lock().unwrap_or_else(|e| e.into_inner()) {
            return;
        }
        let problems = self.cleanup();
        if !problems.is_empty() && !std::thread::panicking() {
            eprintln!(
                "test {} did not call finish(); cleaned up: {problems:#?}",
                self.name
            );
        }
    }
}

fn remove_cgroup(d: &Path) {
    // Children first (e.g. exec sub-cgroups), then the dir itself.
    if let Ok(rd) = std::fs::read_dir(d) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup(&e.path());
            }
        }
    }
    for _ in 0..20 {
        if std::fs::remove_dir(d).is_ok() || !d.exists() {
            return;
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

/// A private, writable copy of the fixture rootfs, for tests that plant files in the image.
pub fn copy_fixture_rootfs(env: &Env) -> PathBuf {
    let rootfs = env.subdir("rootfs").join("rootfs");
    let st = Command::new("cp")
        .arg("-a")
        .arg(fixture_rootfs())
        .arg(&rootfs)
        .status()
        .expect("run cp");
    assert!(st.success(), "cp -a {}", fixture_rootfs().display());
    rootfs
}

/// tests/security/<name>.c compiled statically into the test's dir (gone
/// with it), to be copied into a rootfs or run against a container.
pub fn c_helper(env: &Env, name: &str) -> PathBuf {
    let out = env.dir.join(format!("helper-{name}"));
    if !out.exists() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/security/{name}.c"));
        let st = Command::new("gcc")
            .args(["-static", "-O2", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("run gcc");
        assert!(st.success(), "gcc {}", src.display());
    }
    out
}

/// Lines of /proc/self/mountinfo that name `path` (a rootfs, a state root).
pub fn mounts_naming(path: &Path) -> Vec<String> {
    let needle = path.to_string_lossy().into_owned();
    read_lossy(Path::new("/proc/self/mountinfo"))
        .lines()
        .filter(|l| l.contains(&needle))
        .map(str::to_string)
        .collect()
}

/// Entries left in a state root (none once the last container is deleted).
pub fn root_entries(root: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(root)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// The exec process files our runtime left in a container's scratch dir
/// (each `exec` writes one and must remove it).
pub fn exec_files_left(env: &Env, id: &str) -> Vec<String> {
    std::fs::read_dir(env.root.join("@bundles").join(id))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("exec-"))
                .collect()
        })
        .unwrap_or_default()
}
