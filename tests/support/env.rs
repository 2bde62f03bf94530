//! [`Env`]: one runtime test's world (its own `--root`, temp dir and
//! container IDs), and the force-delete and leak checks at its end.
//! `Env::finish()` fails the test if any state dir, cgroup or process is
//! left behind; if the test panics first, `Drop` cleans up best-effort.

use super::fixture::{base_config, fixture_rootfs, set_args};
use super::host::{cgroup_dirs, entries, kill_all, pids_in_cgroup_of, remove_cgroup};
use super::run::{
    CMD_TIMEOUT, Out, poll_until, read_lossy, run_piped, run_to_files, try_run_piped,
};
use super::runtime;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A number unique in this test process.
pub fn next_unique() -> usize {
    COUNTER.fetch_add(1, Ordering::SeqCst) + 1
}

/// `PROGRAM --root ROOT delete --force ID`, never panicking (it also runs
/// from `Drop` during a panic): an error says what failed.
pub fn force_delete(program: &str, root: &Path, id: &str) -> Result<(), String> {
    let mut c = Command::new(program);
    c.arg("--root").arg(root).args(["delete", "--force", id]);
    c.stdin(Stdio::null());
    match try_run_piped(c, None, Duration::from_secs(20)) {
        Ok(o) if o.code == 0 => Ok(()),
        Ok(o) => Err(format!("delete --force {id} failed: {}", o.stderr.trim())),
        Err(e) => Err(e),
    }
}

/// One test's world: its own state root, temp dir and container IDs.
pub struct Env {
    pub name: String,
    /// Temp dir holding bundles, the state root, and outputs.
    pub dir: PathBuf,
    /// The `--root` given to every runtime command.
    pub root: PathBuf,
    ids: Mutex<BTreeSet<String>>,
    finished: Mutex<bool>,
}

impl Env {
    pub fn new(name: &str) -> Env {
        let _ = fixture_rootfs();
        let n = next_unique();
        let dir = PathBuf::from(format!("/tmp/cellos-t-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create test dir");
        let root = dir.join("state");
        Env {
            name: name.to_string(),
            dir,
            root,
            ids: Mutex::new(BTreeSet::new()),
            finished: Mutex::new(false),
        }
    }

    /// A fresh container ID, unique across tests and test processes.
    pub fn id(&self) -> String {
        let id = format!("{}-{}-{}", self.name, std::process::id(), next_unique());
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
        let d = self.dir.join(format!("{what}-{}", next_unique()));
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
    #[track_caller]
    pub fn rt(&self, args: &[&str]) -> Out {
        run_piped(self.rt_cmd(args), None, CMD_TIMEOUT)
    }

    /// Run the runtime with `--root` prepended under `strace -qq -e
    /// trace=SYSCALLS` (the runtime's own process only, not its children);
    /// returns its output and the trace.
    #[track_caller]
    pub fn rt_traced(&self, syscalls: &str, args: &[&str]) -> (Out, String) {
        let trace = self.subdir("strace").join("trace");
        let rt = self.rt_cmd(args);
        let mut cmd = Command::new("strace");
        cmd.args(["-qq", "-e", &format!("trace={syscalls}"), "-o"])
            .arg(&trace)
            .arg(rt.get_program())
            .args(rt.get_args())
            .stdin(Stdio::null());
        let o = run_piped(cmd, None, CMD_TIMEOUT);
        (o, read_lossy(&trace))
    }

    /// Run the runtime with exactly these arguments (no `--root` added).
    #[track_caller]
    pub fn rt_exact(&self, args: &[&str]) -> Out {
        let mut c = Command::new(runtime());
        c.args(args).stdin(Stdio::null());
        run_piped(c, None, CMD_TIMEOUT)
    }

    /// Like `rt`, with `input` on stdin.
    #[track_caller]
    pub fn rt_stdin(&self, args: &[&str], input: &[u8]) -> Out {
        run_piped(self.rt_cmd(args), Some(input), CMD_TIMEOUT)
    }

    /// Run a command whose stdout/stderr the container inherits (create,
    /// run --detach, exec --detach): they go to `<out_dir>/stdout` and
    /// `<out_dir>/stderr`, which keep collecting the container's output.
    #[track_caller]
    pub fn rt_to_files(&self, cmd: Command, out_dir: &Path) -> Out {
        run_to_files(cmd, out_dir)
    }

    /// `exec OPTS --detach --pid-file P ID ARGS`, stdio into files in
    /// `out_dir` (the detached process keeps writing there).
    #[track_caller]
    pub fn exec_detached(
        &self,
        id: &str,
        opts: &[&str],
        pid_file: &Path,
        args: &[&str],
        out_dir: &Path,
    ) -> Out {
        let pid_file = pid_file.to_str().expect("UTF-8 path");
        let mut line = vec!["exec"];
        line.extend_from_slice(opts);
        line.extend(["--detach", "--pid-file", pid_file, id]);
        line.extend_from_slice(args);
        self.rt_to_files(self.rt_cmd(&line), out_dir)
    }

    /// `create --bundle B ID`, stdio into files in the bundle.
    #[track_caller]
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

    #[track_caller]
    pub fn start(&self, id: &str) -> Out {
        self.rt(&["start", id])
    }

    /// Create and start a container running `args`; returns (id, bundle).
    #[track_caller]
    pub fn create_started(&self, args: &[&str]) -> (String, PathBuf) {
        self.create_started_with(|c| set_args(c, args))
    }

    /// Create and start a container from an edited fixture config.
    #[track_caller]
    pub fn create_started_with(&self, edit: impl FnOnce(&mut Value)) -> (String, PathBuf) {
        let mut cfg = base_config();
        edit(&mut cfg);
        self.create_started_from(&cfg)
    }

    /// Create and start a container from `cfg`; returns (id, bundle).
    #[track_caller]
    pub fn create_started_from(&self, cfg: &Value) -> (String, PathBuf) {
        let bundle = self.bundle_from(cfg);
        let id = self.id();
        self.create(&bundle, &id, &[]).ok();
        self.start(&id).ok();
        (id, bundle)
    }

    /// A long-running container (sleep), started.
    #[track_caller]
    pub fn sleeper(&self) -> (String, PathBuf) {
        self.create_started(&["sleep", "1000"])
    }

    /// `state ID` as JSON (asserting success and an empty stderr).
    #[track_caller]
    pub fn state(&self, id: &str) -> Value {
        let o = self.rt(&["state", id]);
        o.ok();
        assert_eq!(o.stderr, "", "state printed on stderr:\n{o}");
        o.json()
    }

    #[track_caller]
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
    #[track_caller]
    pub fn exec(&self, id: &str, cmd: &[&str]) -> Out {
        let mut args = vec!["exec", id];
        args.extend_from_slice(cmd);
        self.rt(&args)
    }

    /// `process` written to a fresh file, for `exec --process FILE`.
    pub fn process_file(&self, process: &Value) -> PathBuf {
        let file = self.subdir("proc").join("process.json");
        std::fs::write(&file, process.to_string()).expect("write process.json");
        file
    }

    /// `exec --process FILE ID` in the foreground, FILE holding `process`.
    #[track_caller]
    pub fn exec_process(&self, id: &str, process: &Value) -> Out {
        let file = self.process_file(process);
        self.rt(&["exec", "--process", file.to_str().unwrap(), id])
    }

    /// A foreground `run` of a bundle (captured output), returns the Out.
    #[track_caller]
    pub fn run_fg(&self, bundle: &Path, id: &str) -> Out {
        self.rt(&["run", "--bundle", bundle.to_str().unwrap(), id])
    }

    /// Run `args` in a fresh container in the foreground, with `edit` applied.
    #[track_caller]
    pub fn run_with(&self, edit: impl FnOnce(&mut Value)) -> Out {
        let b = self.bundle(edit);
        let id = self.id();
        self.run_fg(&b, &id)
    }

    /// Run `args` in a fresh fixture container in the foreground.
    #[track_caller]
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
        ids.extend(entries(&self.root).into_iter().filter(|n| n != "@bundles"));
        for id in &ids {
            if self.root.join(id).exists()
                && let Err(e) = force_delete(&runtime(), &self.root, id)
            {
                problems.push(e);
            }
        }
        for id in &ids {
            let found = self.leftovers(id);
            if found.is_empty() {
                continue;
            }
            problems.extend(found);
            // Clean the mess: kill processes, then remove cgroups and state.
            kill_all(|| pids_in_cgroup_of(id));
            for d in cgroup_dirs(id) {
                remove_cgroup(&d);
            }
        }
        for e in entries(&self.root.join("@bundles")) {
            problems.push(format!(
                "leftover {}",
                self.root.join("@bundles").join(e).display()
            ));
        }
        for e in entries(&self.root) {
            if e != "@bundles" {
                problems.push(format!("leftover {}", self.root.join(e).display()));
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        problems.sort();
        problems.dedup();
        problems
    }

    /// End of test: force-delete everything and fail if anything leaked.
    #[track_caller]
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

/// `create --bundle B --pid-file P ID`, the arguments engines send.
pub fn create_line<'a>(bundle: &'a Path, pid_file: &'a Path, id: &'a str) -> [&'a str; 6] {
    let path = |p: &'a Path| p.to_str().expect("UTF-8 path");
    [
        "create",
        "--bundle",
        path(bundle),
        "--pid-file",
        path(pid_file),
        id,
    ]
}

/// The exec process files our runtime left in a container's scratch dir
/// (each `exec` writes one and must remove it).
pub fn exec_files_left(env: &Env, id: &str) -> Vec<String> {
    entries(&env.root.join("@bundles").join(id))
        .into_iter()
        .filter(|n| n.starts_with("exec-"))
        .collect()
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
