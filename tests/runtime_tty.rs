//! Terminals: the pty master arrives over --console-socket (SCM_RIGHTS).

mod support;

use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
use serde_json::json;
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};
use support::*;

/// Accept one connection on `listener` (within a timeout) and receive the
/// fd it sends with SCM_RIGHTS.
fn receive_master(listener: &UnixListener) -> OwnedFd {
    listener.set_nonblocking(true).unwrap();
    let stream = poll_until("console socket connection", Duration::from_secs(10), || {
        listener.accept().ok().map(|(s, _)| s)
    });
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 4]);
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .expect("recvmsg on console socket");
    let mut fds = Vec::new();
    for c in msg.cmsgs().expect("cmsgs") {
        if let ControlMessageOwned::ScmRights(f) = c {
            fds.extend(f);
        }
    }
    assert_eq!(
        fds.len(),
        1,
        "expected exactly one fd over the console socket"
    );
    // SAFETY: the kernel just installed this fd for us.
    let fd = unsafe { OwnedFd::from_raw_fd(fds[0]) };
    // It really is a pty master.
    let link = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
    // (the container's own devpts instance: /dev/pts/ptmx as seen from here).
    assert!(link.ends_with("ptmx"), "received fd is {}", link.display());
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes the pty number into `n`; it only works on a master.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGPTN, &mut n) };
    assert_eq!(rc, 0, "TIOCGPTN failed: not a pty master");
    fd
}

/// Read from the pty master until `needle` shows up (or EIO / timeout).
fn read_until(master: &OwnedFd, needle: &str) -> String {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let mut pfd = libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one fd we own.
        let n = unsafe { libc::poll(&mut pfd, 1, 100) };
        if n <= 0 {
            continue;
        }
        let mut buf = [0u8; 4096];
        match nix::unistd::read(master.as_raw_fd(), &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
        if String::from_utf8_lossy(&out).contains(needle) {
            break;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn create_with_console_socket() {
    require_root!();
    let env = Env::new("ttycreate");
    let bundle = env.bundle(|c| {
        set_args(c, &["sh", "-c", "tty; [ -t 0 ] && [ -t 1 ] && echo ttyok"]);
        c["process"]["terminal"] = json!(true);
    });
    let id = env.id();
    let sock = env.subdir("pty").join("pty.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let o = env.create(
        &bundle,
        &id,
        &[
            "--pid-file",
            bundle.join("init.pid").to_str().unwrap(),
            "--console-socket",
            sock.to_str().unwrap(),
        ],
    );
    o.ok();
    let master = receive_master(&listener);
    env.start(&id).ok();
    let text = read_until(&master, "ttyok");
    assert!(text.contains("/dev/pts/0"), "pty output: {text:?}");
    assert!(text.contains("ttyok"), "pty output: {text:?}");
    // Nothing leaked onto the create's own stdio.
    assert_eq!(env.output(&bundle), "");
    env.wait_status(&id, "stopped");
    env.rt(&["delete", &id]).ok();
    env.finish();
}

#[test]
fn terminal_input_reaches_process() {
    require_root!();
    let env = Env::new("ttyinput");
    let bundle = env.bundle(|c| {
        set_args(c, &["sh", "-c", "read line; echo got:$line"]);
        c["process"]["terminal"] = json!(true);
    });
    let id = env.id();
    let sock = env.subdir("pty").join("pty.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    env.create(&bundle, &id, &["--console-socket", sock.to_str().unwrap()])
        .ok();
    let master = receive_master(&listener);
    env.start(&id).ok();
    nix::unistd::write(&master, b"hello-pty\n").unwrap();
    let text = read_until(&master, "got:hello-pty");
    assert!(text.contains("got:hello-pty"), "pty output: {text:?}");
    env.wait_status(&id, "stopped");
    env.finish();
}

#[test]
fn terminal_without_console_socket_fails() {
    require_root!();
    let env = Env::new("ttynosock");
    let bundle = env.bundle(|c| {
        set_args(c, &["true"]);
        c["process"]["terminal"] = json!(true);
    });
    let id = env.id();
    env.create(&bundle, &id, &[]).fails_with(&["console"]);
    env.assert_gone(&id);
    env.finish();
}

#[test]
fn exec_tty_detached() {
    require_root!();
    let env = Env::new("ttyexec");
    let (id, _) = env.sleeper();
    let dir = env.subdir("pty");
    let sock = dir.join("pty.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let pid_file = dir.join("exec.pid");
    let opts = ["--tty", "--console-socket", sock.to_str().unwrap()];
    let args = ["sh", "-c", "tty; echo exec-ttyok"];
    env.exec_detached(&id, &opts, &pid_file, &args, &dir).ok();
    let master = receive_master(&listener);
    let text = read_until(&master, "exec-ttyok");
    assert!(text.contains("/dev/pts/"), "pty output: {text:?}");
    assert!(text.contains("exec-ttyok"), "pty output: {text:?}");
    let pid: i32 = read_lossy(&pid_file).trim().parse().expect("exec pid");
    assert!(pid > 0);
    assert_eq!(read_lossy(&dir.join("stdout")), "");
    // The same through a --process file with terminal=true (containerd's form).
    let sock2 = dir.join("pty2.sock");
    let listener2 = UnixListener::bind(&sock2).unwrap();
    let mut p = base_config()["process"].clone();
    p["args"] = json!(["sh", "-c", "tty; echo proc-ttyok"]);
    p["terminal"] = json!(true);
    let proc_file = env.process_file(&p);
    let opts = [
        "--process",
        proc_file.to_str().unwrap(),
        "--console-socket",
        sock2.to_str().unwrap(),
    ];
    env.exec_detached(&id, &opts, &dir.join("exec2.pid"), &[], &dir)
        .ok();
    let master2 = receive_master(&listener2);
    let text = read_until(&master2, "proc-ttyok");
    assert!(text.contains("proc-ttyok"), "pty output: {text:?}");
    assert_eq!(env.status(&id), "running");
    env.finish();
}

/// `script` gives the runtime a real terminal on stdin/stdout, as a user's shell would.
fn in_terminal(env: &Env, runtime_args: &str) -> Out {
    let cmd = format!(
        "stty cols 91 rows 17; {BIN} --root {} {runtime_args}",
        env.root.display()
    );
    let mut c = std::process::Command::new("script");
    c.args(["-qec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::null());
    run_piped(c, None, Duration::from_secs(20))
}

/// A foreground `run` of a terminal process without --console-socket: the
/// process gets a pty of its own, joined to the caller's terminal (like
/// `runc run` from a shell), with the caller's window size.
#[test]
fn foreground_run_gets_a_terminal() {
    require_root!();
    let env = Env::new("fgtty");
    let bundle = env.bundle(|c| {
        set_args(c, &["sh", "-c", "tty; stty size; exit 6"]);
        c["process"]["terminal"] = json!(true);
    });
    let id = env.id();
    let o = in_terminal(&env, &format!("run --bundle {} {id}", bundle.display()));
    assert_eq!(o.code, 6, "{o:?}");
    assert!(o.stdout.contains("/dev/pts/0"), "no pty: {:?}", o.stdout);
    assert!(
        o.stdout.contains("17 91"),
        "window size not passed: {:?}",
        o.stdout
    );
    env.assert_gone(&id);
    env.finish();
}

/// `exec --tty` in the foreground, without --console-socket, likewise.
#[test]
fn foreground_exec_tty_gets_a_terminal() {
    require_root!();
    let env = Env::new("fgexectty");
    let (id, _bundle) = env.sleeper();
    let o = in_terminal(&env, &format!("exec --tty {id} sh -c 'tty; exit 4'"));
    assert_eq!(o.code, 4, "{o:?}");
    assert!(o.stdout.contains("/dev/pts/"), "no pty: {:?}", o.stdout);
    let o = env.exec(&id, &["sh", "-c", "tty; true"]);
    assert!(o.stdout.contains("not a tty"), "{o:?}");
    env.finish();
}
