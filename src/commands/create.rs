use super::{Global, Status};
use crate::runtime::engine::CreateOptions;
use std::path::PathBuf;

// Flags shared by `create` and `run`, exactly as runc spells them.
#[derive(clap::Args, Debug, Clone)]
pub struct CreateArgs {
    /// Path to the bundle (holds config.json)
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket that receives the pty master of a terminal container
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// File to write the init's host pid to (atomically)
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Do not use pivot_root (for ramdisk roots)
    #[arg(long)]
    pub no_pivot: bool,
    /// Do not create a new session keyring for the container
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass this many extra fds (from 3 up) into the container
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: i32,
}

impl CreateArgs {
    pub fn options(&self, id: &str, detach: bool) -> CreateOptions {
        CreateOptions {
            id: id.to_string(),
            bundle: self.bundle.clone(),
            pid_file: self.pid_file.clone(),
            console_socket: self.console_socket.clone(),
            preserve_fds: self.preserve_fds,
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            detach,
            claimed: false,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct Create {
    #[command(flatten)]
    pub opts: CreateArgs,
    pub container_id: String,
}

pub fn run(g: &Global, args: Create) -> Status {
    crate::runtime::seal::ensure_sealed()?;
    g.runtime()?
        .create(&args.opts.options(&args.container_id, true))?;
    Ok(0)
}
