//! The busybox fixture bundle and what tests build from it.

use super::Env;
use super::host::entries;
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/bundle-fixtures/busybox");

/// The fixture's rootfs, as an absolute path.
#[track_caller]
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

/// A private, writable copy (`cp -a`) of the fixture rootfs at `dst`, for
/// tests that plant files in the image.
#[track_caller]
pub fn copy_rootfs_to(dst: &Path) -> PathBuf {
    let out = Command::new("cp")
        .arg("-a")
        .arg(fixture_rootfs())
        .arg(dst)
        .output()
        .expect("run cp");
    assert!(out.status.success(), "cp -a fixture: {out:?}");
    dst.to_path_buf()
}

/// [`copy_rootfs_to`] a fresh directory of the test.
pub fn copy_fixture_rootfs(env: &Env) -> PathBuf {
    copy_rootfs_to(&env.subdir("rootfs").join("rootfs"))
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
