use super::{Global, Status};
use crate::error::Error;

#[derive(clap::Args, Debug)]
pub struct Delete {
    /// Kill the container first if it is still running
    #[arg(short, long)]
    pub force: bool,
    pub container_id: String,
}

pub fn run(g: &Global, args: Delete) -> Status {
    let rt = g.runtime()?;
    match rt.load(&args.container_id) {
        Ok(mut c) => c.delete(args.force)?,
        // containerd always follows delete with delete --force: that one must succeed.
        Err(Error::NotExist(_)) if args.force => {}
        Err(e) => return Err(e.into()),
    }
    Ok(0)
}
