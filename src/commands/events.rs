use super::{Global, Status};
use serde_json::json;

#[derive(clap::Args, Debug)]
pub struct Events {
    /// Print one stats event and exit
    #[arg(long)]
    pub stats: bool,
    /// Time between stats events, e.g. 5s, 500ms
    #[arg(long, default_value = "5s")]
    pub interval: String,
    pub container_id: String,
}

fn parse_interval(s: &str) -> anyhow::Result<std::time::Duration> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let n: u64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("events: invalid --interval {s:?}"))?;
    let d = match unit {
        "ms" => std::time::Duration::from_millis(n),
        "s" => std::time::Duration::from_secs(n),
        "m" => std::time::Duration::from_secs(n * 60),
        _ => anyhow::bail!("events: invalid --interval {s:?} (use ms, s or m)"),
    };
    if d.is_zero() {
        anyhow::bail!("events: --interval must be greater than zero");
    }
    Ok(d)
}

/// runc-shaped events: one JSON object per line, `{"type":"stats","id":…,"data":…}`.
pub fn run(g: &Global, args: Events) -> Status {
    let interval = parse_interval(&args.interval)?;
    let rt = g.runtime()?;
    loop {
        let c = rt.load(&args.container_id)?;
        if c.pid().is_none() {
            anyhow::bail!(crate::error::Error::NotRunning(args.container_id.clone()));
        }
        let ev = json!({"type": "stats", "id": c.id(), "data": c.stats()?});
        println!("{ev}");
        if args.stats {
            return Ok(0);
        }
        std::thread::sleep(interval);
    }
}
