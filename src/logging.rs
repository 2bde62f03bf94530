//! Logs shaped the way engines read runc's: with `--log-format json`, one
//! object per line with lowercase `level`, `msg` and an RFC 3339 `time`
//! (containerd shows the last `error` line to the user). Text format follows
//! logrus: `time="…" level=error msg="…"`.

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

struct Sink {
    file: Option<Mutex<File>>,
    format: LogFormat,
}

static SINK: OnceLock<Sink> = OnceLock::new();

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
    });
    if SINK.get().is_some_and(|s| s.file.is_some()) || to_stderr {
        let max = if cfg.debug || crate::trace::enabled() {
            Level::DEBUG
        } else {
            Level::WARN
        };
        let subscriber = tracing_subscriber::registry().with(LineLayer { max });
        let _ = tracing::subscriber::set_global_default(subscriber);
    }
    Ok(())
}

/// Report the error that ends this command: one line on stderr, and one
/// `error` entry in the log file when there is one.
pub fn report_error(msg: &str) {
    let line = msg.replace('\n', " ");
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
        let level = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warning",
            Level::INFO => "info",
            _ => "debug",
        };
        sink.write(level, &v.msg);
    }
}

#[derive(Default)]
struct MsgVisitor {
    msg: String,
}

impl Visit for MsgVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.msg, "{value:?}");
        } else {
            let _ = write!(self.msg, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.msg.push_str(value);
        } else {
            let _ = write!(self.msg, " {}={value:?}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn text_line_is_logrus_shaped() {
        let l = format_line(LogFormat::Text, "error", "boom", "T");
        assert_eq!(l, "time=\"T\" level=error msg=\"boom\"\n");
    }
}
