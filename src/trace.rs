//! Cheap phase timing. With `--debug` or `CELLOS_TRACE=1`, each phase of a
//! lifecycle is logged with the milliseconds since the process started, so
//! the log shows where the time goes. Disabled, a mark is one atomic load.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

static ENABLED: AtomicBool = AtomicBool::new(false);
static START: OnceLock<Instant> = OnceLock::new();

/// Start the clock; call first thing in main.
pub fn init(enabled: bool) {
    START.get_or_init(Instant::now);
    let env = std::env::var_os("CELLOS_TRACE").is_some_and(|v| v == "1");
    ENABLED.store(enabled || env, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Record that `phase` just finished.
pub fn mark(phase: &str) {
    if enabled() {
        let ms = START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1000.0;
        tracing::info!("phase {phase} done at {ms:.3}ms");
        if std::env::var_os("CELLOS_TRACE").is_some() {
            eprintln!("cellos-trace: {phase} {ms:.3}ms");
        }
    }
}
