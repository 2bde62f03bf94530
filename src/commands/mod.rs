//! One file per subcommand, each a thin `run(global, args)` over the library.
//! The argument structs live beside their command so the binary only parses.

use crate::runtime::engine::Runtime;
use std::path::PathBuf;

pub mod checkpoint;
pub mod convert;
pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod foreground;
pub mod kill;
pub mod list;
pub mod pause;
pub mod ps;
pub mod resume;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;

/// The global flags every engine sends before the subcommand.
#[derive(Debug, Clone)]
pub struct Global {
    pub root: PathBuf,
    pub systemd_cgroup: bool,
    pub debug: bool,
}

impl Global {
    pub fn runtime(&self) -> anyhow::Result<Runtime> {
        Ok(Runtime::new(&self.root, self.systemd_cgroup)?)
    }
}

/// The state root when `--root` is not given: /run/cellos-runtime for root;
/// for anyone else a directory of their own (see `rootless::user_dir`;
/// Runtime::new makes it 0700 and refuses one that someone else owns).
pub fn default_root() -> PathBuf {
    crate::runtime::rootless::user_dir("cellos-runtime")
        .unwrap_or_else(|| PathBuf::from(crate::DEFAULT_ROOT))
}

/// Exit status of a command: 0, or the container's own status for foreground run/exec.
pub type Status = anyhow::Result<i32>;
