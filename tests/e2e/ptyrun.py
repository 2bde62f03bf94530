#!/usr/bin/env python3
"""Run a command on a fresh pseudo-terminal and copy what it prints to stdout.

ptyrun.py CMD [ARG]...  exits with the command's status (128+N if killed by
signal N). Nothing is ever typed into the terminal: the command sees a tty on
stdin, stdout and stderr, as `ctr run -t` and `podman run -t` require.
"""
import os
import pty
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: ptyrun.py CMD [ARG]...")
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp(sys.argv[1], sys.argv[1:])
        except OSError as e:
            os.write(2, f"ptyrun.py: {sys.argv[1]}: {e.strerror}\n".encode())
            os._exit(127)
    out = bytearray()
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: every holder of the terminal's other end is gone
            break
        if not data:
            break
        out += data
    _, status = os.waitpid(pid, 0)
    sys.stdout.buffer.write(out)
    sys.stdout.flush()
    if os.WIFSIGNALED(status):
        sys.exit(128 + os.WTERMSIG(status))
    sys.exit(os.WEXITSTATUS(status))


if __name__ == "__main__":
    main()
