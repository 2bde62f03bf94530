//! Container ID rules. runc allows `[\w+\-.]+`; we also bound the length
//! (it becomes a directory and a cgroup name) and refuse "." and "..".

use crate::error::{Error, Result};

/// Leaves room for the "cellos-" cgroup prefix within NAME_MAX.
pub const MAX_ID_LEN: usize = 200;

pub fn validate(id: &str) -> Result<()> {
    let bad = |reason| {
        Err(Error::InvalidId {
            id: id.to_string(),
            reason,
        })
    };
    if id.is_empty() {
        return bad("must not be empty");
    }
    if id.len() > MAX_ID_LEN {
        return bad("longer than 200 characters");
    }
    if id == "." || id == ".." {
        return bad("must not be \".\" or \"..\"");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'-' | b'.'))
    {
        return bad("only letters, digits, '_', '+', '-' and '.' are allowed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn ids() {
        assert!(validate("abc-1.2_3+x").is_ok());
        for bad in ["", ".", "..", "a/b", "../x", "a b", "é"] {
            assert!(validate(bad).is_err(), "{bad:?}");
        }
        assert!(validate(&"a".repeat(200)).is_ok());
        assert!(validate(&"a".repeat(201)).is_err());
    }
}
