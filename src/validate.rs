//! What the runtime spec requires of a config, checked before libcontainer
//! sees it. libcontainer accepts some of these (a relative mount
//! destination, a duplicate namespace) and reports others deep inside a
//! forked child, where the error no longer says which field was wrong.
//! Every refusal here names the field by its JSON path and the value.
//!
//! `spec` reads nothing but the document; `bundle` adds the checks that look
//! at the host (hooks, namespace files, bind sources, the rootfs) and still
//! writes nothing.

use oci_spec::runtime::{Hook, LinuxDeviceType, Process, Spec};
use serde::Serialize;
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path};

/// A config field that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}{} {problem}", value.as_ref().map(|v| format!(" {v}")).unwrap_or_default())]
pub struct Invalid {
    /// JSON path of the field, e.g. `mounts[2].destination`.
    pub field: String,
    /// The offending value as the config spells it (strings quoted), when
    /// there is one to show.
    pub value: Option<String>,
    pub problem: Problem,
}

/// Why a field was refused; each reads as the end of a sentence that starts
/// with the field and its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("must be an absolute path")]
    NotAbsolute,
    #[error("must not contain \"..\"")]
    DotDot,
    #[error("must not contain a NUL byte")]
    Nul,
    #[error("must not be empty")]
    Empty,
    #[error("is given twice (also at {0})")]
    Duplicate(String),
    #[error("is out of range ({0})")]
    Range(&'static str),
    /// runc's rule, in runc's words (engines and tests match them).
    #[error("is refused: {}", crate::user::RANGE_MSG)]
    IdRange,
    #[error("is not supported: {0}")]
    Unsupported(&'static str),
    #[error("is not valid: {0}")]
    Malformed(&'static str),
    #[error("cannot be used: {0}")]
    Unusable(String),
}

pub type Result<T> = std::result::Result<T, Invalid>;

fn invalid(field: impl Into<String>, value: Option<String>, problem: Problem) -> Invalid {
    Invalid {
        field: field.into(),
        value,
        problem,
    }
}

/// Refuse a string value (shown quoted and escaped, so always on one line).
fn refuse<T>(field: impl Into<String>, value: impl AsRef<str>, problem: Problem) -> Result<T> {
    Err(invalid(
        field,
        Some(format!("{:?}", value.as_ref())),
        problem,
    ))
}

/// Refuse a number.
fn refuse_num<T>(
    field: impl Into<String>,
    value: impl std::fmt::Display,
    problem: Problem,
) -> Result<T> {
    Err(invalid(field, Some(value.to_string()), problem))
}

/// The config spelling of a typed enum value (`"pid"`, `"RLIMIT_NOFILE"`).
fn spelled<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn lossy(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn no_nul(field: &str, s: &str) -> Result<()> {
    if s.contains('\0') {
        return refuse(field, s, Problem::Nul);
    }
    Ok(())
}

/// An absolute path without `..` (which the spec means to be resolved in
/// the container, never above it) and without NUL.
fn absolute_path(field: &str, p: &Path) -> Result<()> {
    let s = lossy(p);
    no_nul(field, &s)?;
    if !p.is_absolute() {
        return refuse(field, s, Problem::NotAbsolute);
    }
    if p.components().any(|c| c == Component::ParentDir) {
        return refuse(field, s, Problem::DotDot);
    }
    Ok(())
}

/// Everything the document itself must satisfy.
pub fn spec(spec: &Spec) -> Result<()> {
    let version = spec.version();
    if !version.starts_with("1.") {
        return refuse(
            "ociVersion",
            version,
            Problem::Unsupported("only runtime-spec 1.x is implemented"),
        );
    }
    if let Some(root) = spec.root() {
        let s = lossy(root.path());
        no_nul("root.path", &s)?;
        if s.is_empty() {
            return Err(invalid("root.path", None, Problem::Empty));
        }
    }
    if let Some(p) = spec.process() {
        process_at("process.", p)?;
    }
    mounts(spec)?;
    linux(spec)?;
    hooks(spec)?;
    Ok(())
}

/// A process as `exec --process` gives it: the fields are named as in
/// that file (`args[0]`, `user.uid`).
pub fn process(p: &Process) -> Result<()> {
    process_at("", p)
}

/// The process checks, with `at` ("process." or "") before each field.
fn process_at(at: &str, p: &Process) -> Result<()> {
    let args = p.args().as_deref().unwrap_or_default();
    if args.is_empty() {
        return Err(invalid(format!("{at}args"), None, Problem::Empty));
    }
    for (i, a) in args.iter().enumerate() {
        no_nul(&format!("{at}args[{i}]"), a)?;
    }
    env_list(&format!("{at}env"), p.env().as_deref())?;
    no_nul(&format!("{at}cwd"), &lossy(p.cwd()))?;
    if let Some((field, v)) = crate::user::id_out_of_range(p.user()) {
        return refuse_num(format!("{at}{field}"), v, Problem::IdRange);
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, r) in p.rlimits().iter().flatten().enumerate() {
        let field = format!("{at}rlimits[{i}]");
        let typ = spelled(&r.typ());
        if let Some(j) = seen.insert(typ.clone(), i) {
            return refuse(
                format!("{field}.type"),
                typ,
                Problem::Duplicate(format!("{at}rlimits[{j}]")),
            );
        }
        if r.soft() > r.hard() {
            return refuse_num(
                format!("{field}.soft"),
                r.soft(),
                Problem::Malformed("greater than its hard limit"),
            );
        }
    }
    if let Some(adj) = p.oom_score_adj()
        && !(-1000..=1000).contains(&adj)
    {
        return refuse_num(
            format!("{at}oomScoreAdj"),
            adj,
            Problem::Range("-1000 to 1000"),
        );
    }
    Ok(())
}

/// `KEY=VALUE` entries, as execve wants them.
fn env_list(field: &str, env: Option<&[String]>) -> Result<()> {
    for (i, e) in env.unwrap_or_default().iter().enumerate() {
        let f = format!("{field}[{i}]");
        no_nul(&f, e)?;
        if !e.contains('=') || e.starts_with('=') {
            return refuse(f, e, Problem::Malformed("expected KEY=VALUE"));
        }
    }
    Ok(())
}

fn mounts(spec: &Spec) -> Result<()> {
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        absolute_path(&format!("mounts[{i}].destination"), m.destination())?;
        if let Some(src) = m.source() {
            no_nul(&format!("mounts[{i}].source"), &lossy(src))?;
        }
        if let Some(t) = m.typ() {
            no_nul(&format!("mounts[{i}].type"), t)?;
        }
        for (j, o) in m.options().iter().flatten().enumerate() {
            no_nul(&format!("mounts[{i}].options[{j}]"), o)?;
        }
    }
    Ok(())
}

/// Propagation modes mount(2) knows for the rootfs.
const PROPAGATIONS: &[&str] = &[
    "shared",
    "slave",
    "private",
    "unbindable",
    "rshared",
    "rslave",
    "rprivate",
    "runbindable",
];

fn linux(spec: &Spec) -> Result<()> {
    let Some(linux) = spec.linux() else {
        return Ok(());
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
        let typ = spelled(&ns.typ());
        if let Some(j) = seen.insert(typ.clone(), i) {
            return refuse(
                format!("linux.namespaces[{i}].type"),
                typ,
                Problem::Duplicate(format!("linux.namespaces[{j}]")),
            );
        }
        if let Some(p) = ns.path() {
            absolute_path(&format!("linux.namespaces[{i}].path"), p)?;
        }
    }
    if let Some(cg) = linux.cgroups_path() {
        let s = lossy(cg);
        no_nul("linux.cgroupsPath", &s)?;
        // Relative is allowed (below our own cgroup), escaping it is not.
        if cg.components().any(|c| c == Component::ParentDir) {
            return refuse("linux.cgroupsPath", s, Problem::DotDot);
        }
    }
    for (i, d) in linux.devices().iter().flatten().enumerate() {
        let field = format!("linux.devices[{i}]");
        absolute_path(&format!("{field}.path"), d.path())?;
        if d.typ() == LinuxDeviceType::A {
            return refuse(
                format!("{field}.type"),
                "a",
                Problem::Malformed("a device is one of c, b, u or p"),
            );
        }
        // The kernel's dev_t holds a 12-bit major and a 20-bit minor.
        if d.typ() != LinuxDeviceType::P {
            if !(0..1 << 12).contains(&d.major()) {
                return refuse_num(
                    format!("{field}.major"),
                    d.major(),
                    Problem::Range("0-4095"),
                );
            }
            if !(0..1 << 20).contains(&d.minor()) {
                return refuse_num(
                    format!("{field}.minor"),
                    d.minor(),
                    Problem::Range("0-1048575"),
                );
            }
        }
    }
    for (key, value) in linux.sysctl().iter().flatten() {
        let field = format!("linux.sysctl[{key:?}]");
        no_nul(&field, value)?;
        // Written below /proc/sys with dots as slashes: no empty or `..` part.
        let bad = key.is_empty()
            || key.contains('\0')
            || key
                .split(['.', '/'])
                .any(|part| part.is_empty() || part == "..");
        if bad {
            return refuse(
                "linux.sysctl",
                key,
                Problem::Malformed("not a kernel parameter name"),
            );
        }
    }
    for (name, list) in [
        ("linux.maskedPaths", linux.masked_paths()),
        ("linux.readonlyPaths", linux.readonly_paths()),
    ] {
        for (i, p) in list.iter().flatten().enumerate() {
            absolute_path(&format!("{name}[{i}]"), Path::new(p))?;
        }
    }
    if let Some(prop) = linux.rootfs_propagation()
        && !PROPAGATIONS.contains(&prop.as_str())
    {
        return refuse(
            "linux.rootfsPropagation",
            prop,
            Problem::Malformed(
                "expected shared, slave, private, unbindable, rshared, rslave, rprivate or runbindable",
            ),
        );
    }
    Ok(())
}

/// Every hook list with its config name and whether its path resolves on
/// the host (all but startContainer, which runs in the container).
fn hook_lists(spec: &Spec) -> Vec<(&'static str, &[Hook], bool)> {
    let Some(h) = spec.hooks() else {
        return Vec::new();
    };
    #[allow(deprecated)]
    let prestart = h.prestart();
    [
        ("prestart", prestart, true),
        ("createRuntime", h.create_runtime(), true),
        ("createContainer", h.create_container(), true),
        ("startContainer", h.start_container(), false),
        ("poststart", h.poststart(), true),
        ("poststop", h.poststop(), true),
    ]
    .into_iter()
    .filter_map(|(n, l, host)| l.as_deref().map(|l| (n, l, host)))
    .collect()
}

fn hooks(spec: &Spec) -> Result<()> {
    for (name, list, _) in hook_lists(spec) {
        for (i, h) in list.iter().enumerate() {
            let field = format!("hooks.{name}[{i}]");
            let path = h.path();
            let s = lossy(path);
            no_nul(&format!("{field}.path"), &s)?;
            if !path.is_absolute() {
                return refuse(format!("{field}.path"), s, Problem::NotAbsolute);
            }
            for (j, a) in h.args().iter().flatten().enumerate() {
                no_nul(&format!("{field}.args[{j}]"), a)?;
            }
            env_list(&format!("{field}.env"), h.env().as_deref())?;
            if let Some(t) = h.timeout()
                && t <= 0
            {
                return refuse_num(
                    format!("{field}.timeout"),
                    t,
                    Problem::Range("at least 1 second"),
                );
            }
        }
    }
    Ok(())
}

/// `spec`, plus what the config names on the host: the rootfs (already
/// resolved by the caller), hooks that run here, namespace files and bind
/// mount sources. Reads only.
pub fn bundle(s: &Spec, bundle: &Path, rootfs: &Path) -> Result<()> {
    spec(s)?;
    if rootfs == Path::new("/") {
        let given = s.root().as_ref().map(|r| format!("{:?}", r.path()));
        return Err(invalid(
            "root.path",
            given,
            Problem::Unusable("it resolves to the host's root directory".into()),
        ));
    }
    for (name, list, on_host) in hook_lists(s) {
        for (i, h) in list.iter().enumerate().filter(|_| on_host) {
            host_executable(&format!("hooks.{name}[{i}].path"), h.path())?;
        }
    }
    if let Some(linux) = s.linux() {
        for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
            if let Some(p) = ns.path() {
                host_exists(&format!("linux.namespaces[{i}].path"), p)?;
            }
        }
    }
    if let Some(profile) = s
        .process()
        .as_ref()
        .and_then(|p| p.apparmor_profile().as_ref())
        && !profile.is_empty()
        && !std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|t| t.starts_with('Y'))
    {
        return refuse(
            "process.apparmorProfile",
            profile,
            Problem::Unusable("AppArmor is not enabled on this host".into()),
        );
    }
    let rdt = s.linux().as_ref().and_then(|l| l.intel_rdt().as_ref());
    if rdt.is_some()
        && !std::fs::read_to_string("/proc/self/mountinfo")
            .is_ok_and(|m| m.lines().any(|l| l.contains(" - resctrl ")))
    {
        return Err(invalid(
            "linux.intelRdt",
            None,
            Problem::Unusable("no resctrl filesystem is mounted on this host".into()),
        ));
    }
    for (name, _) in s
        .linux()
        .iter()
        .flat_map(|l| l.net_devices().iter().flatten())
    {
        // A host interface moved into the container: it must exist here.
        if name.contains('/') || name == "." || name == ".." {
            return refuse(
                "linux.netDevices",
                name,
                Problem::Malformed("not an interface name"),
            );
        }
        if !Path::new("/sys/class/net").join(name).exists() {
            return refuse(
                "linux.netDevices",
                name,
                Problem::Unusable("no such network interface on this host".into()),
            );
        }
    }
    for (i, m) in s.mounts().iter().flatten().enumerate() {
        let bind = m.typ().as_deref() == Some("bind")
            || m.options()
                .iter()
                .flatten()
                .any(|o| o == "bind" || o == "rbind");
        if let (true, Some(src)) = (bind, m.source()) {
            host_exists(&format!("mounts[{i}].source"), &bundle.join(src))?;
        }
    }
    Ok(())
}

/// `p` exists. If not, say the errno as runc does ("no such file or
/// directory"): engines and their users look for those words.
fn host_exists(field: &str, p: &Path) -> Result<()> {
    match std::fs::metadata(p) {
        Ok(_) => Ok(()),
        Err(e) => refuse(field, lossy(p), Problem::Unusable(io_words(&e))),
    }
}

fn host_executable(field: &str, p: &Path) -> Result<()> {
    host_exists(field, p)?;
    let m = std::fs::metadata(p).map_err(|e| {
        invalid(
            field,
            Some(format!("{p:?}")),
            Problem::Unusable(io_words(&e)),
        )
    })?;
    if !m.is_file() {
        return refuse(
            field,
            lossy(p),
            Problem::Unusable("not a regular file".into()),
        );
    }
    if m.permissions().mode() & 0o111 == 0 {
        return refuse(field, lossy(p), Problem::Unusable("not executable".into()));
    }
    Ok(())
}

/// An I/O error as words, without Rust's "(os error N)".
fn io_words(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => crate::error::errno_words(n),
        None => e.to_string(),
    }
}

/// A JSON parse error of `text` with the field it happened in, as a path
/// (`process.args: invalid type: ...`): serde_json says only the line and
/// column, and a config is hundreds of lines long.
pub fn parse_error(text: &str, e: &serde_json::Error) -> String {
    // serde quotes a bad key or variant as written, newline included.
    let what = crate::error::escape_controls(&e.to_string());
    match json_path_at(text, e.line(), e.column()) {
        Some(path) if !path.is_empty() => format!("{path}: {what}"),
        _ => what,
    }
}

/// The path of the innermost field open at `line`:`column` (1-based, as
/// serde_json counts them) in `text`, read with a small scanner that only
/// tracks objects, arrays, keys and strings.
fn json_path_at(text: &str, line: usize, column: usize) -> Option<String> {
    if line == 0 {
        return None;
    }
    let start = if line == 1 {
        0
    } else {
        text.match_indices('\n').nth(line - 2)?.0 + 1
    };
    let end = (start + column).min(text.len());
    enum Frame {
        Object { key: Option<String>, in_value: bool },
        Array(usize),
    }
    let mut stack: Vec<Frame> = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < end {
        match bytes[i] {
            b'{' => stack.push(Frame::Object {
                key: None,
                in_value: false,
            }),
            b'[' => stack.push(Frame::Array(0)),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => match stack.last_mut() {
                Some(Frame::Object { key, in_value }) => {
                    *key = None;
                    *in_value = false;
                }
                Some(Frame::Array(n)) => *n += 1,
                None => {}
            },
            b':' => {
                if let Some(Frame::Object { in_value, .. }) = stack.last_mut() {
                    *in_value = true;
                }
            }
            b'"' => {
                let from = i + 1;
                i = from;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                if let Some(Frame::Object {
                    key,
                    in_value: false,
                }) = stack.last_mut()
                {
                    *key = text.get(from..i.min(text.len())).map(str::to_string);
                }
            }
            _ => {}
        }
        i += 1;
    }
    let mut path = String::new();
    for f in &stack {
        match f {
            Frame::Object { key: Some(k), .. } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&crate::error::escape_controls(k));
            }
            Frame::Object { key: None, .. } => break,
            Frame::Array(n) => path.push_str(&format!("[{n}]")),
        }
    }
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// A config that passes: the parts the checks look at.
    fn base() -> Value {
        json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "process": {"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/",
                        "env": ["PATH=/bin"],
                        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 10, "soft": 10}]},
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}],
                      "maskedPaths": ["/proc/kcore"], "rootfsPropagation": "rprivate",
                      "sysctl": {"net.ipv4.ip_forward": "1"}},
            "hooks": {"startContainer": [{"path": "/in/the/container"}]}
        })
    }

    fn check(edit: impl FnOnce(&mut Value)) -> std::result::Result<(), String> {
        let mut v = base();
        edit(&mut v);
        let s: Spec = serde_json::from_value(v).expect("a well-typed config");
        spec(&s).map_err(|e| e.to_string())
    }

    #[track_caller]
    fn refused(edit: impl FnOnce(&mut Value), want: &str) {
        let e = check(edit).expect_err(want);
        assert_eq!(e, want);
    }

    #[test]
    fn mount_options_are_checked_one_by_one() {
        assert_eq!(
            check(|v| v["mounts"][0]["options"] = json!(["nosuid", "rro", "tmpcopyup"])),
            Ok(())
        );
        let e = check(|v| v["mounts"][0]["options"] = json!(["ro", "size=1\u{0}k"])).unwrap_err();
        assert!(e.starts_with("mounts[0].options[1] "), "{e}");
        assert!(e.ends_with("must not contain a NUL byte"), "{e}");
    }

    fn parse_err(text: &str) -> String {
        let e = serde_json::from_str::<Spec>(text).unwrap_err();
        parse_error(text, &e)
    }

    #[test]
    fn parse_errors_name_the_field() {
        let mut v = base();
        v["process"]["args"] = json!("sh");
        let text = serde_json::to_string_pretty(&v).unwrap();
        let e = parse_err(&text);
        assert!(e.starts_with("process.args: invalid type"), "{e}");
        v = base();
        v["linux"]["namespaces"][1]["type"] = json!("bogus");
        let e = parse_err(&v.to_string());
        assert!(
            e.starts_with("linux.namespaces[1].type: unknown variant `bogus`"),
            "{e}"
        );
        v = base();
        v["process"]["user"]["uid"] = json!(-1);
        let e = parse_err(&v.to_string());
        assert!(e.starts_with("process.user.uid: invalid value"), "{e}");
        // Not JSON at all: no path, serde's words.
        assert_eq!(
            parse_err("{"),
            "EOF while parsing an object at line 1 column 1"
        );
    }

    #[test]
    fn the_base_config_passes() {
        check(|_| {}).unwrap();
        // Relative cgroupsPath is the spec's "relative to the runtime's cgroup".
        check(|v| v["linux"]["cgroupsPath"] = json!("a/b")).unwrap();
    }

    #[test]
    fn mount_destinations_are_absolute() {
        refused(
            |v| v["mounts"][0]["destination"] = json!("../../etc"),
            r#"mounts[0].destination "../../etc" must be an absolute path"#,
        );
        refused(
            |v| v["mounts"][0]["destination"] = json!("etc"),
            r#"mounts[0].destination "etc" must be an absolute path"#,
        );
        refused(
            |v| v["mounts"][0]["destination"] = json!("/a/../../etc"),
            r#"mounts[0].destination "/a/../../etc" must not contain "..""#,
        );
        refused(
            |v| v["mounts"][0]["destination"] = json!("/a\nb\0"),
            r#"mounts[0].destination "/a\nb\0" must not contain a NUL byte"#,
        );
    }

    #[test]
    fn namespaces_once_each() {
        refused(
            |v| {
                v["linux"]["namespaces"] =
                    json!([{"type": "pid"}, {"type": "mount"}, {"type": "pid"}])
            },
            r#"linux.namespaces[2].type "pid" is given twice (also at linux.namespaces[0])"#,
        );
        refused(
            |v| v["linux"]["namespaces"][0]["path"] = json!("proc/1/ns/pid"),
            r#"linux.namespaces[0].path "proc/1/ns/pid" must be an absolute path"#,
        );
    }

    #[test]
    fn process_fields() {
        refused(
            |v| v["process"]["user"]["gid"] = json!(2147483648u32),
            "process.user.gid 2147483648 is refused: uids and gids must be in range 0-2147483647",
        );
        refused(
            |v| v["process"]["args"] = json!([]),
            "process.args must not be empty",
        );
        refused(
            |v| v["process"]["env"] = json!(["PATH=/bin", "=x"]),
            r#"process.env[1] "=x" is not valid: expected KEY=VALUE"#,
        );
        refused(
            |v| v["process"]["rlimits"][0]["soft"] = json!(11),
            "process.rlimits[0].soft 11 is not valid: greater than its hard limit",
        );
        refused(
            |v| v["process"]["rlimits"] = json!([{"type": "RLIMIT_CORE"}, {"type": "RLIMIT_CORE"}]),
            r#"process.rlimits[1].type "RLIMIT_CORE" is given twice (also at process.rlimits[0])"#,
        );
        refused(
            |v| v["process"]["oomScoreAdj"] = json!(-1001),
            "process.oomScoreAdj -1001 is out of range (-1000 to 1000)",
        );
        refused(
            |v| v["ociVersion"] = json!("2.0.0"),
            r#"ociVersion "2.0.0" is not supported: only runtime-spec 1.x is implemented"#,
        );
    }

    #[test]
    fn linux_fields() {
        refused(
            |v| v["linux"]["cgroupsPath"] = json!("/a/../../b"),
            r#"linux.cgroupsPath "/a/../../b" must not contain "..""#,
        );
        refused(
            |v| {
                v["linux"]["devices"] =
                    json!([{"path": "/dev/x", "type": "c", "major": 4096, "minor": 1}])
            },
            "linux.devices[0].major 4096 is out of range (0-4095)",
        );
        refused(
            |v| {
                v["linux"]["devices"] =
                    json!([{"path": "/dev/x", "type": "a", "major": 1, "minor": 1}])
            },
            r#"linux.devices[0].type "a" is not valid: a device is one of c, b, u or p"#,
        );
        refused(
            |v| v["linux"]["sysctl"] = json!({"net/../../x": "1"}),
            r#"linux.sysctl "net/../../x" is not valid: not a kernel parameter name"#,
        );
        refused(
            |v| v["linux"]["readonlyPaths"] = json!(["/ok", "proc/sys"]),
            r#"linux.readonlyPaths[1] "proc/sys" must be an absolute path"#,
        );
        refused(
            |v| v["linux"]["rootfsPropagation"] = json!("bogus"),
            r#"linux.rootfsPropagation "bogus" is not valid: expected shared, slave, private, unbindable, rshared, rslave, rprivate or runbindable"#,
        );
    }

    #[test]
    fn hooks_are_absolute_with_a_positive_timeout() {
        refused(
            |v| v["hooks"] = json!({"poststop": [{"path": "bin/true"}]}),
            r#"hooks.poststop[0].path "bin/true" must be an absolute path"#,
        );
        refused(
            |v| v["hooks"] = json!({"createRuntime": [{"path": "/bin/true", "timeout": 0}]}),
            "hooks.createRuntime[0].timeout 0 is out of range (at least 1 second)",
        );
    }

    #[test]
    fn host_checks_name_the_missing_thing() {
        /// Removes the temp dir, on failure too.
        struct TempDir(std::path::PathBuf);
        impl Drop for TempDir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let tmp =
            TempDir(std::env::temp_dir().join(format!("cellos-validate-{}", std::process::id())));
        let dir = tmp.0.clone();
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        let plain = dir.join("plain");
        std::fs::write(&plain, "").unwrap();
        let s = |edit: &dyn Fn(&mut Value)| {
            let mut v = base();
            edit(&mut v);
            serde_json::from_value::<Spec>(v).unwrap()
        };
        let run = |sp: &Spec, rootfs: &Path| bundle(sp, &dir, rootfs).map_err(|e| e.to_string());
        let rootfs = dir.join("rootfs");
        run(&s(&|_| {}), &rootfs).unwrap();
        let e = run(&s(&|_| {}), Path::new("/")).unwrap_err();
        assert_eq!(
            e,
            r#"root.path "rootfs" cannot be used: it resolves to the host's root directory"#
        );
        let e = run(
            &s(&|v| v["hooks"] = json!({"prestart": [{"path": "/no/such/hook"}]})),
            &rootfs,
        )
        .unwrap_err();
        assert_eq!(
            e,
            r#"hooks.prestart[0].path "/no/such/hook" cannot be used: no such file or directory"#
        );
        let e = run(
            &s(&|v| v["hooks"] = json!({"poststart": [{"path": plain}]})),
            &rootfs,
        )
        .unwrap_err();
        assert_eq!(
            e,
            format!("hooks.poststart[0].path {plain:?} cannot be used: not executable")
        );
        let e = run(
            &s(&|v| v["mounts"] = json!([{"destination": "/m", "type": "bind", "source": "nope"}])),
            &rootfs,
        )
        .unwrap_err();
        assert_eq!(
            e,
            format!(
                "mounts[0].source {:?} cannot be used: no such file or directory",
                dir.join("nope")
            )
        );
        drop(tmp);
    }
}
