//! Parsing with located errors, and the semantic rules of a cell spec.

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::CellError;
use super::model::{
    API_VERSION, Authority, Cell, CellSpec, KIND, Lifetime, Resources, RunSpec, UserSpec,
};

/// Paths the cell provides for itself; a workspace there would shadow them.
const RESERVED_WORKDIRS: &[&str] = &[
    "/proc", "/dev", "/sys", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc",
];
/// Host paths that must never be bound over the cell's kernel interfaces.
const RESERVED_GRANTS: &[&str] = &["/proc", "/sys", "/dev"];

/// Parse JSON text into a validated [`Cell`].
pub(crate) fn parse(text: &str) -> Result<Cell, CellError> {
    let value: Value = serde_json::from_str(text).map_err(|e| CellError::Json(e.to_string()))?;
    // A wrong version means we do not know the schema; say that first.
    check_header(&value)?;
    let cell = Cell::deserialize(&value).map_err(|_| locate(&value))?;
    validate(&cell)?;
    Ok(cell)
}

fn check_header(v: &Value) -> Result<(), CellError> {
    let Some(obj) = v.as_object() else {
        return Err(CellError::Type {
            field: "top level".into(),
            msg: "must be a JSON object".into(),
        });
    };
    for (key, want) in [("apiVersion", API_VERSION), ("kind", KIND)] {
        match obj.get(key) {
            None => return Err(CellError::MissingField { field: key.into() }),
            Some(Value::String(s)) if s == want => {}
            Some(got) => {
                return Err(CellError::invalid(
                    key,
                    format!("must be \"{want}\", got {got}"),
                ));
            }
        }
    }
    Ok(())
}

type Probe = fn(&Value) -> Result<(), serde_json::Error>;

fn probe<T: DeserializeOwned>(v: &Value) -> Result<(), serde_json::Error> {
    T::deserialize(v).map(drop)
}

/// Every struct level of the schema, deepest first, so the first level that
/// fails on its own is where the problem is. serde's own messages do not say
/// where in the document they happened.
const LEVELS: [(&str, &str, Probe); 7] = [
    ("/spec/run/user", "spec.run.user", probe::<UserSpec>),
    ("/spec/run", "spec.run", probe::<RunSpec>),
    ("/spec/lifetime", "spec.lifetime", probe::<Lifetime>),
    ("/spec/resources", "spec.resources", probe::<Resources>),
    ("/spec/authority", "spec.authority", probe::<Authority>),
    ("/spec", "spec", probe::<CellSpec>),
    ("", "", probe::<Cell>),
];

/// Turn a failed deserialization into an error naming the JSON path.
fn locate(root: &Value) -> CellError {
    for (pointer, path, probe) in LEVELS {
        let Some(v) = root.pointer(pointer) else {
            continue;
        };
        // null for an optional level means absent; the parent judges it.
        if v.is_null() && !pointer.is_empty() {
            continue;
        }
        if let Err(e) = probe(v) {
            return describe(v, path, probe, &e.to_string());
        }
    }
    CellError::Type {
        field: "top level".into(),
        msg: "does not match the ExecutionCell schema".into(),
    }
}

fn describe(level: &Value, path: &str, probe: Probe, msg: &str) -> CellError {
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once("`, ").unwrap_or((rest, ""));
        let place = if path.is_empty() {
            "at top level".to_string()
        } else {
            format!("in {path}")
        };
        return CellError::UnknownField {
            field: field.trim_end_matches('`').into(),
            place,
            expected: expected.replace('`', ""),
        };
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        return CellError::MissingField {
            field: join(path, rest.trim_end_matches('`')),
        };
    }
    // Type errors do not name the field: find the key whose removal makes
    // the level acceptable (or merely "missing").
    let culprit = level.as_object().and_then(|obj| {
        obj.keys().find(|key| {
            let mut reduced = obj.clone();
            reduced.remove(*key);
            match probe(&Value::Object(reduced)) {
                Ok(()) => true,
                Err(e) => e.to_string() == format!("missing field `{key}`"),
            }
        })
    });
    let field = match culprit {
        Some(key) => join(path, key),
        None if path.is_empty() => "top level".into(),
        None => path.into(),
    };
    // Our own deserializers phrase messages as "must ..." sentences.
    if msg.starts_with("must ") {
        CellError::invalid(field, msg)
    } else {
        CellError::Type {
            field,
            msg: msg.into(),
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.into()
    } else {
        format!("{path}.{key}")
    }
}

/// The semantic rules. Also run by the converter, because [`Cell`]'s fields
/// are public and may have been changed after parsing.
pub(crate) fn validate(cell: &Cell) -> Result<(), CellError> {
    if cell.api_version != API_VERSION {
        let msg = format!("must be \"{API_VERSION}\", got {:?}", cell.api_version);
        return Err(CellError::invalid("apiVersion", msg));
    }
    if cell.kind != KIND {
        let msg = format!("must be \"{KIND}\", got {:?}", cell.kind);
        return Err(CellError::invalid("kind", msg));
    }
    let spec = &cell.spec;
    validate_id(&spec.id)?;
    validate_run(&spec.run)?;
    if spec.lifetime.is_some_and(|l| l.ttl_seconds == 0) {
        let msg = "must be an integer >= 1, got 0";
        return Err(CellError::invalid("spec.lifetime.ttlSeconds", msg));
    }
    if let Some(r) = &spec.resources {
        validate_resources(r)?;
    }
    validate_authority(&spec.authority, spec.run.working_directory.as_deref())?;
    if let Some(root) = &spec.rootfs {
        check_clean_abs("spec.rootfs", root)?;
        if root == Path::new("/") {
            return Err(CellError::invalid("spec.rootfs", "must not be \"/\""));
        }
    }
    Ok(())
}

fn validate_id(id: &str) -> Result<(), CellError> {
    let f = "spec.id";
    let Some(first) = id.chars().next() else {
        return Err(CellError::invalid(f, "must not be empty"));
    };
    if id.len() > 128 {
        let msg = format!("must be at most 128 characters, got {}", id.len());
        return Err(CellError::invalid(f, msg));
    }
    if !first.is_ascii_alphanumeric() {
        return Err(CellError::invalid(
            f,
            format!("{id:?} must start with a letter or digit"),
        ));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        let msg =
            format!("{id:?} contains {c:?}; only letters, digits, '_', '.' and '-' are allowed");
        return Err(CellError::invalid(f, msg));
    }
    Ok(())
}

fn validate_run(run: &RunSpec) -> Result<(), CellError> {
    if run.argv.is_empty() {
        return Err(CellError::invalid("spec.run.argv", "must not be empty"));
    }
    if run.argv[0].is_empty() {
        return Err(CellError::invalid("spec.run.argv[0]", "must not be empty"));
    }
    if let Some(i) = run.argv.iter().position(|a| a.contains('\0')) {
        let f = format!("spec.run.argv[{i}]");
        return Err(CellError::invalid(f, "must not contain NUL bytes"));
    }
    if let Some(wd) = &run.working_directory {
        let f = "spec.run.workingDirectory";
        check_clean_abs(f, wd)?;
        if wd == Path::new("/") {
            return Err(CellError::invalid(f, "must not be \"/\""));
        }
        if let Some(r) = RESERVED_WORKDIRS.iter().find(|r| wd.starts_with(r)) {
            let msg = format!("{wd:?} is inside {r}, which the cell provides itself");
            return Err(CellError::invalid(f, msg));
        }
    }
    // Above 2^31-1 the kernel may read the id as (uid_t)-1, "no change":
    // the job would run as root. runc refuses the same range.
    for (f, v) in [
        ("spec.run.user.uid", run.user.uid),
        ("spec.run.user.gid", run.user.gid),
    ] {
        if v > crate::user::MAX_ID {
            let msg = format!("{v}: {}", crate::user::RANGE_MSG);
            return Err(CellError::invalid(f, msg));
        }
    }
    let mut keys = HashSet::new();
    for (i, entry) in run.env.iter().enumerate() {
        let f = format!("spec.run.env[{i}]");
        let Some((key, _)) = entry.split_once('=') else {
            return Err(CellError::invalid(
                f,
                format!("{entry:?} must be KEY=VALUE"),
            ));
        };
        if key.is_empty() {
            return Err(CellError::invalid(f, format!("{entry:?} has an empty KEY")));
        }
        if entry.contains('\0') {
            return Err(CellError::invalid(f, "must not contain NUL bytes"));
        }
        if !keys.insert(key) {
            return Err(CellError::invalid(f, format!("{entry:?} repeats {key:?}")));
        }
    }
    Ok(())
}

fn validate_resources(r: &Resources) -> Result<(), CellError> {
    const MIB: u64 = 1 << 20;
    if let Some(m) = r.memory_bytes
        && !(MIB..=i64::MAX as u64).contains(&m)
    {
        let msg = format!("must be between {MIB} (1 MiB) and {}, got {m}", i64::MAX);
        return Err(CellError::invalid("spec.resources.memoryBytes", msg));
    }
    if let Some(c) = r.cpus {
        let f = "spec.resources.cpus";
        if !(c > 0.0 && c <= 1024.0) {
            return Err(CellError::invalid(
                f,
                format!("must be > 0 and <= 1024, got {c}"),
            ));
        }
        // The kernel rejects CFS quotas below 1ms per 100ms period.
        if c < 0.01 {
            return Err(CellError::invalid(
                f,
                format!("must be at least 0.01, got {c}"),
            ));
        }
    }
    if let Some(p) = r.pids
        && p < 1
    {
        let msg = format!("must be an integer >= 1, got {p}");
        return Err(CellError::invalid("spec.resources.pids", msg));
    }
    Ok(())
}

fn validate_authority(a: &Authority, workdir: Option<&Path>) -> Result<(), CellError> {
    let lists = [
        ("readOnlyPaths", &a.read_only_paths),
        ("writablePaths", &a.writable_paths),
    ];
    for (name, paths) in lists {
        for (i, p) in paths.iter().enumerate() {
            let f = format!("spec.authority.{name}[{i}]");
            check_clean_abs(&f, p)?;
            if p == Path::new("/") {
                return Err(CellError::invalid(f, "must not be \"/\""));
            }
            if let Some(r) = RESERVED_GRANTS.iter().find(|r| p.starts_with(r)) {
                let msg = format!("{p:?} is inside {r}, which cannot be granted");
                return Err(CellError::invalid(f, msg));
            }
            // The workspace tmpfs is mounted last: it would hide a grant
            // below it, and a grant above it would be partly shadowed.
            if let Some(wd) = workdir
                && (wd.starts_with(p) || p.starts_with(wd))
            {
                let msg = format!("{p:?} overlaps spec.run.workingDirectory {wd:?}");
                return Err(CellError::invalid(f, msg));
            }
        }
    }
    Ok(())
}

/// Absolute and lexically clean: no empty, `.` or `..` components.
pub(crate) fn check_clean_abs(field: &str, p: &Path) -> Result<(), CellError> {
    let s = p.to_string_lossy();
    if !s.starts_with('/') {
        return Err(CellError::invalid(
            field,
            format!("{p:?} must be an absolute path"),
        ));
    }
    if s != "/" && s[1..].split('/').any(|c| matches!(c, "" | "." | "..")) {
        let msg =
            format!("{p:?} must be a clean path (no \"//\", \".\", \"..\" or trailing \"/\")");
        return Err(CellError::invalid(field, msg));
    }
    if s.contains('\0') {
        return Err(CellError::invalid(field, "must not contain NUL bytes"));
    }
    Ok(())
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
