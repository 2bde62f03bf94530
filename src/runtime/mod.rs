//! The runtime layer: the one place that drives libcontainer and libcgroups.
//! `commands` and `supervisor` sit on top of it; the modules at the crate
//! root (`error`, `ids`, `paths`, `user`, `validate`, `signals`, `logging`,
//! `trace`) sit below it and never import it.

pub mod bundle;
pub mod cgroupfs;
pub mod console;
pub mod crashpoints;
pub mod engine;
pub mod executor;
pub mod lock;
pub mod mount_options;
pub mod pidfile;
pub mod rootless;
pub mod seal;
pub mod tmpcopyup;
pub mod wait;
pub mod warmup;

/// Our environment as `KEY=VALUE` C strings, for an exec of our own choosing
/// (the sealing re-exec, a cell's argv[0] by fd).
pub(crate) fn environ() -> Vec<std::ffi::CString> {
    std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut kv = k.into_encoded_bytes();
            kv.push(b'=');
            kv.extend(v.into_encoded_bytes());
            std::ffi::CString::new(kv).ok()
        })
        .collect()
}
