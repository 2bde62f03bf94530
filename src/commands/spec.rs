use super::Status;
use anyhow::{Context, bail};
use oci_spec::runtime::Spec;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct SpecArgs {
    /// Directory to write config.json into
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// A template for running without root
    #[arg(long)]
    pub rootless: bool,
}

/// Write a starter config.json, like `runc spec`. Never overwrites one.
pub fn run(args: SpecArgs) -> Status {
    let path = args.bundle.join("config.json");
    if path.exists() {
        bail!("{}: file exists, remove it first", path.display());
    }
    let spec = if args.rootless {
        Spec::rootless(
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    } else {
        Spec::default()
    };
    let text = serde_json::to_string_pretty(&spec)?;
    std::fs::write(&path, text + "\n").with_context(|| format!("write {}", path.display()))?;
    Ok(0)
}
