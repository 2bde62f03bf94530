use super::{Global, Status};
use anyhow::{Context, bail};
use oci_spec::runtime::LinuxResources;
use serde_json::{Map, Value, json};
use std::io::Read;

#[derive(clap::Args, Debug)]
pub struct Update {
    /// LinuxResources JSON file, or - for stdin
    #[arg(short, long)]
    pub resources: Option<String>,
    /// Memory limit (bytes, or with k/m/g suffix)
    #[arg(long)]
    pub memory: Option<String>,
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit; -1 for unlimited
    #[arg(long)]
    pub memory_swap: Option<String>,
    #[arg(long)]
    pub cpu_period: Option<u64>,
    #[arg(long)]
    pub cpu_quota: Option<i64>,
    #[arg(long)]
    pub cpu_share: Option<u64>,
    #[arg(long)]
    pub cpu_rt_period: Option<u64>,
    #[arg(long)]
    pub cpu_rt_runtime: Option<i64>,
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    #[arg(long)]
    pub pids_limit: Option<i64>,
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// Refused: kernel memory accounting is gone from current kernels
    #[arg(long)]
    pub kernel_memory: Option<String>,
    /// Refused: kernel memory accounting is gone from current kernels
    #[arg(long)]
    pub kernel_memory_tcp: Option<String>,
    /// Refused: Intel RDT is not supported by update
    #[arg(long)]
    pub l3_cache_schema: Option<String>,
    /// Refused: Intel RDT is not supported by update
    #[arg(long)]
    pub mem_bw_schema: Option<String>,
    pub container_id: String,
}

/// Parse a size like runc's units.RAMInBytes: 1024, 512k, 64m, 1g; -1 allowed.
pub fn parse_size(s: &str) -> anyhow::Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: i64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid size {s:?}"))?;
    if n < 0 {
        bail!("invalid size {s:?}");
    }
    n.checked_mul(mult)
        .ok_or_else(|| anyhow::anyhow!("size {s:?} is too large"))
}

const KNOWN: &[(&str, &[&str])] = &[
    (
        "memory",
        &[
            "limit",
            "reservation",
            "swap",
            "kernel",
            "kernelTCP",
            "swappiness",
            "disableOOMKiller",
            "useHierarchy",
            "checkBeforeUpdate",
        ],
    ),
    (
        "cpu",
        &[
            "shares",
            "quota",
            "burst",
            "period",
            "realtimeRuntime",
            "realtimePeriod",
            "cpus",
            "mems",
            "idle",
        ],
    ),
    ("pids", &["limit"]),
    (
        "blockIO",
        &[
            "weight",
            "leafWeight",
            "weightDevice",
            "throttleReadBpsDevice",
            "throttleWriteBpsDevice",
            "throttleReadIOPSDevice",
            "throttleWriteIOPSDevice",
        ],
    ),
    ("devices", &[]),
    ("hugepageLimits", &[]),
    ("network", &["classID", "priorities"]),
    ("rdma", &[]),
    ("unified", &[]),
];

/// Reject unknown keys: a typo must not silently leave a limit unset.
fn check_known(v: &Value) -> anyhow::Result<()> {
    let obj = v.as_object().context("resources must be a JSON object")?;
    for (k, inner) in obj {
        let Some((_, fields)) = KNOWN.iter().find(|(n, _)| n == k) else {
            bail!("unknown field {k:?} in resources");
        };
        if let (false, Some(o)) = (fields.is_empty(), inner.as_object())
            && let Some(bad) = o.keys().find(|f| !fields.contains(&f.as_str()))
        {
            bail!("unknown field \"{k}.{bad}\" in resources");
        }
    }
    Ok(())
}

/// The JSON of a --resources file (`src` names it), unknown keys refused.
fn resources_value(text: &str, src: &str) -> anyhow::Result<Value> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| anyhow::anyhow!(crate::validate::parse_error(text, &e)))
        .with_context(|| format!("parse resources {src}"))?;
    check_known(&v)?;
    Ok(v)
}

/// A --resources file's text as typed resources, as `update` reads it
/// when no limit flag is given.
pub fn parse_resources(text: &str, src: &str) -> anyhow::Result<LinuxResources> {
    serde_json::from_value(resources_value(text, src)?).context("invalid resources")
}

fn set(v: &mut Value, section: &str, key: &str, val: Value) {
    if !v[section].is_object() {
        v[section] = Value::Object(Map::new());
    }
    v[section][key] = val;
}

fn resources(args: &Update) -> anyhow::Result<LinuxResources> {
    for (flag, val) in [
        ("--kernel-memory", &args.kernel_memory),
        ("--kernel-memory-tcp", &args.kernel_memory_tcp),
        ("--l3-cache-schema", &args.l3_cache_schema),
        ("--mem-bw-schema", &args.mem_bw_schema),
    ] {
        if val.is_some() {
            bail!("update: {flag} is not supported");
        }
    }
    let mut v = match args.resources.as_deref() {
        Some(src) => {
            let mut text = String::new();
            if src == "-" {
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("read resources from stdin")?;
            } else {
                text = std::fs::read_to_string(src)
                    .with_context(|| format!("read resources file {src}"))?;
            }
            resources_value(&text, src)?
        }
        None => json!({}),
    };
    if let Some(m) = &args.memory {
        set(&mut v, "memory", "limit", json!(parse_size(m)?));
    }
    if let Some(m) = &args.memory_reservation {
        set(&mut v, "memory", "reservation", json!(parse_size(m)?));
    }
    if let Some(m) = &args.memory_swap {
        set(&mut v, "memory", "swap", json!(parse_size(m)?));
    }
    if let Some(x) = args.cpu_period {
        set(&mut v, "cpu", "period", json!(x));
    }
    if let Some(x) = args.cpu_quota {
        set(&mut v, "cpu", "quota", json!(x));
    }
    if let Some(x) = args.cpu_share {
        set(&mut v, "cpu", "shares", json!(x));
    }
    if let Some(x) = args.cpu_rt_period {
        set(&mut v, "cpu", "realtimePeriod", json!(x));
    }
    if let Some(x) = args.cpu_rt_runtime {
        set(&mut v, "cpu", "realtimeRuntime", json!(x));
    }
    if let Some(x) = &args.cpuset_cpus {
        set(&mut v, "cpu", "cpus", json!(x));
    }
    if let Some(x) = &args.cpuset_mems {
        set(&mut v, "cpu", "mems", json!(x));
    }
    if let Some(x) = args.pids_limit {
        set(&mut v, "pids", "limit", json!(x));
    }
    if let Some(x) = args.blkio_weight {
        set(&mut v, "blockIO", "weight", json!(x));
    }
    if v.as_object().is_some_and(|o| o.is_empty()) {
        bail!("update: nothing to update (give --resources or a limit flag)");
    }
    serde_json::from_value(v).context("invalid resources")
}

pub fn run(g: &Global, args: Update) -> Status {
    let res = resources(&args)?;
    g.runtime()?.load_locked(&args.container_id)?.update(&res)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("64m").unwrap(), 64 << 20);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("-1").unwrap(), -1);
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn unknown_fields_rejected() {
        let e = check_known(&json!({"memroy": {}})).unwrap_err().to_string();
        assert!(e.contains("memroy"), "{e}");
        let e = check_known(&json!({"memory": {"limt": 5}}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("memory.limt"), "{e}");
        assert!(check_known(&json!({"memory": {"limit": 5}})).is_ok());
    }
}
