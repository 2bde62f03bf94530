//! Tests for parsing and validation (module `validate::tests`).

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cell::{Cell, CellError};

fn base() -> Value {
    json!({"apiVersion": "cellos.io/v1", "kind": "ExecutionCell",
           "spec": {"id": "build-42",
                    "authority": {},
                    "lifetime": {"ttlSeconds": 60},
                    "run": {"argv": ["/bin/sh", "-c", "make test"],
                            "workingDirectory": "/work"}}})
}

/// Set the field at JSON pointer `ptr` (its parent must exist).
fn set(doc: &mut Value, ptr: &str, v: Value) {
    let (parent, key) = ptr.rsplit_once('/').unwrap();
    let obj = doc.pointer_mut(parent).unwrap().as_object_mut().unwrap();
    obj.insert(key.to_string(), v);
}

fn parse(doc: &Value) -> Result<Cell, CellError> {
    Cell::from_json(&doc.to_string())
}

/// The error message for `base()` with `ptr` set to `v`.
fn err_with(ptr: &str, v: Value) -> String {
    let mut doc = base();
    set(&mut doc, ptr, v);
    match parse(&doc) {
        Ok(_) => panic!("{ptr} accepted: {doc}"),
        Err(e) => e.to_string(),
    }
}

fn err_without(ptr: &str) -> String {
    let mut doc = base();
    let (parent, key) = ptr.rsplit_once('/').unwrap();
    doc.pointer_mut(parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove(key);
    parse(&doc).unwrap_err().to_string()
}

#[track_caller]
fn assert_has(msg: &str, needle: &str) {
    assert!(msg.contains(needle), "{msg:?} does not contain {needle:?}");
    assert!(!msg.contains('\n'), "{msg:?} is not one line");
}

#[test]
fn base_document_parses() {
    let cell = parse(&base()).unwrap();
    assert_eq!(cell.id(), "build-42");
    assert_eq!(cell.ttl(), Some(Duration::from_secs(60)));
    assert_eq!(cell.argv(), ["/bin/sh", "-c", "make test"]);
    assert_eq!(cell.working_directory(), Some(Path::new("/work")));
    assert!(cell.spec.authority.capabilities.is_empty());
    assert!(!cell.spec.authority.network);
}

#[test]
fn optional_fields_parse() {
    let mut doc = base();
    set(&mut doc, "/spec/run/env", json!(["A=1", "PATH=/x", "E="]));
    set(&mut doc, "/spec/run/user", json!({"uid": 1000, "gid": 100}));
    set(
        &mut doc,
        "/spec/resources",
        json!({"memoryBytes": 1048576, "cpus": 1.5, "pids": 64}),
    );
    set(&mut doc, "/spec/rootfs", json!("/srv/root"));
    set(
        &mut doc,
        "/spec/authority",
        json!({"network": true, "capabilities": ["CAP_NET_BIND_SERVICE", "CAP_CHOWN"],
               "readOnlyPaths": ["/opt/data"], "writablePaths": ["/tmp/out"]}),
    );
    let cell = parse(&doc).unwrap();
    assert_eq!(cell.spec.run.user.uid, 1000);
    assert_eq!(cell.spec.authority.capabilities.len(), 2);
    assert_eq!(cell.spec.resources.unwrap().pids, Some(64));
    // Serializing and re-parsing gives the same cell.
    let again = Cell::from_json(&serde_json::to_string(&cell).unwrap()).unwrap();
    assert_eq!(again, cell);
}

#[test]
fn minimal_document_parses() {
    let doc = json!({"apiVersion": "cellos.io/v1", "kind": "ExecutionCell",
                     "spec": {"id": "x", "run": {"argv": ["true"]}}});
    let cell = parse(&doc).unwrap();
    assert_eq!(cell.ttl(), None);
    assert_eq!(cell.working_directory(), None);
}

#[test]
fn header_errors() {
    assert_has(
        &err_with("/apiVersion", json!("cellos.io/v2")),
        "apiVersion must be \"cellos.io/v1\", got \"cellos.io/v2\"",
    );
    assert_has(
        &err_with("/kind", json!("Pod")),
        "kind must be \"ExecutionCell\"",
    );
    assert_has(&err_without("/apiVersion"), "apiVersion is required");
    assert_has(
        &Cell::from_json("[1]").unwrap_err().to_string(),
        "top level",
    );
}

#[test]
fn id_errors() {
    assert_has(&err_without("/spec/id"), "spec.id is required");
    assert_has(
        &err_with("/spec/id", json!("")),
        "spec.id must not be empty",
    );
    assert_has(
        &err_with("/spec/id", json!("a b")),
        "spec.id \"a b\" contains ' '",
    );
    assert_has(&err_with("/spec/id", json!("a/b")), "spec.id");
    assert_has(
        &err_with("/spec/id", json!("-abc")),
        "spec.id \"-abc\" must start with a letter or digit",
    );
    assert_has(&err_with("/spec/id", json!("_abc")), "spec.id");
    assert_has(
        &err_with("/spec/id", json!("a".repeat(129))),
        "spec.id must be at most 128 characters",
    );
    assert_has(&err_with("/spec/id", json!(42)), "spec.id: invalid type");
    let mut doc = base();
    set(
        &mut doc,
        "/spec/id",
        json!(format!("9{}", "a._-".repeat(31) + "xyz")),
    );
    assert!(parse(&doc).is_ok(), "128-char id must be accepted");
}

#[test]
fn argv_errors() {
    assert_has(
        &err_with("/spec/run/argv", json!([])),
        "spec.run.argv must not be empty",
    );
    assert_has(
        &err_with("/spec/run/argv", json!(["", "x"])),
        "spec.run.argv[0] must not be empty",
    );
    assert_has(
        &err_with("/spec/run/argv", json!(["a", 5])),
        "spec.run.argv: invalid type",
    );
    assert_has(&err_without("/spec/run/argv"), "spec.run.argv is required");
    assert_has(&err_without("/spec/run"), "spec.run is required");
}

#[test]
fn working_directory_errors() {
    let f = "/spec/run/workingDirectory";
    assert_eq!(
        err_with(f, json!("work")),
        "spec.run.workingDirectory \"work\" must be an absolute path"
    );
    assert_has(
        &err_with(f, json!("/work/../etc")),
        "spec.run.workingDirectory \"/work/../etc\" must be a clean path",
    );
    assert_has(
        &err_with(f, json!("/work/./x")),
        "spec.run.workingDirectory",
    );
    assert_has(&err_with(f, json!("/work/")), "spec.run.workingDirectory");
    assert_has(
        &err_with(f, json!("/")),
        "spec.run.workingDirectory must not be \"/\"",
    );
    for reserved in [
        "/proc", "/dev/x", "/usr/src", "/bin", "/lib", "/etc/x", "/sbin", "/lib64",
    ] {
        assert_has(
            &err_with(f, json!(reserved)),
            "which the cell provides itself",
        );
    }
    // Only whole components count: /usrdata is not /usr.
    let mut doc = base();
    set(&mut doc, f, json!("/usrdata"));
    assert!(parse(&doc).is_ok());
}

#[test]
fn ttl_errors() {
    let f = "/spec/lifetime/ttlSeconds";
    assert_eq!(
        err_with(f, json!(0)),
        "spec.lifetime.ttlSeconds must be an integer >= 1, got 0"
    );
    assert_eq!(
        err_with(f, json!(-5)),
        "spec.lifetime.ttlSeconds must be an integer >= 1, got -5"
    );
    assert_eq!(
        err_with(f, json!(1.5)),
        "spec.lifetime.ttlSeconds must be an integer >= 1, got 1.5"
    );
    assert_eq!(
        err_with(f, json!(60.0)),
        "spec.lifetime.ttlSeconds must be an integer >= 1, got 60.0"
    );
    assert_eq!(
        err_with(f, json!("60")),
        "spec.lifetime.ttlSeconds must be an integer >= 1, got \"60\""
    );
    assert_has(&err_without(f), "spec.lifetime.ttlSeconds is required");
}

#[test]
fn unknown_fields_name_field_and_place() {
    assert_has(
        &err_with("/extra", json!(1)),
        "unknown field \"extra\" at top level",
    );
    assert_has(
        &err_with("/spec/authorty", json!({})),
        "unknown field \"authorty\" in spec (expected one of id, authority",
    );
    assert_has(
        &err_with("/spec/authority/netwrk", json!(true)),
        "unknown field \"netwrk\" in spec.authority",
    );
    assert_has(
        &err_with("/spec/run/cwd", json!("/")),
        "unknown field \"cwd\" in spec.run",
    );
    assert_has(
        &err_with("/spec/lifetime/ttl", json!(1)),
        "unknown field \"ttl\" in spec.lifetime",
    );
    assert_has(
        &err_with("/spec/run/user", json!({"uid": 1, "name": "x"})),
        "unknown field \"name\" in spec.run.user",
    );
    assert_has(
        &err_with("/spec/resources", json!({"memory": 1})),
        "unknown field \"memory\" in spec.resources",
    );
}

#[test]
fn capability_errors() {
    let f = "/spec/authority/capabilities";
    for bad in [
        "CAP_FOO",
        "NET_ADMIN",
        "cap_net_admin",
        "CAP_CAP_NET_ADMIN",
        "",
    ] {
        let msg = err_with(f, json!([bad]));
        assert_has(&msg, "spec.authority.capabilities: ");
        assert_has(&msg, &format!("\"{bad}\" is not a known capability"));
    }
    assert_has(
        &err_with(f, json!("CAP_CHOWN")),
        "spec.authority.capabilities: invalid type",
    );
}

#[test]
fn grant_path_errors() {
    let ro = "/spec/authority/readOnlyPaths";
    assert_eq!(
        err_with(ro, json!(["data"])),
        "spec.authority.readOnlyPaths[0] \"data\" must be an absolute path"
    );
    assert_has(
        &err_with(ro, json!(["/ok", "/a/../b"])),
        "spec.authority.readOnlyPaths[1]",
    );
    assert_has(
        &err_with("/spec/authority/writablePaths", json!(["/"])),
        "spec.authority.writablePaths[0] must not be \"/\"",
    );
    assert_has(&err_with(ro, json!(["/proc/1"])), "cannot be granted");
    assert_has(
        &err_with(ro, json!(["/work"])),
        "overlaps spec.run.workingDirectory",
    );
    assert_has(&err_with(ro, json!(["/"])), "readOnlyPaths[0]");
    assert_has(
        &err_with(ro, json!(["/work/sub"])),
        "overlaps spec.run.workingDirectory",
    );
    assert_has(
        &err_with("/spec/authority/network", json!("yes")),
        "spec.authority.network: invalid type",
    );
}

#[test]
fn env_user_resources_rootfs_errors() {
    assert_has(
        &err_with("/spec/run/env", json!(["NOVALUE"])),
        "spec.run.env[0] \"NOVALUE\" must be KEY=VALUE",
    );
    assert_has(
        &err_with("/spec/run/env", json!(["A=1", "=x"])),
        "spec.run.env[1] \"=x\" has an empty KEY",
    );
    assert_has(
        &err_with("/spec/run/env", json!(["A=1", "A=2"])),
        "spec.run.env[1]",
    );
    assert_has(
        &err_with("/spec/run/user", json!({"uid": -1})),
        "spec.run.user.uid: invalid value",
    );
    assert_has(
        &err_with("/spec/run/user", json!({"uid": 4294967295u32})),
        "spec.run.user.uid 4294967295: uids and gids must be in range 0-2147483647",
    );
    assert_has(
        &err_with("/spec/run/user", json!({"uid": 1, "gid": 2147483648u32})),
        "spec.run.user.gid 2147483648: uids and gids must be in range 0-2147483647",
    );
    let mut doc = base();
    set(
        &mut doc,
        "/spec/run/user",
        json!({"uid": 2147483647, "gid": 2147483647}),
    );
    assert!(parse(&doc).is_ok(), "the largest id runc accepts is valid");
    let r = "/spec/resources";
    assert_has(
        &err_with(r, json!({"memoryBytes": 1000})),
        "spec.resources.memoryBytes must be between 1048576",
    );
    assert_has(
        &err_with(r, json!({"memoryBytes": "1G"})),
        "spec.resources.memoryBytes: invalid type",
    );
    assert_has(
        &err_with(r, json!({"cpus": 0})),
        "spec.resources.cpus must be > 0",
    );
    assert_has(
        &err_with(r, json!({"cpus": 2000})),
        "spec.resources.cpus must be > 0 and <= 1024",
    );
    assert_has(
        &err_with(r, json!({"cpus": 0.001})),
        "spec.resources.cpus must be at least 0.01",
    );
    assert_has(
        &err_with(r, json!({"pids": 0})),
        "spec.resources.pids must be an integer >= 1, got 0",
    );
    assert_has(
        &err_with("/spec/rootfs", json!("rel/root")),
        "spec.rootfs \"rel/root\" must be an absolute path",
    );
    assert_has(
        &err_with("/spec/rootfs", json!("/")),
        "spec.rootfs must not be \"/\"",
    );
}

#[test]
fn malformed_json_and_files() {
    assert_has(
        &Cell::from_json("{\"apiVersion\": ")
            .unwrap_err()
            .to_string(),
        "invalid JSON: ",
    );
    let dir = std::env::temp_dir().join(format!("cell-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    struct Cleanup<'a>(&'a Path);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(self.0);
        }
    }
    let _guard = Cleanup(&dir);
    let missing = dir.join("missing.json");
    let msg = crate::error::chain_message(&Cell::load(&missing).unwrap_err());
    assert_has(&msg, &missing.display().to_string());
    let broken = dir.join("broken.json");
    std::fs::write(&broken, "{ not json").unwrap();
    let msg = crate::error::chain_message(&Cell::load(&broken).unwrap_err());
    assert_has(&msg, &format!("{}: invalid JSON", broken.display()));
    let good = dir.join("good.json");
    std::fs::write(&good, base().to_string()).unwrap();
    assert_eq!(Cell::load(&good).unwrap().id(), "build-42");
}
