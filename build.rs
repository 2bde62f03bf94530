//! Release builds of cellos-runtime place the code a container lifecycle
//! runs next to each other (bench/hot-functions.txt, made by
//! bench/hot-functions.sh). Every verb is a fresh, short process, and the
//! kernel maps a binary's file pages in whole windows around each first
//! touch: with the hot code packed together instead of spread over 5 MiB of
//! text, fewer pages are mapped (peak RSS) and faulted (start-up time).
//! A name the linker no longer finds is skipped, so a stale list only loses
//! its benefit; bench/hot-functions.sh regenerates it.

use std::path::Path;

fn main() {
    let list = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/hot-functions.txt");
    println!("cargo:rerun-if-changed={}", list.display());
    if std::env::var("PROFILE").as_deref() != Ok("release") || !list.exists() {
        return;
    }
    // The options are lld's: rustc links through its bundled lld on
    // x86_64-unknown-linux-gnu (Rust >= 1.90); other targets keep their
    // default linker, and the list was profiled on x86_64 anyway.
    if std::env::var("TARGET").as_deref() != Ok("x86_64-unknown-linux-gnu") {
        return;
    }
    let order = format!("-Wl,--symbol-ordering-file={}", list.display());
    println!("cargo:rustc-link-arg-bins={order}");
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
}
