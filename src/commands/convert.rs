use super::Status;
use crate::cell::{Cell, ConvertOptions, write_bundle};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Convert {
    /// ExecutionCell spec (JSON)
    pub spec: PathBuf,
    /// Directory for the OCI bundle (config.json and rootfs/)
    #[arg(short, long)]
    pub bundle: PathBuf,
}

/// Write the OCI bundle that a cell runs as; any OCI runtime can run it.
pub fn run(args: Convert) -> Status {
    let cell = Cell::load(&args.spec)?;
    let opts = ConvertOptions::default();
    write_bundle(&cell, &opts, &args.bundle)?;
    Ok(0)
}
