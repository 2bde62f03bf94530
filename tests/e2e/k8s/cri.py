#!/usr/bin/python3
"""Drive containerd's CRI plugin (runtime.v1) the way a kubelet would, under a
given runtime handler, and print one `PASS name` / `FAIL name: reason` line
per check (plus `ID kind value` lines for the calling shell).

    cri.py SOCKET HANDLER IMAGE CGROUP_PARENT LOG_DIR BINARY_NAME

Needs only grpcio (Debian: python3-grpcio). There are no generated stubs: the
few CRI messages used here are encoded and decoded by hand in protobuf's wire
format, with the field numbers of the CRI API (k8s.io/cri-api, runtime/v1).
"""

import json
import os
import sys
import time

import grpc

# ---- protobuf wire format ---------------------------------------------------


def _varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(num, wire_type):
    return _varint(num << 3 | wire_type)


def s(num, value):
    """A string or bytes field."""
    b = value.encode() if isinstance(value, str) else value
    return _key(num, 2) + _varint(len(b)) + b


def m(num, *fields):
    """An embedded message made of already encoded fields."""
    body = b"".join(fields)
    return _key(num, 2) + _varint(len(body)) + body


def i(num, value):
    """A varint field (int32/int64/uint32/bool/enum); zero is the default."""
    return _key(num, 0) + _varint(value) if value else b""


def strmap(num, d):
    """A map<string, string> field."""
    return b"".join(m(num, s(1, k), s(2, v)) for k, v in d.items())


def _read_varint(buf, pos):
    shift = result = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def decode(buf):
    """Field number -> list of values: ints for varints, bytes otherwise."""
    out, pos = {}, 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        num, wire_type = key >> 3, key & 7
        if wire_type == 0:
            val, pos = _read_varint(buf, pos)
        elif wire_type == 2:
            n, pos = _read_varint(buf, pos)
            val, pos = bytes(buf[pos:pos + n]), pos + n
        elif wire_type == 1:
            val, pos = bytes(buf[pos:pos + 8]), pos + 8
        elif wire_type == 5:
            val, pos = bytes(buf[pos:pos + 4]), pos + 4
        else:
            raise ValueError(f"wire type {wire_type}")
        out.setdefault(num, []).append(val)
    return out


def one(msg, num, default=None):
    return msg.get(num, [default])[0]


def text(msg, num):
    return one(msg, num, b"").decode(errors="replace")


def sub(msg, num):
    return decode(one(msg, num, b""))


def decode_map(msg, num):
    return {text(e, 1): text(e, 2) for e in (decode(b) for b in msg.get(num, []))}


def signed32(n):
    n &= (1 << 64) - 1
    return n - (1 << 64) if n >= 1 << 63 else n


# ---- the client -------------------------------------------------------------


class CRI:
    def __init__(self, sock):
        self.channel = grpc.insecure_channel("unix://" + sock)

    def call(self, method, body=b"", timeout=60):
        rpc = self.channel.unary_unary("/runtime.v1.RuntimeService/" + method)
        return decode(rpc(body, timeout=timeout))


PASSED = FAILED = 0


def check(name, ok, reason=""):
    global PASSED, FAILED
    if ok:
        PASSED += 1
        print(f"PASS {name}", flush=True)
    else:
        FAILED += 1
        reason = " ".join(str(reason).split())[:600]
        print(f"FAIL {name}: {reason}", flush=True)
    return ok


def rpc_error(e):
    if isinstance(e, grpc.RpcError):
        return f"{e.code().name}: {e.details()}"
    return repr(e)


def memory_limit_of(pid):
    """The memory limit of a host pid's cgroup: v1 or v2."""
    with open(f"/proc/{pid}/cgroup") as f:
        lines = [line.rstrip("\n").split(":", 2) for line in f]
    if os.path.isdir("/sys/fs/cgroup/memory"):
        path = next(p for _, ctl, p in lines if "memory" in ctl.split(","))
        name = f"/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"
    else:
        path = next(p for h, _, p in lines if h == "0")
        name = f"/sys/fs/cgroup{path}/memory.max"
    with open(name) as f:
        return f.read().strip()


def main():
    sock, handler, image, cgroup_parent, log_dir, binary = sys.argv[1:7]
    cri = CRI(sock)

    try:
        v = cri.call("Version", s(1, "v1"))
        check("k8s: CRI Version answers", text(v, 2) == "containerd" and text(v, 4) == "v1",
              f"runtime_name={text(v, 2)!r} api={text(v, 4)!r}")
    except Exception as e:  # noqa: BLE001 - any failure is the check's reason
        check("k8s: CRI Version answers", False, rpc_error(e))
        return

    # The runtime handler as the CRI plugin loaded it from the TOML.
    try:
        st = cri.call("Status", i(1, 1))
        config = json.loads(decode_map(st, 2).get("config", "{}"))
        rt = config.get("containerd", {}).get("runtimes", {}).get(handler, {})
        opts = rt.get("options") or {}
        check(f"k8s: the CRI plugin loaded the {handler} handler from containerd-config.toml",
              rt.get("runtimeType") == "io.containerd.runc.v2" and opts.get("BinaryName") == binary,
              f"runtimes.{handler} = {json.dumps(rt)}")
    except Exception as e:  # noqa: BLE001
        check(f"k8s: the CRI plugin loaded the {handler} handler from containerd-config.toml",
              False, rpc_error(e))

    # A pod sandbox: host network (no CNI here), its own pid namespace.
    sandbox_config = b"".join([
        m(1, s(1, "e2e-pod"), s(2, "e2e-pod-uid-1"), s(3, "default"), i(4, 0)),
        s(3, log_dir),
        strmap(6, {"app": "cellos-e2e"}),
        m(8, s(1, cgroup_parent),
          m(2, m(1, i(1, 2), i(2, 1), i(3, 0)))),  # network NODE, pid CONTAINER, ipc POD
    ])
    try:
        r = cri.call("RunPodSandbox", m(1, sandbox_config) + s(2, handler), timeout=120)
        pod = text(r, 1)
        print(f"ID sandbox {pod}", flush=True)
        check(f"k8s: RunPodSandbox under the {handler} handler", bool(pod), "no sandbox id")
    except Exception as e:  # noqa: BLE001
        check(f"k8s: RunPodSandbox under the {handler} handler", False, rpc_error(e))
        return

    try:
        ps = sub(cri.call("PodSandboxStatus", s(1, pod)), 1)
        check("k8s: the sandbox is ready under the handler",
              one(ps, 3, 0) == 0 and text(ps, 9) == handler,
              f"state={one(ps, 3, 0)} runtime_handler={text(ps, 9)!r}")

        def container_config(name, command, log_path, memory=0):
            linux = m(15, m(1, i(4, memory))) if memory else b""
            return b"".join([
                m(1, s(1, name), i(2, 0)),
                m(2, s(1, image)),
                b"".join(s(3, a) for a in command),
                m(6, s(1, "GREETING"), s(2, "hello-from-env")),
                s(11, log_path),
                linux,
            ])

        cfg = container_config(
            "app",
            ["sh", "-c", 'trap "exit 0" TERM; echo hello-from-cri; while :; do sleep 0.2; done'],
            "app.log",
            memory=64 * 1024 * 1024,
        )
        cid = text(cri.call("CreateContainer", s(1, pod) + m(2, cfg) + m(3, sandbox_config)), 1)
        print(f"ID container {cid}", flush=True)
        check("k8s: CreateContainer", bool(cid), "no container id")
        cri.call("StartContainer", s(1, cid), timeout=120)
        check("k8s: StartContainer", True)

        r = cri.call("ContainerStatus", s(1, cid) + i(2, 1))
        status, info = sub(r, 1), decode_map(r, 2)
        check("k8s: the container is running", one(status, 3, 0) == 1,
              f"state={one(status, 3, 0)} reason={text(status, 10)!r} message={text(status, 11)!r}")
        details = json.loads(info.get("info", "{}"))
        pid = details.get("pid", 0)
        try:
            limit = memory_limit_of(pid) if pid else "no pid"
        except (OSError, StopIteration) as e:
            limit = repr(e)
        check("k8s: the memory limit is in the host cgroup", limit == str(64 * 1024 * 1024),
              f"pid {pid}: {limit}")

        r = cri.call("ExecSync", s(1, cid) + b"".join(s(2, a) for a in
                                                      ["sh", "-c", 'echo "$GREETING"; exit 3'])
                     + i(3, 30))
        out, code = one(r, 1, b"").decode(), signed32(one(r, 3, 0))
        check("k8s: ExecSync output and exit code", out == "hello-from-env\n" and code == 3,
              f"stdout={out!r} exit_code={code}")

        log_file = os.path.join(log_dir, "app.log")
        deadline = time.time() + 10
        logged = ""
        while time.time() < deadline and "hello-from-cri" not in logged:
            try:
                with open(log_file) as f:
                    logged = f.read()
            except OSError:
                pass
            time.sleep(0.1)
        check("k8s: the container log has its output", "hello-from-cri" in logged,
              f"{log_file}: {logged!r}")

        cri.call("StopContainer", s(1, cid) + i(2, 10), timeout=60)
        status = sub(cri.call("ContainerStatus", s(1, cid)), 1)
        check("k8s: StopContainer: exited with the TERM trap's 0",
              one(status, 3, 0) == 2 and signed32(one(status, 7, 0)) == 0,
              f"state={one(status, 3, 0)} exit_code={signed32(one(status, 7, 0))}")
        cri.call("RemoveContainer", s(1, cid))
        check("k8s: RemoveContainer", True)

        # A missing command: the runtime's message reaches the CRI caller.
        bad = container_config("bad", ["nosuchcmd"], "bad.log")
        bad_id = text(cri.call("CreateContainer", s(1, pod) + m(2, bad) + m(3, sandbox_config)), 1)
        try:
            cri.call("StartContainer", s(1, bad_id), timeout=120)
            check("k8s: a missing command shows the runtime's message", False, "StartContainer succeeded")
        except grpc.RpcError as e:
            check("k8s: a missing command shows the runtime's message",
                  'exec: "nosuchcmd": executable file not found in $PATH' in (e.details() or ""),
                  rpc_error(e))
        cri.call("RemoveContainer", s(1, bad_id))
    except Exception as e:  # noqa: BLE001
        check("k8s: the pod's containers", False, rpc_error(e))
    finally:
        try:
            cri.call("StopPodSandbox", s(1, pod), timeout=120)
            cri.call("RemovePodSandbox", s(1, pod), timeout=120)
            check("k8s: StopPodSandbox and RemovePodSandbox", True)
        except Exception as e:  # noqa: BLE001
            check("k8s: StopPodSandbox and RemovePodSandbox", False, rpc_error(e))
        left = cri.call("ListPodSandbox").get(1, [])
        check("k8s: no sandboxes left", not left, f"{len(left)} left")


if __name__ == "__main__":
    main()
    sys.exit(1 if FAILED else 0)
