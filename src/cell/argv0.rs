//! The argv[0] allow policy (`CELLOS_RUN_ARGV0_ALLOW_PREFIXES`) as a value
//! that travels with the bundle: the supervisor checks it on the host as an
//! early refusal, and the runtime's executor checks it again inside the cell
//! on the very file it then executes. The host check alone can be raced: the
//! path can change between the check and the exec.

use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};

use super::error::CellError;

/// The OCI annotation carrying the policy: a JSON array of the prefixes.
pub const ARGV0_ALLOW_ANNOTATION: &str = "io.cellos.argv0.allow";

/// Absolute prefixes argv[0], and the real file it names, must lie under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Argv0Allow(Vec<String>);

impl Argv0Allow {
    pub fn new(prefixes: Vec<String>) -> Self {
        Argv0Allow(prefixes)
    }

    pub fn prefixes(&self) -> &[String] {
        &self.0
    }

    /// The annotation value: the prefixes as a JSON array.
    pub fn annotation_value(&self) -> String {
        serde_json::Value::from(self.0.clone()).to_string()
    }

    /// The policy a bundle carries, if any. A present but unreadable
    /// annotation is an error, never "no policy".
    pub fn from_spec(spec: &Spec) -> Result<Option<Argv0Allow>, CellError> {
        let Some(text) = spec
            .annotations()
            .as_ref()
            .and_then(|a| a.get(ARGV0_ALLOW_ANNOTATION))
        else {
            return Ok(None);
        };
        let bad = |reason: String| CellError::Annotation {
            key: ARGV0_ALLOW_ANNOTATION.into(),
            reason,
        };
        let policy: Argv0Allow = serde_json::from_str(text)
            .map_err(|e| bad(format!("{text:?} is not a JSON array of strings: {e}")))?;
        if let Some(p) = policy.0.iter().find(|p| !p.starts_with('/')) {
            return Err(bad(format!("prefix {p:?} is not absolute")));
        }
        Ok(Some(policy))
    }

    /// True when `path` equals a prefix or lies below one at a `/` boundary.
    pub fn allows(&self, path: &str) -> bool {
        under_prefix(path, &self.0)
    }

    /// The list as the user wrote it, for messages.
    pub fn display(&self) -> String {
        self.0.join(",")
    }
}

/// Absolute, no `.`/`..`/empty components, no trailing `/`.
pub fn lexically_clean(p: &str) -> bool {
    p.starts_with('/')
        && !p.contains("//")
        && (p == "/" || !p.ends_with('/'))
        && p[1..].split('/').all(|c| c != "." && c != "..")
}

/// True when `path` equals a prefix or lies below one at a `/` boundary.
pub fn under_prefix(path: &str, prefixes: &[String]) -> bool {
    prefixes.iter().any(|p| {
        let p = p.trim_end_matches('/');
        path == p
            || p.is_empty()
            || path
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_at_slash_boundaries() {
        let p = vec!["/usr/bin".to_string(), "/bin/sh".to_string()];
        assert!(under_prefix("/usr/bin/env", &p));
        assert!(under_prefix("/bin/sh", &p));
        assert!(!under_prefix("/usr/binx/evil", &p));
        assert!(!under_prefix("/bin/shx", &p));
        assert!(!under_prefix("/usr", &p));
    }

    #[test]
    fn lexical_rules() {
        assert!(lexically_clean("/usr/bin/env"));
        for bad in [
            "usr/bin",
            "/usr/bin/../sbin/x",
            "/usr/./bin/x",
            "/usr//bin/x",
            "/usr/bin/",
        ] {
            assert!(!lexically_clean(bad), "{bad}");
        }
    }

    #[test]
    fn the_annotation_round_trips_and_fails_closed() {
        let policy = Argv0Allow::new(vec!["/usr/bin".into(), "/opt/a,b".into()]);
        let mut spec = Spec::default();
        assert_eq!(Argv0Allow::from_spec(&spec).unwrap(), None);
        let mut ann = std::collections::HashMap::new();
        ann.insert(
            ARGV0_ALLOW_ANNOTATION.to_string(),
            policy.annotation_value(),
        );
        spec.set_annotations(Some(ann.clone()));
        assert_eq!(Argv0Allow::from_spec(&spec).unwrap(), Some(policy));
        for bad in ["/usr/bin", "[1]", "[\"rel\"]", ""] {
            ann.insert(ARGV0_ALLOW_ANNOTATION.to_string(), bad.to_string());
            spec.set_annotations(Some(ann.clone()));
            let e = Argv0Allow::from_spec(&spec).unwrap_err().to_string();
            assert!(e.contains(ARGV0_ALLOW_ANNOTATION), "{e}");
        }
    }
}
