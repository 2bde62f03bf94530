//! The runtime-spec features document (features.md); containerd reads it at
//! start. Every entry is derived from the code that implements it, so the
//! document cannot promise what the runtime silently ignores:
//! tests/runtime_features.rs mounts every advertised option in a container.

use super::Status;
use oci_spec::runtime::{
    ApparmorBuilder, CgroupBuilder, Features as FeaturesDoc, FeaturesBuilder, IDMapBuilder,
    IntelRdtBuilder, LinuxFeatureBuilder, MountExtensionsBuilder, SeccompBuilder, SelinuxBuilder,
};
use oci_spec::runtime::{
    Arch, LinuxNamespaceType, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};
use std::collections::HashMap;

#[derive(clap::Args, Debug)]
pub struct Features {}

/// Hooks libcontainer runs (`hooks.rs`, called from the create/start/delete
/// paths). The spec names them; oci-spec has fields, not a list.
const HOOKS: &[&str] = &[
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// Every namespace type libcontainer's `namespaces.rs` enters or creates.
const NAMESPACES: &[LinuxNamespaceType] = &[
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Mount,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::User,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Time,
];

/// Seccomp actions, operators and architectures: libcontainer's
/// `seccomp/mod.rs` translates every oci-spec value of these enums into
/// libseccomp's (`ScmpArchNative` is a placeholder, not an architecture).
const SECCOMP_ACTIONS: &[LinuxSeccompAction] = &[
    LinuxSeccompAction::ScmpActAllow,
    LinuxSeccompAction::ScmpActErrno,
    LinuxSeccompAction::ScmpActKill,
    LinuxSeccompAction::ScmpActKillProcess,
    LinuxSeccompAction::ScmpActKillThread,
    LinuxSeccompAction::ScmpActLog,
    LinuxSeccompAction::ScmpActNotify,
    LinuxSeccompAction::ScmpActTrace,
    LinuxSeccompAction::ScmpActTrap,
];
const SECCOMP_OPERATORS: &[LinuxSeccompOperator] = &[
    LinuxSeccompOperator::ScmpCmpEq,
    LinuxSeccompOperator::ScmpCmpGe,
    LinuxSeccompOperator::ScmpCmpGt,
    LinuxSeccompOperator::ScmpCmpLe,
    LinuxSeccompOperator::ScmpCmpLt,
    LinuxSeccompOperator::ScmpCmpMaskedEq,
    LinuxSeccompOperator::ScmpCmpNe,
];
const SECCOMP_ARCHS: &[Arch] = &[
    Arch::ScmpArchX86,
    Arch::ScmpArchX86_64,
    Arch::ScmpArchX32,
    Arch::ScmpArchArm,
    Arch::ScmpArchAarch64,
    Arch::ScmpArchMips,
    Arch::ScmpArchMips64,
    Arch::ScmpArchMips64n32,
    Arch::ScmpArchMipsel,
    Arch::ScmpArchMipsel64,
    Arch::ScmpArchMipsel64n32,
    Arch::ScmpArchPpc,
    Arch::ScmpArchPpc64,
    Arch::ScmpArchPpc64le,
    Arch::ScmpArchS390,
    Arch::ScmpArchS390x,
    Arch::ScmpArchParisc,
    Arch::ScmpArchParisc64,
    Arch::ScmpArchRiscv64,
    Arch::ScmpArchLoongarch64,
    Arch::ScmpArchM68k,
    Arch::ScmpArchSh,
    Arch::ScmpArchSheb,
];

/// Filter flags libcontainer sets, with the kernel's value of each (None:
/// never supported here). WAIT_KILLABLE_RECV needs libseccomp 2.6, and the
/// libseccomp we link against (Debian 12: 2.5.4) refuses it.
const SECCOMP_FLAGS: &[(LinuxSeccompFilterFlag, Option<libc::c_ulong>)] = &[
    (LinuxSeccompFilterFlag::SeccompFilterFlagTsync, Some(1)),
    (LinuxSeccompFilterFlag::SeccompFilterFlagLog, Some(2)),
    (LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow, Some(4)),
    (
        LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv,
        None,
    ),
];

/// Whether the running kernel takes a seccomp filter flag: with a null
/// program it answers EFAULT for a known flag and EINVAL for an unknown one.
fn kernel_takes_seccomp_flag(flag: libc::c_ulong) -> bool {
    // SAFETY: a null filter is never installed; the kernel only checks flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flag,
            std::ptr::null::<libc::c_void>(),
        )
    };
    rc == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT)
}

fn strings<T: ToString>(xs: &[T]) -> Vec<String> {
    xs.iter().map(T::to_string).collect()
}

/// The features document as oci-spec's typed `Features`.
pub fn document() -> anyhow::Result<FeaturesDoc> {
    let mut caps = strings(&caps::all().into_iter().collect::<Vec<_>>());
    caps.sort();
    let seccomp = SeccompBuilder::default()
        .enabled(true)
        .actions(SECCOMP_ACTIONS.to_vec())
        .operators(strings(SECCOMP_OPERATORS))
        .archs(SECCOMP_ARCHS.to_vec())
        .known_flags(
            SECCOMP_FLAGS
                .iter()
                .map(|(f, _)| f.to_string())
                .collect::<Vec<_>>(),
        )
        .supported_flags(
            SECCOMP_FLAGS
                .iter()
                .filter(|(_, bit)| bit.is_some_and(kernel_takes_seccomp_flag))
                .map(|(f, _)| f.to_string())
                .collect::<Vec<_>>(),
        )
        .build()?;
    let linux = LinuxFeatureBuilder::default()
        .namespaces(NAMESPACES.to_vec())
        .capabilities(caps)
        // The libcontainer/libcgroups cargo features in Cargo.toml: v1, v2
        // and systemd (system instance only; no rootless systemd, no rdma).
        .cgroup(
            CgroupBuilder::default()
                .v1(true)
                .v2(true)
                .systemd(true)
                .systemd_user(false)
                .rdma(false)
                .build()?,
        )
        .seccomp(seccomp)
        // libcontainer 0.7 has no AppArmor or SELinux labelling we enable.
        .apparmor(ApparmorBuilder::default().enabled(false).build()?)
        .selinux(SelinuxBuilder::default().enabled(false).build()?)
        // process/intel_rdt.rs writes linux.intelRdt into resctrl.
        .intel_rdt(IntelRdtBuilder::default().enabled(true).build()?)
        // rootfs/utils.rs drops `idmap`/`ridmap`: no idmapped mounts.
        .mount_extensions(
            MountExtensionsBuilder::default()
                .idmap(IDMapBuilder::default().enabled(false).build()?)
                .build()?,
        )
        .build()?;
    let annotations = HashMap::from([
        (
            "io.github.cellos-runtime.version".to_string(),
            crate::VERSION.to_string(),
        ),
        (
            "io.github.cellos-runtime.engine".to_string(),
            "libcontainer 0.7".to_string(),
        ),
    ]);
    Ok(FeaturesBuilder::default()
        .oci_version_min("1.0.0")
        // The newest spec version whose configs we run (see crate::OCI_VERSION).
        .oci_version_max(crate::OCI_VERSION)
        .hooks(strings(HOOKS))
        .mount_options(crate::runtime::mount_options::supported())
        .linux(linux)
        .annotations(annotations)
        .potentially_unsafe_config_annotations(Vec::<String>::new())
        .build()?)
}

pub fn run(_args: Features) -> Status {
    println!("{}", serde_json::to_string_pretty(&document()?)?);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_serialises_with_spec_names() {
        let v = serde_json::to_value(document().unwrap()).unwrap();
        assert_eq!(v["linux"]["seccomp"]["archs"][1], "SCMP_ARCH_X86_64");
        assert_eq!(v["linux"]["seccomp"]["operators"][0], "SCMP_CMP_EQ");
        assert_eq!(v["linux"]["namespaces"][2], "mount");
        assert_eq!(
            v["linux"]["seccomp"]["knownFlags"][0],
            "SECCOMP_FILTER_FLAG_TSYNC"
        );
        assert_eq!(v["linux"]["mountExtensions"]["idmap"]["enabled"], false);
    }
}
