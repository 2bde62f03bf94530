//! Sealing without a second exec.
//!
//! The re-exec's only lasting effect is that our image (`mm->exe_file`, and
//! every mapping /proc/<pid>/map_files shows) is the file seen through the
//! detached read-only bind mount. The kernel can make that change in place:
//! `prctl(PR_SET_MM, PR_SET_MM_MAP)` with an `exe_fd` swaps `exe_file`, but
//! only once no mapping of the old file is left, and only with
//! CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE). So we map the pages we run
//! from again:
//! - pages nobody wrote (text, rodata) from the sealed image: the same
//!   inode, so the same page cache and the same bytes;
//! - pages the loader or we wrote (the writable segments and RELRO, which
//!   holds the relocations) as anonymous copies.
//!
//! Each replacement is one `mremap` of a complete mapping onto the old
//! range, so a failure leaves the old mapping in place; a failed swap
//! leaves a consistent process that can still re-exec. This saves the
//! second exec of the whole binary (glibc start-up, relocations, page
//! faults): about 1.2 ms of a foreground `run`, measured in README.

use crate::error::{Error, Result};
use std::ffi::c_void;
use std::fs::File;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::fs::MetadataExt;

const PAGE: usize = 4096;

fn sys(what: &'static str) -> Error {
    Error::sys(what, "sealed runtime image", nix::Error::last())
}

/// One mapping of our executable, from /proc/self/maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Vma {
    start: usize,
    end: usize,
    prot: libc::c_int,
    offset: libc::off_t,
}

/// The mappings in `maps` (the text of /proc/self/maps) of the file `dev`:`ino`.
fn exe_vmas(maps: &str, dev: u64, ino: u64) -> Vec<Vma> {
    let want_dev = format!("{:02x}:{:02x}", libc::major(dev), libc::minor(dev));
    let want_ino = ino.to_string();
    let mut out = Vec::new();
    for line in maps.lines() {
        let mut f = line.split_ascii_whitespace();
        let (Some(range), Some(perms), Some(off), Some(d), Some(i)) =
            (f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        if d != want_dev || i != want_ino {
            continue;
        }
        let Some((s, e)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end), Ok(offset)) = (
            usize::from_str_radix(s, 16),
            usize::from_str_radix(e, 16),
            libc::off_t::from_str_radix(off, 16),
        ) else {
            continue;
        };
        let p = perms.as_bytes();
        let mut prot = libc::PROT_NONE;
        if p.first() == Some(&b'r') {
            prot |= libc::PROT_READ;
        }
        if p.get(1) == Some(&b'w') {
            prot |= libc::PROT_WRITE;
        }
        if p.get(2) == Some(&b'x') {
            prot |= libc::PROT_EXEC;
        }
        out.push(Vma {
            start,
            end,
            prot,
            offset,
        });
    }
    out
}

/// Where the program (the first object dl_iterate_phdr reports) is loaded,
/// page-rounded: all of it, and the parts whose contents may differ from
/// the file (its writable segments and RELRO, written by the relocations).
#[derive(Debug, Default)]
struct Layout {
    image: (usize, usize),
    written: Vec<(usize, usize)>,
}

fn layout() -> Layout {
    unsafe extern "C" fn first(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut c_void,
    ) -> libc::c_int {
        // SAFETY: dl_iterate_phdr passes a valid info whose phdr array has
        // dlpi_phnum entries, and `data` is the Layout we passed in.
        unsafe {
            let out = &mut *(data as *mut Layout);
            let info = &*info;
            let phdrs = std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize);
            out.image = (usize::MAX, 0);
            for ph in phdrs {
                let start = info.dlpi_addr as usize + ph.p_vaddr as usize;
                let range = (
                    start & !(PAGE - 1),
                    (start + ph.p_memsz as usize + PAGE - 1) & !(PAGE - 1),
                );
                if ph.p_type == libc::PT_LOAD {
                    out.image = (out.image.0.min(range.0), out.image.1.max(range.1));
                }
                if (ph.p_type == libc::PT_LOAD && ph.p_flags & libc::PF_W != 0)
                    || ph.p_type == libc::PT_GNU_RELRO
                {
                    out.written.push(range);
                }
            }
        }
        1 // the first object is the program: stop there
    }
    let mut out = Layout::default();
    // SAFETY: the callback only reads what it is given and writes `out`.
    unsafe { libc::dl_iterate_phdr(Some(first), &mut out as *mut Layout as *mut c_void) };
    out
}

/// `struct prctl_mm_map` (linux/prctl.h): PR_SET_MM_MAP sets all of these
/// at once, and `exe_fd` with them.
#[repr(C)]
#[derive(Debug, Default)]
struct MmMap {
    start_code: u64,
    end_code: u64,
    start_data: u64,
    end_data: u64,
    start_brk: u64,
    brk: u64,
    start_stack: u64,
    arg_start: u64,
    arg_end: u64,
    env_start: u64,
    env_end: u64,
    auxv: u64,
    auxv_size: u32,
    exe_fd: u32,
}

const PR_SET_MM_MAP: libc::c_ulong = 14;

/// The mm layout from /proc/self/stat (fields 26-28 and 45-51), which
/// PR_SET_MM_MAP must be given back unchanged, or None when the process has
/// more than one thread (field 20): the copies below must not race with
/// anybody writing those pages.
fn mm_layout(stat: &str) -> Option<MmMap> {
    // The command name (field 2) may hold spaces: count after its ')'.
    let rest: Vec<&str> = stat.rsplit_once(')')?.1.split_ascii_whitespace().collect();
    let field = |n: usize| rest.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    if field(20)? != 1 {
        return None;
    }
    Some(MmMap {
        start_code: field(26)?,
        end_code: field(27)?,
        start_stack: field(28)?,
        start_data: field(45)?,
        end_data: field(46)?,
        start_brk: field(47)?,
        arg_start: field(48)?,
        arg_end: field(49)?,
        env_start: field(50)?,
        env_end: field(51)?,
        ..MmMap::default()
    })
}

/// Whether we may set our exe file: PR_SET_MM_MAP wants CAP_SYS_ADMIN or
/// CAP_CHECKPOINT_RESTORE in our own user namespace (PR_SET_MM_EXE_FILE
/// alone wants CAP_SYS_RESOURCE, which some hosts take from root).
fn may_set_exe() -> bool {
    use caps::{CapSet, Capability};
    caps::read(None, CapSet::Effective).is_ok_and(|c| {
        c.contains(&Capability::CAP_SYS_ADMIN) || c.contains(&Capability::CAP_CHECKPOINT_RESTORE)
    })
}

/// Map `len` bytes at `at` again from `file` (or, `file` None, as an
/// anonymous copy of what is there now) with `prot`, atomically.
///
/// # Safety
/// `at..at+len` must be one mapping of ours that nobody writes meanwhile.
unsafe fn replace(
    at: usize,
    len: usize,
    prot: libc::c_int,
    file: Option<(&File, libc::off_t)>,
) -> Result<()> {
    // SAFETY (whole body): fresh mappings of our own, copied from readable
    // memory of ours, then moved over the old range in one mremap.
    unsafe {
        let new = match file {
            Some((f, off)) => libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_PRIVATE,
                f.as_raw_fd(),
                off,
            ),
            None => libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            ),
        };
        if new == libc::MAP_FAILED {
            return Err(sys("mmap"));
        }
        if file.is_none() {
            // Nothing may write the range between this copy and the mremap:
            // no allocation, no signal handler (they are blocked).
            std::ptr::copy_nonoverlapping(at as *const u8, new as *mut u8, len);
        }
        let moved = libc::mremap(
            new,
            len,
            len,
            libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
            at as *mut c_void,
        );
        if moved == libc::MAP_FAILED {
            let err = sys("mremap");
            libc::munmap(new, len);
            return Err(err);
        }
        if file.is_none()
            && prot != libc::PROT_READ | libc::PROT_WRITE
            && libc::mprotect(at as *mut c_void, len, prot) != 0
        {
            return Err(sys("mprotect"));
        }
    }
    Ok(())
}

/// Make `image` (our binary through the detached read-only mount, O_PATH)
/// this process's executable without exec'ing it. Fails, leaving a process
/// that still works, when the kernel or our privileges do not allow it.
pub(super) fn seal(image: BorrowedFd<'_>) -> Result<()> {
    if !may_set_exe() {
        return Err(Error::sys(
            "in-place sealing",
            "no CAP_SYS_ADMIN",
            nix::Error::EPERM,
        ));
    }
    let stat =
        std::fs::read_to_string("/proc/self/stat").map_err(|e| Error::io("/proc/self/stat", e))?;
    let Some(mut mm) = mm_layout(&stat) else {
        return Err(Error::sys(
            "in-place sealing",
            "more than one thread",
            nix::Error::EBUSY,
        ));
    };
    // mmap needs a readable fd; the O_PATH one only names the file.
    let proc_fd = format!("/proc/self/fd/{}", image.as_raw_fd());
    let file = File::open(&proc_fd).map_err(|e| Error::io(&proc_fd, e))?;
    let meta = file.metadata().map_err(|e| Error::io(&proc_fd, e))?;
    let maps =
        std::fs::read_to_string("/proc/self/maps").map_err(|e| Error::io("/proc/self/maps", e))?;
    let vmas = exe_vmas(&maps, meta.dev(), meta.ino());
    let Layout { image, written } = layout();
    if vmas.is_empty() || written.is_empty() {
        return Err(Error::sys(
            "in-place sealing",
            "no mapping of our image found",
            nix::Error::ENOENT,
        ));
    }
    // The exe must be the program whose segments we know (not, say, ld.so
    // run as a command with us as its argument): otherwise its written
    // pages would be taken for clean ones.
    if vmas.iter().any(|v| v.start < image.0 || v.end > image.1) {
        return Err(Error::sys(
            "in-place sealing",
            "the executable is not this program",
            nix::Error::EINVAL,
        ));
    }
    let dirty = |v: &Vma| written.iter().any(|&(s, e)| v.start < e && s < v.end);
    // A written mapping is copied, so it must be readable.
    if vmas
        .iter()
        .any(|v| dirty(v) && v.prot & libc::PROT_READ == 0)
    {
        return Err(Error::sys(
            "in-place sealing",
            "unreadable written mapping",
            nix::Error::EACCES,
        ));
    }

    // SAFETY: blocking and restoring our own signal mask.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
    }
    let mut result = Ok(());
    for v in &vmas {
        let from = (!dirty(v)).then_some((&file, v.offset));
        // SAFETY: `v` is one of our mappings; we are single-threaded and
        // signals are blocked, so nothing writes it meanwhile.
        result = unsafe { replace(v.start, v.end - v.start, v.prot, from) };
        if result.is_err() {
            break;
        }
    }
    // SAFETY: restores the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    result?;
    mm.exe_fd = file.as_raw_fd() as u32;
    // The break last: nothing allocates between reading and passing it back.
    // SAFETY: brk(0) only reports the current break.
    mm.brk = unsafe { libc::syscall(libc::SYS_brk, 0) } as u64;
    // SAFETY: the kernel copies `mm` (every field as it is now, but exe_fd)
    // and takes its own reference to the file.
    let set = unsafe {
        libc::prctl(
            libc::PR_SET_MM,
            PR_SET_MM_MAP,
            &mm as *const MmMap,
            std::mem::size_of::<MmMap>(),
            0,
        )
    };
    if set != 0 {
        return Err(sys("prctl(PR_SET_MM_MAP)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_mappings_of_one_file() {
        let maps = "\
5555e0000000-5555e013b000 r--p 00000000 fe:01 1234 /usr/bin/cellos-runtime
5555e013b000-5555e0592000 r-xp 0013a000 fe:01 1234 /usr/bin/cellos-runtime
5555e0592000-5555e05dd000 rw-p 00590000 fe:01 1234 /usr/bin/cellos-runtime
5555e05dd000-5555e05e9000 rw-p 00000000 00:00 0 [heap]
7f0000000000-7f0000001000 r--p 00000000 fe:01 99 /usr/lib/other
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]
";
        let v = exe_vmas(maps, libc::makedev(0xfe, 1), 1234);
        assert_eq!(v.len(), 3);
        assert_eq!(v[1].start, 0x5555e013b000);
        assert_eq!(v[1].prot, libc::PROT_READ | libc::PROT_EXEC);
        assert_eq!(v[1].offset, 0x13a000);
        assert_eq!(v[2].prot, libc::PROT_READ | libc::PROT_WRITE);
    }

    #[test]
    fn reads_the_mm_layout_and_thread_count() {
        let mut f: Vec<String> = (3..=52).map(|n| n.to_string()).collect();
        f[20 - 3] = "1".into();
        let stat = format!("42 (a b) c) {}", f.join(" "));
        let mm = mm_layout(&stat).unwrap();
        assert_eq!((mm.start_code, mm.end_code, mm.start_stack), (26, 27, 28));
        assert_eq!((mm.start_data, mm.env_end), (45, 51));
        f[20 - 3] = "2".into();
        assert!(mm_layout(&format!("42 (a) {}", f.join(" "))).is_none());
        assert_eq!(std::mem::size_of::<MmMap>(), 104);
    }

    #[test]
    fn finds_the_written_segments_of_this_test_binary() {
        let l = layout();
        assert!(!l.written.is_empty());
        assert!(l.image.0 < l.image.1);
        assert!(
            l.written
                .iter()
                .all(|&(s, e)| s < e && s % PAGE == 0 && e % PAGE == 0)
        );
        assert!(
            l.written
                .iter()
                .all(|&(s, e)| l.image.0 <= s && e <= l.image.1)
        );
    }
}
