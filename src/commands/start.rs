use super::{Global, Status};

#[derive(clap::Args, Debug)]
pub struct Start {
    pub container_id: String,
}

pub fn run(g: &Global, args: Start) -> Status {
    g.runtime()?.load_locked(&args.container_id)?.start()?;
    Ok(0)
}
