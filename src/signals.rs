//! Signal names and numbers as runc accepts them: "9", "KILL", "SIGKILL",
//! "sigkill", and the real-time range "RTMIN+3" / "SIGRTMAX-1" / 34..=64.

use crate::error::{Error, Result};
use nix::sys::signal::Signal;
use std::str::FromStr;

/// Parse a signal into its raw number, refusing anything the kernel would not take.
pub fn parse(raw: &str) -> Result<i32> {
    let bad = || Error::InvalidSignal(raw.to_string());
    let s = raw.trim();
    if s.is_empty() {
        return Err(bad());
    }
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=libc::SIGRTMAX()).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(rt) = parse_realtime(name) {
        return rt.ok_or_else(bad);
    }
    Signal::from_str(&format!("SIG{name}"))
        .map(|sig| sig as i32)
        .map_err(|_| bad())
}

fn parse_realtime(name: &str) -> Option<Option<i32>> {
    let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    let rest = name.strip_prefix("RT")?;
    let (base, rest) = if let Some(r) = rest.strip_prefix("MIN") {
        (min, r)
    } else if let Some(r) = rest.strip_prefix("MAX") {
        (max, r)
    } else {
        return None;
    };
    let n = if rest.is_empty() {
        Some(base)
    } else if let Some(off) = rest.strip_prefix('+') {
        off.parse::<i32>().ok().and_then(|o| base.checked_add(o))
    } else if let Some(off) = rest.strip_prefix('-') {
        off.parse::<i32>().ok().and_then(|o| base.checked_sub(o))
    } else {
        None
    };
    Some(n.filter(|n| (min..=max).contains(n)))
}

/// Whether the signal is one nix (and libcontainer) can name.
pub fn as_standard(sig: i32) -> Option<Signal> {
    Signal::try_from(sig).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_runc_forms() {
        assert_eq!(parse("9").unwrap(), 9);
        assert_eq!(parse("KILL").unwrap(), 9);
        assert_eq!(parse("SIGKILL").unwrap(), 9);
        assert_eq!(parse("sigterm").unwrap(), 15);
        assert_eq!(parse("TERM").unwrap(), 15);
        assert_eq!(parse("USR1").unwrap(), 10);
        assert_eq!(parse("RTMIN").unwrap(), libc::SIGRTMIN());
        assert_eq!(parse("SIGRTMIN+2").unwrap(), libc::SIGRTMIN() + 2);
        assert_eq!(parse("RTMAX-1").unwrap(), libc::SIGRTMAX() - 1);
    }

    #[test]
    fn refuses_bad_signals() {
        for bad in [
            "",
            "0",
            "-1",
            "65",
            "NOPE",
            "SIGFOO",
            "RTMIN+99",
            "RTMAX+1",
            "9x",
            // Offsets that overflowed the addition (a panic in debug builds).
            "RTMIN+2147483647",
            "RTMAX--2147483648",
        ] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.starts_with("invalid signal"), "{bad}: {err}");
        }
    }
}
