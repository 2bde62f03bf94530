//! Lifecycle events as CloudEvents 1.0 JSON, one object per line. They go to
//! a file or stderr, never to stdout: that belongs to the cell.

use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;

/// A `CELLOS_EVENT_SINK` value that names no sink.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    #[error("CELLOS_EVENT_SINK: jsonl path {0:?} must be absolute")]
    RelativePath(String),
    #[error("CELLOS_EVENT_SINK {0:?} is not one of: jsonl:/ABSOLUTE/PATH, stderr")]
    Unknown(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventSink {
    Noop,
    Stderr,
    Jsonl(PathBuf),
}

impl EventSink {
    /// `jsonl:PATH` or `stderr`.
    pub fn parse(s: &str) -> Result<EventSink, SinkError> {
        if s == "stderr" {
            return Ok(EventSink::Stderr);
        }
        match s.strip_prefix("jsonl:") {
            Some(p) if p.starts_with('/') => Ok(EventSink::Jsonl(PathBuf::from(p))),
            Some(p) => Err(SinkError::RelativePath(p.to_string())),
            None => Err(SinkError::Unknown(s.to_string())),
        }
    }

    /// Emit `io.cellos.cell.<kind>` about the cell `subject`. A sink that
    /// cannot be written is reported once per event, never fatal.
    pub fn emit(&self, kind: &str, subject: &str, data: Value) {
        if *self == EventSink::Noop {
            return;
        }
        let line = format!("{}\n", cloud_event(kind, subject, data));
        emit_to(self, &line);
    }
}

pub fn cloud_event(kind: &str, subject: &str, data: Value) -> Value {
    let host = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut event = json!({
        "specversion": "1.0",
        "id": super::random_hex(8),
        "source": format!("cellos-supervisor://{host}/{}", std::process::id()),
        "type": format!("io.cellos.cell.{kind}"),
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
        "datacontenttype": "application/json",
        "data": data,
    });
    // CloudEvents 1.0: `subject`, when present, must be a non-empty string.
    // A spec refused before its id is known has none.
    if !subject.is_empty() {
        event["subject"] = json!(subject);
    }
    event
}

pub fn emit_to(sink: &EventSink, line: &str) {
    let res = match sink {
        EventSink::Noop => Ok(()),
        EventSink::Stderr => std::io::stderr().write_all(line.as_bytes()),
        EventSink::Jsonl(path) => (|| {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            // One write on an O_APPEND file: concurrent cells never interleave lines.
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?
                .write_all(line.as_bytes())
        })(),
    };
    if let Err(e) = res {
        eprintln!("cellos: warning: cannot write event to {sink:?}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinks_parse() {
        assert_eq!(EventSink::parse("stderr").unwrap(), EventSink::Stderr);
        assert_eq!(
            EventSink::parse("jsonl:/tmp/e.jsonl").unwrap(),
            EventSink::Jsonl("/tmp/e.jsonl".into())
        );
        assert!(EventSink::parse("jsonl:rel").is_err());
        assert!(EventSink::parse("kafka:x").is_err());
    }

    #[test]
    fn events_are_cloudevents() {
        let e = cloud_event("started", "build-42", json!({"pid": 1}));
        assert_eq!(e["specversion"], "1.0");
        assert_eq!(e["type"], "io.cellos.cell.started");
        assert_eq!(e["subject"], "build-42");
        assert_eq!(e["data"]["pid"], 1);
        assert_eq!(e["id"].as_str().unwrap().len(), 16);
        let anonymous = cloud_event("rejected", "", json!({}));
        assert!(anonymous.get("subject").is_none());
    }
}
