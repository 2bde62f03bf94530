//! Shared harness for the ExecutionCell tests (`tests/cell_*.rs`,
//! `tests/supervisor_*.rs`). Every test drives the real `cellos-supervisor`
//! and `cellos-runtime` binaries.
//!
//! Each test makes a [`Ctx`]: its own `CELLOS_STATE_DIR`
//! (`/tmp/cellos-ct-<name>-<pid>-<n>`), its own temp dir, unique spec ids
//! and unique `sleep` markers. [`Ctx::finish`] fails the test if any bundle,
//! container state, mount, cgroup or process is left behind; if the test
//! panics first, `Drop` cleans up best-effort instead.

#![allow(dead_code)]

use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const SUPERVISOR: &str = env!("CARGO_BIN_EXE_cellos-supervisor");
pub const RUNTIME: &str = env!("CARGO_BIN_EXE_cellos-runtime");
/// Debian's runc.
pub const RUNC: &str = "/usr/sbin/runc";
pub const FIXTURE_ROOTFS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/bundle-fixtures/busybox/rootfs"
);

/// How long any one command may take before the test fails.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(60);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn next() -> usize {
    COUNTER.fetch_add(1, Ordering::SeqCst) + 1
}

// ---------------------------------------------------------------------------
// Running commands

/// What a command left: exit code (128+N if killed by signal N) and output.
#[derive(Debug, Clone)]
pub struct Out {
    pub cmdline: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
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
        self.code(0)
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
}

/// A command started in the background, its output collected by threads.
pub struct Running {
    pub child: Child,
    cmdline: String,
    started: Instant,
    out: Option<std::thread::JoinHandle<Vec<u8>>>,
    err: Option<std::thread::JoinHandle<Vec<u8>>>,
}

fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

fn describe(cmd: &Command) -> String {
    let mut s = String::new();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            s.push_str(&format!("{}={} ", k.to_string_lossy(), v.to_string_lossy()));
        }
    }
    s.push_str(&cmd.get_program().to_string_lossy());
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Start `cmd` with stdin closed and stdout/stderr collected.
pub fn spawn(mut cmd: Command) -> Running {
    let cmdline = describe(&cmd);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmdline}: {e}"));
    let out = drain(child.stdout.take().unwrap());
    let err = drain(child.stderr.take().unwrap());
    Running {
        child,
        cmdline,
        started: Instant::now(),
        out: Some(out),
        err: Some(err),
    }
}

impl Running {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Wait for the exit (failing the test after [`CMD_TIMEOUT`]).
    pub fn wait(mut self) -> Out {
        let deadline = self.started + CMD_TIMEOUT;
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("timed out after {CMD_TIMEOUT:?}: {}", self.cmdline);
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let elapsed = self.started.elapsed();
        use std::os::unix::process::ExitStatusExt;
        let code = status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        let text = |h: Option<std::thread::JoinHandle<Vec<u8>>>| {
            String::from_utf8_lossy(&h.unwrap().join().unwrap_or_default()).into_owned()
        };
        Out {
            cmdline: self.cmdline.clone(),
            code,
            stdout: text(self.out.take()),
            stderr: text(self.err.take()),
            elapsed,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.out.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Run `cmd` to completion.
pub fn run(cmd: Command) -> Out {
    spawn(cmd).wait()
}

/// Poll `f` every 10ms until it returns Some, failing after `timeout`.
#[track_caller]
pub fn poll_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------
// Specs

/// A minimal valid cell spec.
pub fn cell(id: &str, argv: &[&str]) -> Value {
    json!({
        "apiVersion": "cellos.io/v1",
        "kind": "ExecutionCell",
        "spec": { "id": id, "run": { "argv": argv } }
    })
}

/// A cell running `/bin/sh -c script`.
pub fn sh_cell(id: &str, script: &str) -> Value {
    cell(id, &["/bin/sh", "-c", script])
}

/// Set the value at JSON pointer `ptr`, creating objects on the way.
pub fn set(v: &mut Value, ptr: &str, new: Value) {
    let mut cur = v;
    let parts: Vec<&str> = ptr.trim_start_matches('/').split('/').collect();
    for (i, p) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            cur[*p] = new;
            return;
        }
        if cur.get(*p).is_none_or(|x| !x.is_object()) {
            cur[*p] = json!({});
        }
        cur = &mut cur[*p];
    }
}

/// Remove the key at JSON pointer `ptr`.
pub fn unset(v: &mut Value, ptr: &str) {
    let (parent, key) = ptr.rsplit_once('/').unwrap();
    if let Some(obj) = v.pointer_mut(parent).and_then(Value::as_object_mut) {
        obj.remove(key);
    }
}

/// Parse JSON lines (events).
#[track_caller]
pub fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// The `type` of every event, without the `io.cellos.cell.` prefix.
pub fn event_kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            e["type"]
                .as_str()
                .unwrap_or("")
                .trim_start_matches("io.cellos.cell.")
                .to_string()
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Host inspection

/// Pids (other than ours) whose command line contains `needle`; zombies
/// (empty cmdline) do not count.
pub fn pids_matching(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(raw) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
        if cmdline.contains(needle) {
            out.push(pid);
        }
    }
    out
}

/// Pids of the `sleep MARKER` processes themselves (not the shells whose
/// command line merely mentions the marker).
pub fn sleep_pids(marker: &str) -> Vec<i32> {
    pids_matching(marker)
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|raw| {
                let args: Vec<&[u8]> = raw.split(|b| *b == 0).collect();
                args.len() >= 2 && args[0].ends_with(b"sleep") && args[1] == marker.as_bytes()
            })
        })
        .collect()
}

/// Cgroup directories of containers of spec `id` (`/cellos-<id>-<8 hex>`)
/// in every hierarchy.
pub fn cell_cgroups(spec_id: &str) -> Vec<PathBuf> {
    let prefix = format!("cellos-{spec_id}-");
    cgroups_where(|name| {
        name.strip_prefix(&prefix)
            .is_some_and(|rest| rest.len() == 8 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
    })
}

/// Cgroup directories named exactly `name` (or `cellos-<name>`) at the top
/// of any hierarchy.
pub fn named_cgroups(name: &str) -> Vec<PathBuf> {
    let prefixed = format!("cellos-{name}");
    cgroups_where(|n| n == name || n == prefixed)
}

fn cgroups_where(pred: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut roots = vec![PathBuf::from("/sys/fs/cgroup")];
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                roots.push(e.path());
            }
        }
    }
    for root in roots {
        let Ok(rd) = std::fs::read_dir(&root) else {
            continue;
        };
        for e in rd.flatten() {
            if e.file_name().to_str().is_some_and(&pred) && e.path().is_dir() {
                out.push(e.path());
            }
        }
    }
    out
}

/// Mount points (field 5 of mountinfo) at or below `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let d = dir.to_string_lossy().to_string();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| *m == d || m.starts_with(&format!("{d}/")))
        .map(String::from)
        .collect()
}

/// Entries of `dir`, sorted; empty if it does not exist.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The namespace links of the test process (`mnt` → `mnt:[4026531841]`).
pub fn host_ns(name: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{name}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn rmdir_cgroup_tree(p: &Path) {
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                rmdir_cgroup_tree(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(p);
}

fn detach_mounts_under(dir: &Path) {
    let mut m = mounts_under(dir);
    m.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for p in m {
        if let Ok(c) = std::ffi::CString::new(p) {
            // SAFETY: umount2 on a NUL-terminated path.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

// ---------------------------------------------------------------------------
// The per-test context

/// One test's private world. Call [`Ctx::finish`] at the end.
pub struct Ctx {
    pub name: String,
    /// `CELLOS_STATE_DIR`; not created by the harness.
    pub state: PathBuf,
    /// Scratch space for specs, workspaces, rootfs copies and bundles.
    pub tmp: PathBuf,
    ids: Mutex<BTreeSet<String>>,
    markers: Mutex<BTreeSet<String>>,
    /// Extra `cellos-runtime --root` directories (run --cell without CELLOS_STATE_DIR).
    roots: Mutex<BTreeSet<PathBuf>>,
    /// `runc --root` directories.
    runc_roots: Mutex<BTreeSet<PathBuf>>,
    /// Container ids runc may have created a cgroup for (no cgroupsPath).
    runc_ids: Mutex<BTreeSet<String>>,
    finished: bool,
}

impl Ctx {
    pub fn new(name: &str) -> Ctx {
        let n = next();
        let pid = std::process::id();
        let state = PathBuf::from(format!("/tmp/cellos-ct-{name}-{pid}-{n}"));
        let tmp = PathBuf::from(format!("/tmp/cellos-ct-{name}-{pid}-{n}-tmp"));
        let _ = std::fs::remove_dir_all(&state);
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).unwrap();
        Ctx {
            name: name.to_string(),
            state,
            tmp,
            ids: Mutex::new(BTreeSet::new()),
            markers: Mutex::new(BTreeSet::new()),
            roots: Mutex::new(BTreeSet::new()),
            runc_roots: Mutex::new(BTreeSet::new()),
            runc_ids: Mutex::new(BTreeSet::new()),
            finished: false,
        }
    }

    /// A fresh, unique spec id, tracked for the leftover checks.
    pub fn id(&self, tag: &str) -> String {
        let id = format!("ct-{}-{tag}-{}-{}", self.name, std::process::id(), next());
        self.ids.lock().unwrap().insert(id.clone());
        id
    }

    /// A unique `sleep` duration, e.g. `1000.00123450042`: a cell running
    /// `sleep MARKER` can be found with [`pids_matching`].
    pub fn marker(&self) -> String {
        let m = format!("1000.{:07}{:04}", std::process::id(), next());
        self.markers.lock().unwrap().insert(m.clone());
        m
    }

    /// A new empty directory below the temp dir.
    pub fn dir(&self, what: &str) -> PathBuf {
        let p = self.tmp.join(format!("{what}-{}", next()));
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// Write `spec` to a new file in the temp dir.
    pub fn spec_file(&self, spec: &Value) -> PathBuf {
        let p = self.tmp.join(format!("spec-{}.json", next()));
        std::fs::write(&p, serde_json::to_string_pretty(spec).unwrap()).unwrap();
        p
    }

    /// Write raw text as a spec file.
    pub fn raw_spec_file(&self, text: &str) -> PathBuf {
        let p = self.tmp.join(format!("spec-{}.json", next()));
        std::fs::write(&p, text).unwrap();
        p
    }

    /// A private copy of the busybox fixture rootfs (`cp -a`).
    pub fn rootfs_copy(&self) -> PathBuf {
        assert!(
            Path::new(FIXTURE_ROOTFS).join("bin/busybox").exists(),
            "busybox fixture missing: run `make fixtures`"
        );
        let dst = self.tmp.join(format!("rootfs-{}", next()));
        let out = Command::new("cp")
            .arg("-a")
            .arg(FIXTURE_ROOTFS)
            .arg(&dst)
            .output()
            .unwrap();
        assert!(out.status.success(), "cp -a fixture: {out:?}");
        dst
    }

    /// Register a `cellos-runtime --root` directory for the leftover checks.
    pub fn track_root(&self, root: &Path) {
        self.roots.lock().unwrap().insert(root.to_path_buf());
    }

    /// A `runc --root` directory (not created) tracked for the checks.
    pub fn runc_root(&self) -> PathBuf {
        let p = self.tmp.join(format!("runc-root-{}", next()));
        self.runc_roots.lock().unwrap().insert(p.clone());
        p
    }

    /// A container id for runc, tracked for the cgroup check.
    pub fn runc_id(&self, tag: &str) -> String {
        let id = format!("ct-{}-{tag}-{}-{}", self.name, std::process::id(), next());
        self.runc_ids.lock().unwrap().insert(id.clone());
        id
    }

    /// A command with a clean CELLOS_* environment, our state dir, and the
    /// temp dir as cwd.
    pub fn command(&self, program: &str, env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(program);
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if k.starts_with("CELLOS_") || k.starts_with("CELL_OS_") {
                cmd.env_remove(&*k);
            }
        }
        cmd.env("CELLOS_STATE_DIR", &self.state);
        cmd.current_dir(&self.tmp);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    /// `cellos-supervisor SPEC` with extra environment.
    pub fn supervisor_cmd(&self, spec: &Path, env: &[(&str, &str)]) -> Command {
        let mut cmd = self.command(SUPERVISOR, env);
        cmd.arg(spec);
        cmd
    }

    pub fn supervise(&self, spec: &Path, env: &[(&str, &str)]) -> Out {
        run(self.supervisor_cmd(spec, env))
    }

    /// Write `spec` and supervise it.
    pub fn supervise_spec(&self, spec: &Value, env: &[(&str, &str)]) -> Out {
        let f = self.spec_file(spec);
        self.supervise(&f, env)
    }

    /// `cellos-runtime --root <state>/cli-root run --cell SPEC`.
    pub fn run_cell_cmd(&self, spec: &Path, env: &[(&str, &str)]) -> Command {
        let root = self.state.join("cli-root");
        self.track_root(&root);
        let mut cmd = self.command(RUNTIME, env);
        cmd.arg("--root")
            .arg(&root)
            .args(["run", "--cell"])
            .arg(spec);
        cmd
    }

    pub fn run_cell(&self, spec: &Path, env: &[(&str, &str)]) -> Out {
        run(self.run_cell_cmd(spec, env))
    }

    /// Every runtime state root this test may have used.
    fn all_roots(&self) -> Vec<PathBuf> {
        let mut v = vec![self.state.join("runtime"), self.state.join("oci-root")];
        v.extend(self.roots.lock().unwrap().iter().cloned());
        v
    }

    /// What is left behind, one line per problem.
    pub fn leftovers(&self) -> Vec<String> {
        let mut bad = Vec::new();
        let cells = self.state.join("@cells");
        for e in entries(&cells) {
            bad.push(format!("bundle left: {}", cells.join(e).display()));
        }
        for root in self.all_roots() {
            for e in entries(&root) {
                let p = root.join(&e);
                let ok_engine_dir = e == "@bundles" && entries(&p).is_empty();
                // The `--root` of run --cell also holds the supervisor's
                // own state (events, @cells).
                let ok_extra = e == "events.jsonl" || e == "@cells";
                if !(ok_engine_dir || ok_extra) {
                    bad.push(format!("container state left: {}", p.display()));
                }
                if e == "@cells" {
                    for b in entries(&p) {
                        bad.push(format!("bundle left: {}", p.join(b).display()));
                    }
                }
            }
        }
        for root in self.runc_roots.lock().unwrap().iter() {
            for e in entries(root) {
                bad.push(format!("runc state left: {}", root.join(e).display()));
            }
        }
        for id in self.ids.lock().unwrap().iter() {
            for cg in cell_cgroups(id) {
                bad.push(format!("cgroup left: {}", cg.display()));
            }
        }
        for id in self.runc_ids.lock().unwrap().iter() {
            for cg in named_cgroups(id) {
                bad.push(format!("cgroup left: {}", cg.display()));
            }
        }
        for m in self.markers.lock().unwrap().iter() {
            for pid in pids_matching(m) {
                bad.push(format!("process left: pid {pid} runs `sleep {m}`"));
            }
        }
        for d in [&self.state, &self.tmp] {
            for m in mounts_under(d) {
                bad.push(format!("mount left: {m}"));
            }
        }
        bad
    }

    /// The explicit end-of-test check: nothing may be left. Removes the
    /// test's directories.
    #[track_caller]
    pub fn finish(mut self) {
        let bad = self.leftovers();
        self.finished = true;
        if !bad.is_empty() {
            self.cleanup();
            panic!(
                "test {} left things behind:\n  {}",
                self.name,
                bad.join("\n  ")
            );
        }
        let _ = std::fs::remove_dir_all(&self.state);
        let _ = std::fs::remove_dir_all(&self.tmp);
    }

    /// Best-effort removal of everything the test may have created.
    fn cleanup(&self) {
        for m in self.markers.lock().unwrap().iter() {
            for pid in pids_matching(m) {
                // SAFETY: kill(2) on a pid we found running our marker.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        for root in self.all_roots() {
            for e in entries(&root) {
                if e.starts_with('@') || e == "events.jsonl" {
                    continue;
                }
                let _ = Command::new(RUNTIME)
                    .arg("--root")
                    .arg(&root)
                    .args(["delete", "--force", &e])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        for root in self.runc_roots.lock().unwrap().iter() {
            for e in entries(root) {
                let _ = Command::new(RUNC)
                    .arg("--root")
                    .arg(root)
                    .args(["delete", "--force", &e])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        for id in self.ids.lock().unwrap().iter() {
            for cg in cell_cgroups(id) {
                rmdir_cgroup_tree(&cg);
            }
        }
        for id in self.runc_ids.lock().unwrap().iter() {
            for cg in named_cgroups(id) {
                rmdir_cgroup_tree(&cg);
            }
        }
        for d in [&self.state, &self.tmp] {
            detach_mounts_under(d);
            if mounts_under(d).is_empty() {
                let _ = std::fs::remove_dir_all(d);
            }
        }
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        if !self.finished {
            self.cleanup();
        }
    }
}

// ---------------------------------------------------------------------------
// Small file helpers

/// Write an executable shell script.
pub fn write_script(path: &Path, body: &str) {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Directory listing plus content of every regular file, for "unchanged"
/// comparisons.
pub fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = entries(dir)
        .into_iter()
        .map(|e| {
            let p = dir.join(&e);
            (e, std::fs::read(&p).unwrap_or_default())
        })
        .collect();
    v.sort();
    v
}
