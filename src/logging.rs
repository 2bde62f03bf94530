//! Logs shaped the way engines read runc's: with `--log-format json`, one
//! object per line with lowercase `level`, `msg` and an RFC 3339 `time`
//! (containerd shows the last `error` line to the user). Text format follows
//! logrus: `time="…" level=error msg="…"`.
//!
//! libcontainer sets a container up in forked children and hands the parent
//! only the outermost line of a failure ("failed to prepare rootfs"); the
//! cause is logged in the child. The first error a child logs is kept in a
//! small shared page, and `report_error` appends it, so that the user sees
//! which mount or path failed (containerd and podman show only our last line).

use oci_spec::runtime::Mount;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Debug)]
pub struct LogConfig {
    pub path: Option<PathBuf>,
    pub format: LogFormat,
    pub debug: bool,
}

impl LogConfig {
    /// `--log`/`--log-format` picked out of an argument list clap refused,
    /// so that even a usage error reaches the engine's log file.
    pub fn from_raw_args(args: impl IntoIterator<Item = String>) -> LogConfig {
        let mut cfg = LogConfig {
            path: None,
            format: LogFormat::Text,
            debug: false,
        };
        let args: Vec<String> = args.into_iter().collect();
        let mut i = 0;
        while i < args.len() {
            let (key, inline) = match args[i].split_once('=') {
                Some((k, v)) => (k, Some(v.to_string())),
                None => (args[i].as_str(), None),
            };
            let value = || inline.clone().or_else(|| args.get(i + 1).cloned());
            match key {
                "--log" => cfg.path = value().map(PathBuf::from),
                "--log-format" if value().as_deref() == Some("json") => {
                    cfg.format = LogFormat::Json
                }
                _ => {}
            }
            i += 1;
        }
        cfg
    }
}

/// clap's error without its "error: " prefix, tips and usage block.
pub fn one_line_usage_error(rendered: &str) -> String {
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("invalid arguments");
    let mut msg = first.strip_prefix("error: ").unwrap_or(first).to_string();
    // "required arguments were not provided:" lists them on the lines below.
    let rest: Vec<&str> = lines
        .take_while(|l| {
            !l.starts_with("Usage:") && !l.starts_with("tip:") && !l.starts_with("For more")
        })
        .collect();
    for l in rest {
        msg.push(' ');
        msg.push_str(l);
    }
    format!("{msg} (see --help)")
}

struct Sink {
    file: Option<Mutex<File>>,
    format: LogFormat,
    /// Without a file, events go to stderr only with `--debug`.
    to_stderr: bool,
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// The first error logged by a forked child (libcontainer's intermediate or
/// init process), readable by the parent: an anonymous MAP_SHARED page,
/// inherited across fork. It holds two slots: the first error's message,
/// and the first errno any child error carried (in words), since
/// libcontainer often logs a failure first without its errno ("openat2
/// subpath failed") and then with it, in Debug form only. Slot layout:
/// state (u32: 0 empty, 1 being written, 2 written), length (u32), bytes.
struct ChildCause {
    page: *mut u8,
    main_pid: libc::pid_t,
}

// SAFETY: the page is only touched through the atomic state words and the
// single writer that wins each; it lives as long as the process.
unsafe impl Send for ChildCause {}
unsafe impl Sync for ChildCause {}

const CAUSE_PAGE: usize = 4096;
const CAUSE_HEADER: usize = 8;
/// Where each slot starts, and where it ends.
const MESSAGE_SLOT: (usize, usize) = (0, 3072);
const ERRNO_SLOT: (usize, usize) = (3072, CAUSE_PAGE);

static CHILD_CAUSE: OnceLock<Option<ChildCause>> = OnceLock::new();

impl ChildCause {
    fn new() -> Option<Self> {
        // SAFETY: a fresh anonymous mapping, checked against MAP_FAILED.
        let page = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                CAUSE_PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if page == libc::MAP_FAILED {
            return None;
        }
        Some(Self {
            page: page.cast(),
            // SAFETY: getpid cannot fail.
            main_pid: unsafe { libc::getpid() },
        })
    }

    fn state(&self, (start, _): (usize, usize)) -> &std::sync::atomic::AtomicU32 {
        // SAFETY: each slot starts 4-aligned inside the page.
        unsafe { &*(self.page.add(start) as *const std::sync::atomic::AtomicU32) }
    }

    /// Keep `msg` if this is a child and nothing was kept before.
    fn record(&self, msg: &str) {
        self.record_in(MESSAGE_SLOT, msg);
    }

    /// Keep the words of an errno a child error carried, if none was kept.
    fn record_errno(&self, words: &str) {
        self.record_in(ERRNO_SLOT, words);
    }

    fn record_in(&self, slot: (usize, usize), msg: &str) {
        use std::sync::atomic::Ordering;
        // SAFETY: getpid cannot fail.
        if unsafe { libc::getpid() } == self.main_pid || msg.is_empty() {
            return;
        }
        if self
            .state(slot)
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        let (start, end) = slot;
        let mut n = msg.len().min(end - start - CAUSE_HEADER);
        while !msg.is_char_boundary(n) {
            n -= 1;
        }
        // SAFETY: we own the slot for writing (state 1); n fits after its header.
        unsafe {
            let base = self.page.add(start);
            std::ptr::copy_nonoverlapping(msg.as_ptr(), base.add(CAUSE_HEADER), n);
            (base.add(4) as *mut u32).write(n as u32);
        }
        self.state(slot).store(2, Ordering::Release);
    }

    fn get(&self) -> Option<String> {
        self.get_in(MESSAGE_SLOT)
    }

    fn errno(&self) -> Option<String> {
        self.get_in(ERRNO_SLOT)
    }

    fn get_in(&self, slot: (usize, usize)) -> Option<String> {
        use std::sync::atomic::Ordering;
        if self.state(slot).load(Ordering::Acquire) != 2 {
            return None;
        }
        let (start, end) = slot;
        // SAFETY: state 2 means the length and bytes were written and stay put.
        let bytes = unsafe {
            let base = self.page.add(start);
            let n = (base.add(4) as *const u32).read() as usize;
            std::slice::from_raw_parts(base.add(CAUSE_HEADER), n.min(end - start - CAUSE_HEADER))
        };
        Some(String::from_utf8_lossy(bytes).into_owned())
    }
}

fn child_cause() -> Option<&'static ChildCause> {
    CHILD_CAUSE.get_or_init(ChildCause::new).as_ref()
}

/// The mounts of the config libcontainer is about to run (set by the
/// engine before it forks; the children that log see their copy).
static EXPECTED_MOUNTS: Mutex<Vec<Mount>> = Mutex::new(Vec::new());

/// Tell the error report which mounts the container's config has, so that
/// a failed one can be named from its fields (`tidy_mount_error`).
pub fn expect_mounts(mounts: &[Mount]) {
    *EXPECTED_MOUNTS.lock().unwrap_or_else(|e| e.into_inner()) = mounts.to_vec();
}

/// libcontainer names a failed mount by its Debug form,
/// `failed to mount Mount { destination: "/x", … }: why`. Find which of the
/// config's mounts that is (by rendering each the same way, not by reading
/// the text back) and say it as runc does:
/// `error mounting "/s" to rootfs at "/x": why`.
fn tidy_mount_error(cause: &str) -> String {
    let mounts = EXPECTED_MOUNTS.lock().unwrap_or_else(|e| e.into_inner());
    let found = mounts.iter().find_map(|m| {
        cause
            .strip_prefix(&format!("failed to mount {m:?}: "))
            .map(|why| (m, why))
    });
    let Some((m, why)) = found else {
        return cause.to_string();
    };
    let dest = m.destination().display();
    // The filesystem type, unless it is a bind mount (named by its source).
    let typ = m
        .typ()
        .as_deref()
        .filter(|t| *t != "bind")
        .map(|t| format!(" (type \"{t}\")"))
        .unwrap_or_default();
    match m.source() {
        Some(src) => format!(
            "error mounting \"{}\"{typ} to rootfs at \"{dest}\": {why}",
            src.display()
        ),
        None => format!("error mounting{typ} to rootfs at \"{dest}\": {why}"),
    }
}

/// `msg`, with the cause a child logged appended when `msg` does not say it
/// already (the child's line may wrap what `msg` ends with in more context).
pub fn with_child_cause(msg: &str) -> String {
    let Some(cause) = child_cause().and_then(ChildCause::get) else {
        return msg.to_string();
    };
    let errno = child_cause().and_then(ChildCause::errno);
    merge_cause(msg, &cause, errno.as_deref())
}

/// `msg` with what a child logged (`cause`, and the first errno a child
/// error carried), each clause said once.
fn merge_cause(msg: &str, cause: &str, errno: Option<&str>) -> String {
    let mut cause = tidy_mount_error(cause);
    if let Some(errno) = errno
        && !cause.to_ascii_lowercase().contains(errno)
    {
        cause = format!("{cause}: {errno}");
    }
    // Case aside: the parent may say "Operation not permitted (os error 1)"
    // where the child's line says "operation not permitted".
    let (lc_cause, lc_msg) = (cause.to_ascii_lowercase(), msg.to_ascii_lowercase());
    let said = std::iter::once(lc_cause.as_str())
        .chain(
            lc_cause
                .match_indices(": ")
                .map(|(i, _)| &lc_cause[i + 2..]),
        )
        .any(|tail| !tail.is_empty() && lc_msg.contains(tail));
    if said {
        return msg.to_string();
    }
    // The child's line may start where the message ends ("failed to
    // prepare rootfs"), or say the message's last clause again with more
    // detail ("failed to mount path as readonly \"/x\""): say it once.
    let (head, last) = lc_msg.rsplit_once(": ").unwrap_or(("", &lc_msg));
    if !head.is_empty() && !last.is_empty() && lc_cause.starts_with(last) {
        return format!("{}: {cause}", &msg[..head.len()]);
    }
    let overlap = std::iter::once(lc_cause.len())
        .chain(lc_cause.rmatch_indices(": ").map(|(i, _)| i))
        .find(|&i| lc_msg.ends_with(&lc_cause[..i]));
    match overlap {
        Some(i) if i < cause.len() => format!("{msg}{}", &cause[i..]),
        _ => format!("{msg}: {cause}"),
    }
}

/// Open the log file and route `tracing` events to it. Without `--log`,
/// only `--debug` sends events to stderr: `state` must keep stderr empty.
pub fn init(cfg: &LogConfig) -> std::io::Result<()> {
    let file = match &cfg.path {
        Some(p) if !p.as_os_str().is_empty() => Some(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| {
                    std::io::Error::new(e.kind(), format!("open log file {}: {e}", p.display()))
                })?,
        )),
        _ => None,
    };
    let to_stderr = file.is_none() && cfg.debug;
    let _ = SINK.set(Sink {
        file,
        format: cfg.format,
        to_stderr,
    });
    // Before any fork, so that children share the page.
    let _ = child_cause();
    let max = if cfg.debug || crate::trace::enabled() {
        Level::DEBUG
    } else {
        Level::WARN
    };
    let subscriber = tracing_subscriber::registry().with(LineLayer { max });
    let _ = tracing::subscriber::set_global_default(subscriber);
    Ok(())
}

/// Report the error that ends this command: one line on stderr, and one
/// `error` entry in the log file when there is one.
pub fn report_error(msg: &str) {
    let line = nix_errnos_in_words(&with_child_cause(msg)).replace('\n', " ");
    if let Some(sink) = SINK.get().filter(|s| s.file.is_some()) {
        sink.write("error", &line);
    }
    eprintln!("cellos-runtime: {line}");
}

impl Sink {
    fn write(&self, level: &str, msg: &str) {
        let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let line = format_line(self.format, level, msg, &time);
        match &self.file {
            Some(f) => {
                if let Ok(mut f) = f.lock() {
                    let _ = f.write_all(line.as_bytes());
                }
            }
            None => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        }
    }
}

pub fn format_line(format: LogFormat, level: &str, msg: &str, time: &str) -> String {
    match format {
        LogFormat::Json => {
            let v = serde_json::json!({"level": level, "msg": msg, "time": time});
            format!("{v}\n")
        }
        LogFormat::Text => format!("time={time:?} level={level} msg={msg:?}\n"),
    }
}

struct LineLayer {
    max: Level,
}

impl<S: Subscriber> Layer<S> for LineLayer {
    fn enabled(&self, meta: &tracing::Metadata<'_>, _: Context<'_, S>) -> bool {
        *meta.level() <= self.max
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let Some(sink) = SINK.get() else { return };
        let mut v = MsgVisitor::default();
        event.record(&mut v);
        if *event.metadata().level() == Level::ERROR
            && let Some(c) = child_cause()
        {
            c.record(&v.in_words());
            if let Some(errno) = v.errno_words() {
                c.record_errno(&errno);
            }
        }
        if sink.file.is_none() && !sink.to_stderr {
            return;
        }
        let level = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warning",
            Level::INFO => "info",
            _ => "debug",
        };
        sink.write(level, &v.raw());
    }
}

/// An event's message and its other fields, each as its Debug text.
#[derive(Default)]
struct MsgVisitor {
    msg: String,
    fields: Vec<(&'static str, String)>,
}

impl Visit for MsgVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.msg, "{value:?}");
        } else {
            self.fields.push((field.name(), format!("{value:?}")));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.msg.push_str(value);
        } else {
            self.fields.push((field.name(), format!("{value:?}")));
        }
    }
}

impl MsgVisitor {
    /// As the event was written, `key=Debug` fields included: for the log
    /// file, where the detail helps whoever debugs the engine.
    fn raw(&self) -> String {
        let mut out = self.msg.clone();
        for (k, v) in &self.fields {
            let _ = write!(out, " {k}={v}");
        }
        out
    }

    /// As a sentence for the user: libcontainer logs its errors with
    /// Debug fields (`err=Nix(EINVAL) path="/x" major=1`); say
    /// `"/x" (major 1): invalid argument` instead, and drop what only a
    /// Rust programmer could read.
    /// The errno the event's error fields carry, in words.
    fn errno_words(&self) -> Option<String> {
        self.fields
            .iter()
            .filter(|(k, _)| is_error_field(k))
            .find_map(|(_, v)| debug_errno_words(v))
    }

    fn in_words(&self) -> String {
        let mut named = Vec::new();
        let mut numbers = Vec::new();
        let mut cause = None;
        for (k, v) in &self.fields {
            if is_error_field(k) {
                cause = cause.or_else(|| debug_errno_words(v).or_else(|| debug_message(v)));
            } else if let Some(s) = quoted(v) {
                named.push(s);
            } else if let Some(n) = number(v) {
                if *k != "pid" {
                    numbers.push(format!("{k} {n}"));
                }
            } else if let Some(p) = inner_path(v) {
                named.push(p);
            }
        }
        let mut out = tidy_debug_errnos(self.msg.trim_end());
        for n in named {
            let _ = write!(out, " {n}");
        }
        if !numbers.is_empty() {
            let _ = write!(out, " ({})", numbers.join(", "));
        }
        if let Some(c) = cause {
            let _ = write!(out, ": {c}");
        }
        out
    }
}

/// The names libcontainer gives the error field of an event.
fn is_error_field(k: &str) -> bool {
    matches!(k, "err" | "errno" | "e" | "error" | "ret")
}

/// The text an error without an errno carries in its Debug form:
/// `Mount(Other("proc must be mounted on a directory"))` says the string;
/// `UnknownRootfsPropagation("x")` says the variant in words and the string.
fn debug_message(v: &str) -> Option<String> {
    let open = v.find("(\"")?;
    let body = &v[open + 2..];
    let mut end = None;
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => {
                end = Some(i);
                break;
            }
            _ => escaped = false,
        }
    }
    let text = body[..end?].replace("\\\"", "\"");
    let name = v[..open]
        .rsplit(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or_default();
    if matches!(name, "" | "Other" | "Custom" | "Some" | "String") {
        return Some(text);
    }
    // CamelCase to words: UnknownRootfsPropagation -> unknown rootfs propagation.
    let mut words = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            words.push(' ');
        }
        words.push(c.to_ascii_lowercase());
    }
    Some(format!("{words} \"{text}\""))
}

/// `"x"` or `Some("x")`: the quoted string.
fn quoted(v: &str) -> Option<String> {
    let v = v
        .strip_prefix("Some(")
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or(v);
    (v.len() >= 2 && v.starts_with('"') && v.ends_with('"') && !v[1..v.len() - 1].contains('"'))
        .then(|| v.to_string())
}

/// `12`, `Some(12)`, `Uid(12)`: the number.
fn number(v: &str) -> Option<i64> {
    let inner = match v.split_once('(') {
        Some((name, rest)) if name.chars().all(|c| c.is_ascii_alphanumeric()) => {
            rest.strip_suffix(')')?
        }
        _ => v,
    };
    inner.parse().ok()
}

/// A structure's `path: Some("/x")` or `path: "/x"`, quoted.
fn inner_path(v: &str) -> Option<String> {
    let rest = v.split_once("path: ")?.1;
    let rest = rest.strip_prefix("Some(").unwrap_or(rest);
    let body = rest.strip_prefix('"')?;
    let end = body.find('"')?;
    Some(format!("\"{}\"", &body[..end]))
}

/// The errno a Debug value carries, in words: `ENOENT`, `Nix(EPERM)`,
/// `NixOther(EPERM)`, `Os { code: 2, … }`, anywhere inside it. None when
/// it carries none (then the message says enough without it).
fn debug_errno_words(v: &str) -> Option<String> {
    if let Some(rest) = v.split_once("Os { code: ").map(|(_, r)| r) {
        let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = n.parse() {
            return Some(crate::error::errno_words(n));
        }
    }
    v.split(|c: char| !c.is_ascii_alphanumeric())
        .find_map(crate::error::errno_name_words)
}

/// nix's rendering of an errno, `EINVAL: Invalid argument`, in words.
fn nix_errnos_in_words(msg: &str) -> String {
    if !msg.contains(": ") {
        return msg.to_string();
    }
    let mut out = msg.to_string();
    for n in 1..200 {
        let e = nix::errno::Errno::from_raw(n);
        if e == nix::errno::Errno::UnknownErrno {
            continue;
        }
        let nix_text = e.to_string();
        if out.contains(&nix_text) {
            out = out.replace(&nix_text, &crate::error::errno_words(n));
        }
    }
    out
}

/// Errno names that a message carries as Debug text (`err=ENOENT` written
/// into the message itself, `Nix(EINVAL)`), in words.
fn tidy_debug_errnos(msg: &str) -> String {
    let mut out = msg.to_string();
    for wrap in ["NixOther(", "Nix("] {
        while let Some(i) = out.find(wrap) {
            let rest = &out[i + wrap.len()..];
            let Some(end) = rest.find(')') else { break };
            let words = crate::error::errno_name_words(&rest[..end])
                .unwrap_or_else(|| rest[..end].to_ascii_lowercase());
            out = format!("{}{}{}", &out[..i], words, &rest[end + 1..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_fit_one_line() {
        let e = "error: unexpected argument '--bogus' found\n\n  tip: x\n\nUsage: y\n";
        assert_eq!(
            one_line_usage_error(e),
            "unexpected argument '--bogus' found (see --help)"
        );
        let e = "error: invalid value 'yaml' for '--log-format <LOG_FORMAT>'\n  [possible values: text, json]\n";
        assert_eq!(
            one_line_usage_error(e),
            "invalid value 'yaml' for '--log-format <LOG_FORMAT>' [possible values: text, json] (see --help)"
        );
        let e = "error: the following required arguments were not provided:\n  <CONTAINER_ID>\n\nUsage: z\n";
        assert_eq!(
            one_line_usage_error(e),
            "the following required arguments were not provided: <CONTAINER_ID> (see --help)"
        );
        let args = ["rt", "--log=/x.json", "--log-format", "json", "create"].map(String::from);
        let cfg = LogConfig::from_raw_args(args);
        assert_eq!(cfg.path, Some(PathBuf::from("/x.json")));
        assert_eq!(cfg.format, LogFormat::Json);
    }

    #[test]
    fn json_line_is_runc_shaped() {
        let l = format_line(
            LogFormat::Json,
            "error",
            "boom \"x\"",
            "2026-11-28T12:00:00Z",
        );
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "boom \"x\"");
        assert_eq!(v["time"], "2026-11-28T12:00:00Z");
        assert!(l.ends_with('\n'));
    }

    #[test]
    fn a_childs_first_error_is_appended_once() {
        let c = child_cause().expect("shared page");
        // SAFETY: fork in a test; the child only records and exits.
        match unsafe { libc::fork() } {
            0 => {
                c.record("stat /no/such: no such file or directory");
                c.record("a later, vaguer error");
                unsafe { libc::_exit(0) };
            }
            pid => {
                let mut st = 0;
                unsafe { libc::waitpid(pid, &mut st, 0) };
            }
        }
        c.record("the parent's own error is not a cause");
        assert_eq!(
            with_child_cause("create container \"x\": failed to prepare rootfs"),
            "create container \"x\": failed to prepare rootfs: stat /no/such: no such file or directory"
        );
        assert_eq!(
            with_child_cause("boom: stat /no/such: no such file or directory"),
            "boom: stat /no/such: no such file or directory"
        );
        assert_eq!(
            with_child_cause("x: no such file or directory"),
            "x: no such file or directory"
        );
    }

    #[test]
    fn a_childs_cause_is_said_once() {
        let m = "create container \"x\": failed to prepare rootfs";
        assert_eq!(
            merge_cause(
                m,
                "failed to prepare rootfs: proc must be a directory",
                None
            ),
            "create container \"x\": failed to prepare rootfs: proc must be a directory"
        );
        assert_eq!(
            merge_cause(
                "create container \"x\": failed to mount path as readonly",
                "failed to mount path as readonly \"/x\": too many levels of symbolic links",
                None
            ),
            "create container \"x\": failed to mount path as readonly \"/x\": too many levels of symbolic links"
        );
        assert_eq!(
            merge_cause(
                m,
                "openat2 subpath failed",
                Some("too many levels of symbolic links")
            ),
            format!("{m}: openat2 subpath failed: too many levels of symbolic links")
        );
        assert_eq!(
            merge_cause(
                "x: Operation not permitted (os error 1)",
                "failed to add task to cgroup: operation not permitted",
                Some("operation not permitted")
            ),
            "x: Operation not permitted (os error 1)"
        );
    }

    #[test]
    fn mount_errors_read_like_runcs() {
        use oci_spec::runtime::MountBuilder;
        let bind = MountBuilder::default()
            .destination("/etc/passwd/x")
            .typ("bind")
            .source("/tmp/f")
            .options(vec!["rbind".to_string()])
            .build()
            .unwrap();
        let bogus = MountBuilder::default()
            .destination("/mnt")
            .typ("bogusfs")
            .source("none")
            .build()
            .unwrap();
        let tmpfs = MountBuilder::default()
            .destination("/run")
            .typ("tmpfs")
            .build()
            .unwrap();
        expect_mounts(&[bind.clone(), bogus.clone(), tmpfs.clone()]);
        let why = "cannot re-open [9]<\"/r/etc/passwd\"> with O_DIRECTORY";
        assert_eq!(
            tidy_mount_error(&format!("failed to mount {bind:?}: {why}")),
            format!("error mounting \"/tmp/f\" to rootfs at \"/etc/passwd/x\": {why}")
        );
        assert_eq!(
            tidy_mount_error(&format!(
                "failed to mount {bogus:?}: ENODEV: No such device"
            )),
            "error mounting \"none\" (type \"bogusfs\") to rootfs at \"/mnt\": ENODEV: No such device"
        );
        assert_eq!(
            tidy_mount_error(&format!("failed to mount {tmpfs:?}: EPERM")),
            "error mounting (type \"tmpfs\") to rootfs at \"/run\": EPERM"
        );
        assert_eq!(tidy_mount_error("something else: x"), "something else: x");
        expect_mounts(&[]);
    }

    fn event(msg: &str, fields: &[(&'static str, &str)]) -> String {
        MsgVisitor {
            msg: msg.into(),
            fields: fields.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        }
        .in_words()
    }

    #[test]
    fn libcontainer_debug_fields_read_as_words() {
        assert_eq!(
            event(
                "failed to mknod device",
                &[
                    ("err", "Nix(EINVAL)"),
                    ("path", "\"/r/dev/foo\""),
                    ("major", "99"),
                    ("minor", "3")
                ]
            ),
            "failed to mknod device \"/r/dev/foo\" (major 99, minor 3): invalid argument"
        );
        assert_eq!(
            event(
                "failed to pivot root to",
                &[("errno", "EBUSY"), ("path", "\"/\"")]
            ),
            "failed to pivot root to \"/\": device or resource busy"
        );
        assert_eq!(
            event(
                "failed to add task to cgroup",
                &[
                    ("pid", "Pid(31571)"),
                    (
                        "err",
                        "V1(CpuSetController(WrappedIo(CreateDir { err: Os { code: 1, \
                         kind: PermissionDenied, message: \"Operation not permitted\" }, \
                         path: \"/sys/fs/cgroup/cpuset/x\" })))"
                    ),
                    ("init", "true")
                ]
            ),
            "failed to add task to cgroup: operation not permitted"
        );
        assert_eq!(
            event(
                "failed to open namespace file",
                &[
                    ("err", "ENOENT"),
                    (
                        "namespace",
                        "LinuxNamespace { typ: Pid, path: Some(\"/no/such/ns\") }"
                    )
                ]
            ),
            "failed to open namespace file \"/no/such/ns\": no such file or directory"
        );
        // A cause without an errno: its message, or its variant in words.
        assert_eq!(
            event(
                "failed to prepare rootfs",
                &[("err", "UnknownRootfsPropagation(\"x\")")]
            ),
            "failed to prepare rootfs: unknown rootfs propagation \"x\""
        );
        assert_eq!(
            event(
                "failed to prepare rootfs",
                &[(
                    "err",
                    "Mount(Other(\"proc must be mounted on \\\"a\\\" directory\"))"
                )]
            ),
            "failed to prepare rootfs: proc must be mounted on \"a\" directory"
        );
        // Nothing but structure: the parent's message says it already.
        assert_eq!(
            event(
                "failed to apply cgroup",
                &[("err", "V1(MemoryController(UnableToSet { target: 1 }))")]
            ),
            "failed to apply cgroup"
        );
        assert_eq!(
            nix_errnos_in_words("failed syscall: EBUSY: Device or resource busy"),
            "failed syscall: device or resource busy"
        );
    }

    #[test]
    fn text_line_is_logrus_shaped() {
        let l = format_line(LogFormat::Text, "error", "boom", "T");
        assert_eq!(l, "time=\"T\" level=error msg=\"boom\"\n");
    }
}
