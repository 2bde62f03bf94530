//! [`Ctx`]: one ExecutionCell test's world (its own `CELLOS_STATE_DIR`,
//! temp dir, spec ids and `sleep` markers), and cell specs. `Ctx::finish`
//! fails the test if any bundle, container state, mount, cgroup or process
//! is left behind; if the test panics first, `Drop` cleans up best-effort.

use super::env::{force_delete, next_unique};
use super::fixture::copy_rootfs_to;
use super::host::{
    cell_cgroups, detach_mounts_under, entries, kill_all, mounts_under, named_cgroups,
    pids_matching, remove_cgroup,
};
use super::run::{Out, run};
use super::{BIN, RUNC, SUPERVISOR};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

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

/// One cell test's private world. Call [`Ctx::finish`] at the end.
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

/// The two ways to run a cell: `cellos-supervisor SPEC` and `cellos-runtime
/// run --cell SPEC`. Tests that must hold for both loop over `FRONTS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Front {
    Supervisor,
    RunCell,
}

pub const FRONTS: [Front; 2] = [Front::Supervisor, Front::RunCell];

impl std::fmt::Display for Front {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Front::Supervisor => "supervisor",
            Front::RunCell => "run --cell",
        })
    }
}

impl Ctx {
    pub fn new(name: &str) -> Ctx {
        let n = next_unique();
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
        self.new_id(tag, &self.ids)
    }

    /// `ct-<test>-<tag>-<pid>-<n>`, remembered in `set`.
    fn new_id(&self, tag: &str, set: &Mutex<BTreeSet<String>>) -> String {
        let id = format!(
            "ct-{}-{tag}-{}-{}",
            self.name,
            std::process::id(),
            next_unique()
        );
        set.lock().unwrap().insert(id.clone());
        id
    }

    /// A unique `sleep` duration, e.g. `1000.00123450042`: a cell running
    /// `sleep MARKER` can be found with [`pids_matching`].
    pub fn marker(&self) -> String {
        let m = format!("1000.{:07}{:04}", std::process::id(), next_unique());
        self.markers.lock().unwrap().insert(m.clone());
        m
    }

    /// A new empty directory below the temp dir.
    pub fn dir(&self, what: &str) -> PathBuf {
        let p = self.tmp.join(format!("{what}-{}", next_unique()));
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// Write `spec` to a new file in the temp dir.
    pub fn spec_file(&self, spec: &Value) -> PathBuf {
        self.raw_spec_file(&serde_json::to_string_pretty(spec).unwrap())
    }

    /// Write raw text as a spec file.
    pub fn raw_spec_file(&self, text: &str) -> PathBuf {
        let p = self.tmp.join(format!("spec-{}.json", next_unique()));
        std::fs::write(&p, text).unwrap();
        p
    }

    /// A private copy of the busybox fixture rootfs.
    pub fn rootfs_copy(&self) -> PathBuf {
        copy_rootfs_to(&self.tmp.join(format!("rootfs-{}", next_unique())))
    }

    /// Register a `cellos-runtime --root` directory for the leftover checks.
    pub fn track_root(&self, root: &Path) {
        self.roots.lock().unwrap().insert(root.to_path_buf());
    }

    /// A `runc --root` directory (not created) tracked for the checks.
    pub fn runc_root(&self) -> PathBuf {
        let p = self.tmp.join(format!("runc-root-{}", next_unique()));
        self.runc_roots.lock().unwrap().insert(p.clone());
        p
    }

    /// A container id for runc, tracked for the cgroup check.
    pub fn runc_id(&self, tag: &str) -> String {
        self.new_id(tag, &self.runc_ids)
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

    /// The command that runs `spec` through `front`.
    pub fn front_cmd(&self, front: Front, spec: &Path, env: &[(&str, &str)]) -> Command {
        match front {
            Front::Supervisor => self.supervisor_cmd(spec, env),
            Front::RunCell => self.run_cell_cmd(spec, env),
        }
    }

    /// Run `spec` through `front`.
    #[track_caller]
    pub fn run_front(&self, front: Front, spec: &Path, env: &[(&str, &str)]) -> Out {
        run(self.front_cmd(front, spec, env))
    }

    /// `cellos-supervisor SPEC` with extra environment.
    pub fn supervisor_cmd(&self, spec: &Path, env: &[(&str, &str)]) -> Command {
        let mut cmd = self.command(SUPERVISOR, env);
        cmd.arg(spec);
        cmd
    }

    #[track_caller]
    pub fn supervise(&self, spec: &Path, env: &[(&str, &str)]) -> Out {
        run(self.supervisor_cmd(spec, env))
    }

    /// Write `spec` and supervise it.
    #[track_caller]
    pub fn supervise_spec(&self, spec: &Value, env: &[(&str, &str)]) -> Out {
        let f = self.spec_file(spec);
        self.supervise(&f, env)
    }

    /// `cellos-runtime --root <state>/cli-root run --cell SPEC`.
    pub fn run_cell_cmd(&self, spec: &Path, env: &[(&str, &str)]) -> Command {
        let root = self.state.join("cli-root");
        self.track_root(&root);
        let mut cmd = self.command(BIN, env);
        cmd.arg("--root")
            .arg(&root)
            .args(["run", "--cell"])
            .arg(spec);
        cmd
    }

    #[track_caller]
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
        for cg in self.cgroups() {
            bad.push(format!("cgroup left: {}", cg.display()));
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

    /// The cgroups of this test's cells and runc containers.
    fn cgroups(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self
            .ids
            .lock()
            .unwrap()
            .iter()
            .flat_map(|id| cell_cgroups(id))
            .collect();
        v.extend(
            self.runc_ids
                .lock()
                .unwrap()
                .iter()
                .flat_map(|id| named_cgroups(id)),
        );
        v
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
            kill_all(|| pids_matching(m));
        }
        for root in self.all_roots() {
            for e in entries(&root) {
                if !(e.starts_with('@') || e == "events.jsonl") {
                    let _ = force_delete(BIN, &root, &e);
                }
            }
        }
        for root in self.runc_roots.lock().unwrap().iter() {
            for e in entries(root) {
                let _ = force_delete(RUNC, root, &e);
            }
        }
        for cg in self.cgroups() {
            remove_cgroup(&cg);
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
