//! The namespaces a cell can be given, as named in
//! `CELLOS_SUBPROCESS_UNSHARE`-style lists.

use std::fmt;
use std::str::FromStr;

use oci_spec::runtime::LinuxNamespaceType;

use super::error::CellError;

/// A Linux namespace the cell can be given.
///
/// `User` yields a user namespace with a full identity map (container id N
/// is host id N): it adds no id remapping, but the cell's capabilities then
/// only count inside its own user namespace, not against the host's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Namespace {
    Mount,
    Pid,
    Net,
    Ipc,
    Uts,
    User,
    Cgroup,
}

impl Namespace {
    /// Parse a comma-separated list such as `"mnt,pid,net"`. Empty items are
    /// ignored; duplicates are accepted and collapsed.
    pub fn parse_list(s: &str) -> Result<Vec<Namespace>, CellError> {
        let mut out = Vec::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let ns = item.parse()?;
            if !out.contains(&ns) {
                out.push(ns);
            }
        }
        Ok(out)
    }

    /// The short name used in lists (`mnt`, `net`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Namespace::Mount => "mnt",
            Namespace::Pid => "pid",
            Namespace::Net => "net",
            Namespace::Ipc => "ipc",
            Namespace::Uts => "uts",
            Namespace::User => "user",
            Namespace::Cgroup => "cgroup",
        }
    }

    pub(crate) fn oci_type(self) -> LinuxNamespaceType {
        match self {
            Namespace::Mount => LinuxNamespaceType::Mount,
            Namespace::Pid => LinuxNamespaceType::Pid,
            Namespace::Net => LinuxNamespaceType::Network,
            Namespace::Ipc => LinuxNamespaceType::Ipc,
            Namespace::Uts => LinuxNamespaceType::Uts,
            Namespace::User => LinuxNamespaceType::User,
            Namespace::Cgroup => LinuxNamespaceType::Cgroup,
        }
    }
}

impl FromStr for Namespace {
    type Err = CellError;

    fn from_str(s: &str) -> Result<Self, CellError> {
        Ok(match s {
            "mnt" | "mount" => Namespace::Mount,
            "pid" => Namespace::Pid,
            "net" | "network" => Namespace::Net,
            "ipc" => Namespace::Ipc,
            "uts" => Namespace::Uts,
            "user" => Namespace::User,
            "cgroup" => Namespace::Cgroup,
            other => return Err(CellError::UnknownNamespace(other.to_string())),
        })
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
