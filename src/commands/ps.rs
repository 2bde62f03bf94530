use super::{Global, Status};
use anyhow::Context;

#[derive(clap::Args, Debug)]
pub struct Ps {
    /// table (ps output filtered to the container) or json (array of host pids)
    #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    pub container_id: String,
    /// Options passed to ps(1) for the table format (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

pub fn run(g: &Global, args: Ps) -> Status {
    let pids = g.runtime()?.load(&args.container_id)?.pids()?;
    if args.format == "json" {
        if !args.ps_args.is_empty() {
            anyhow::bail!("ps: options for ps(1) cannot be used with --format json");
        }
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(0);
    }
    let ps_args = if args.ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        args.ps_args
    };
    let out = std::process::Command::new("ps")
        .args(&ps_args)
        .output()
        .context("run ps(1)")?;
    if !out.status.success() {
        anyhow::bail!(
            "ps {}: {}",
            ps_args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .context("ps output has no PID column")?;
    println!("{header}");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            println!("{line}");
        }
    }
    Ok(0)
}
