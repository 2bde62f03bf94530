use super::Status;

// `checkpoint` and `restore` need CRIU, which libcontainer 0.7 does not
// drive reliably. They are refused, and `checkpoint --help` fails too:
// podman treats a successful `checkpoint --help` as "supported".
#[derive(clap::Args, Debug)]
#[command(disable_help_flag = true)]
pub struct Unsupported {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

pub fn run(verb: &str) -> Status {
    anyhow::bail!("{verb} is not supported by cellos-runtime (no CRIU support)")
}
