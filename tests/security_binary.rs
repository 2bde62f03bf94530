//! The binaries `make release` builds (what `make install`, `make deb` and
//! `make bench` ship) are position-independent (ASLR for a root process
//! that parses untrusted JSON), static, and leave no writable-executable
//! stack. Plain `cargo build` is the host's default build and is not
//! checked here.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

const ET_DYN: u16 = 3;
const PT_INTERP: u32 = 3;
const PT_GNU_STACK: u32 = 0x6474_e551;
const PF_X: u32 = 1;

struct Elf {
    e_type: u16,
    /// (p_type, p_flags) of every program header.
    segments: Vec<(u32, u32)>,
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

/// The ELF64 little-endian header fields we check.
fn read_elf(path: &Path) -> Elf {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&b[..4], b"\x7fELF", "{} is not ELF", path.display());
    assert_eq!(b[4], 2, "{}: not ELF64", path.display());
    let phoff = u64_at(&b, 0x20) as usize;
    let phentsize = u16_at(&b, 0x36) as usize;
    let phnum = u16_at(&b, 0x38) as usize;
    let segments = (0..phnum)
        .map(|i| {
            let o = phoff + i * phentsize;
            (u32_at(&b, o), u32_at(&b, o + 4))
        })
        .collect();
    Elf {
        e_type: u16_at(&b, 0x10),
        segments,
    }
}

/// `make release` (a no-op when its binaries are up to date), then where
/// it put them, as the Makefile says.
fn release_binaries() -> [PathBuf; 2] {
    let make = |target: &str| {
        let out = Command::new("make")
            .args([
                "-s",
                "--no-print-directory",
                "-C",
                env!("CARGO_MANIFEST_DIR"),
                target,
            ])
            .output()
            .expect("run make");
        assert!(
            out.status.success(),
            "make {target}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    make("release");
    let dir = PathBuf::from(make("release-dir").trim());
    ["cellos-runtime", "cellos-supervisor"].map(|b| dir.join(b))
}

#[test]
fn release_binaries_are_static_pie_with_a_non_executable_stack() {
    // `make release` needs the toolchain that built this test; a user
    // whose PATH lacks it (a test binary run by hand) cannot check this.
    if Command::new("cargo").arg("--version").output().is_err() {
        support::report_skip("needs cargo on PATH for make release");
        return;
    }
    for bin in release_binaries() {
        let elf = read_elf(&bin);
        let bin = bin.display();
        assert_eq!(
            elf.e_type, ET_DYN,
            "{bin}: not a PIE (ELF type {})",
            elf.e_type
        );
        assert!(
            !elf.segments.iter().any(|(t, _)| *t == PT_INTERP),
            "{bin}: has a dynamic loader (PT_INTERP): not static"
        );
        let stack = elf.segments.iter().find(|(t, _)| *t == PT_GNU_STACK);
        assert!(
            stack.is_some_and(|(_, f)| f & PF_X == 0),
            "{bin}: executable stack"
        );
    }
}
