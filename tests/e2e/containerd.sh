# shellcheck shell=bash disable=SC2016,SC2088  # $ and ~ in single quotes are meant literally
# containerd checks: a private containerd (own config, root, state and socket
# under the scratch dir) runs containers through its runc v2 shim with
# `ctr run --runc-binary WRAPPER`, where WRAPPER logs its argv and execs the
# runtime under test.

CTRD_PIDS=()

# containerd_start DIR CONFIG: start containerd in the background and wait
# until it answers on DIR/containerd.sock. Its log is DIR/containerd.log.
containerd_start() {
  local dir=$1 config=$2
  containerd --config "$config" >"$dir/containerd.log" 2>&1 &
  CTRD_PIDS+=($!)
  local pid=$!
  if ! wait_for 30 ctr -a "$dir/containerd.sock" version >/dev/null 2>&1; then
    note "containerd did not come up; its log:"
    tail -n 20 "$dir/containerd.log" | sed 's/^/#   /'
    return 1
  fi
  kill -0 "$pid" 2>/dev/null
}

# containerd_stop PID: SIGTERM, then SIGKILL after 10 s.
containerd_stop() {
  local pid=$1
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  wait_for 10 sh -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

# The config of a private containerd: everything it writes stays under DIR.
# Plugins that would write elsewhere (opt: /opt/containerd) or cannot work
# here are off.
containerd_base_config() {
  local dir=$1
  cat <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp"${CTRD_EXTRA_DISABLED:-}]

[grpc]
  address = "$dir/containerd.sock"

[ttrpc]
  address = "$dir/containerd.sock.ttrpc"

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""
EOF
}

# Tasks and containers of a namespace, killed and removed (cleanup and retries).
ctr_purge() {
  local sock=$1 ns=$2 id
  for id in $(timeout 20 ctr -a "$sock" -n "$ns" tasks ls -q 2>/dev/null); do
    timeout 20 ctr -a "$sock" -n "$ns" tasks kill -a -s SIGKILL "$id" >/dev/null 2>&1
    timeout 20 ctr -a "$sock" -n "$ns" tasks delete -f "$id" >/dev/null 2>&1
  done
  for id in $(timeout 20 ctr -a "$sock" -n "$ns" containers ls -q 2>/dev/null); do
    timeout 20 ctr -a "$sock" -n "$ns" containers delete "$id" >/dev/null 2>&1
  done
  for id in $(timeout 20 ctr -a "$sock" -n "$ns" images ls -q 2>/dev/null); do
    timeout 20 ctr -a "$sock" -n "$ns" images rm "$id" >/dev/null 2>&1
  done
  timeout 20 ctr -a "$sock" -n "$ns" namespaces rm "$ns" >/dev/null 2>&1
  return 0
}

# Files under a runtime root that are left of a container. Empty directories
# are allowed: the runtime keeps its root (and cellos-runtime its @bundles).
runtime_root_leftovers() {
  local root=$1
  [ -d "$root" ] || return 0
  find "$root" -mindepth 1 \( -type d -empty \) -prune -o -mindepth 1 ! -type d -print -o -mindepth 1 -type d -name '[!@]*' -print
}

containerd_suite() {
  local D=$S/containerd NS=$TAG IMG=localhost/e2e-busybox:latest
  local W LOG ROOT cg pid out
  CTR_SOCK=$D/containerd.sock
  CTR_NS=$NS
  mkdir -p "$D"
  LOG=$S/ctr-runtime.log
  make_wrapper "$S/wrap/ctr" "$LOG"
  W=$S/wrap/ctr/$RT_NAME
  # The shim's default runtime root for this namespace.
  ROOT=/run/containerd/runc/$NS

  CTRD_EXTRA_DISABLED=', "io.containerd.grpc.v1.cri"' containerd_base_config "$D" >"$D/config.toml"
  if ! containerd_start "$D" "$D/config.toml"; then
    fail "containerd: start" "containerd did not answer on $CTR_SOCK"
    return
  fi
  CTRD_MAIN_PID=${CTRD_PIDS[-1]}
  pass "containerd: start a private containerd"

  local c=(ctr -a "$CTR_SOCK" -n "$NS")
  local r=(run --runc-binary "$W")
  # With the systemd driver the shim passes --systemd-cgroup, and every
  # container needs a SLICE:PREFIX:NAME cgroup: a wrapper of ctr adds one
  # (the ID is the argument after the image).
  local sdflag=""
  if [ "$CGROUP_MANAGER" = systemd ]; then
    sdflag="--systemd-cgroup "
    cat >"$S/wrap/ctr-systemd" <<WRAP
#!/bin/bash
args=("\$@")
if [ "\${args[4]}" = run ]; then
  for ((i = 5; i < \${#args[@]}; i++)); do
    if [ "\${args[i]}" = "$IMG" ]; then
      exec ctr "\${args[@]:0:5}" --runc-systemd-cgroup --cgroup "$CG_CTR:ctr:\${args[i + 1]}" "\${args[@]:5}"
    fi
  done
fi
exec ctr "\$@"
WRAP
    chmod 0755 "$S/wrap/ctr-systemd"
    c=("$S/wrap/ctr-systemd" -a "$CTR_SOCK" -n "$NS")
  fi

  run "${c[@]}" images import "$S/busybox.tar"
  run "${c[@]}" images ls -q
  want "containerd: import the busybox OCI archive" 0 "~$IMG" || return

  # A first container; the wrapper's log shows the shim ran our runtime with
  # the flags of the contract.
  run "${c[@]}" "${r[@]}" --rm "$IMG" c-hello echo hello from ctr
  want "containerd: run with output" 0 "hello from ctr"
  expect "containerd: the shim ran the runtime under test" \
    "no 'create --bundle … c-hello' in $LOG: $(oneline "$(cat "$LOG")")" \
    grep -Eq -- "^--root $ROOT --log [^ ]+/log.json --log-format json ${sdflag}create --bundle [^ ]+ --pid-file [^ ]+/init.pid c-hello$" "$LOG"
  expect "containerd: the shim deleted through the runtime" \
    "no 'delete c-hello' in $LOG" grep -Eq -- " delete (--force )?c-hello$" "$LOG"

  run "${c[@]}" "${r[@]}" --rm "$IMG" c-exit sh -c 'exit 3'
  want "containerd: exit code 3" 3

  run "${c[@]}" "${r[@]}" --rm --env FOO=bar --cwd /tmp "$IMG" c-env sh -c 'echo "$FOO $(pwd)"'
  want "containerd: env and cwd" 0 "bar /tmp"

  run "${c[@]}" "${r[@]}" --rm --read-only "$IMG" c-ro sh -c 'touch /x'
  want "containerd: read-only rootfs" '!0' "~Read-only file system"

  mkdir -p "$S/cdata"
  echo host-content >"$S/cdata/in"
  run "${c[@]}" "${r[@]}" --rm --mount "type=bind,src=$S/cdata,dst=/data,options=rbind:rw" \
    "$IMG" c-bindrw sh -c 'cat /data/in && echo from-container >/data/out'
  want "containerd: rw bind mount reads the host" 0 "host-content" &&
    expect "containerd: rw bind mount writes the host" "host file: $(cat "$S/cdata/out" 2>&1)" \
      grep -qx from-container "$S/cdata/out"
  run "${c[@]}" "${r[@]}" --rm --mount "type=bind,src=$S/cdata,dst=/data,options=rbind:ro" \
    "$IMG" c-bindro sh -c 'cat /data/in; echo x >/data/out2'
  want "containerd: ro bind mount" '!0' "~host-content" "~Read-only file system" &&
    expect "containerd: ro bind mount left the host alone" "$S/cdata/out2 exists" test ! -e "$S/cdata/out2"

  run "${c[@]}" "${r[@]}" --rm --mount "type=tmpfs,src=tmpfs,dst=/scratch,options=size=1m:mode=1777" \
    "$IMG" c-tmpfs sh -c 'grep " /scratch " /proc/mounts && touch /scratch/f'
  want "containerd: tmpfs mount" 0 "~tmpfs /scratch tmpfs" "~size=1024k"

  run_pty "${c[@]}" "${r[@]}" --rm -t "$IMG" c-tty sh -c 'tty; exit 4'
  want "containerd: tty run" 4 "/dev/pts/0"

  # A memory limit, read from the host cgroup named in the shim's bundle.
  run "${c[@]}" "${r[@]}" -d --memory-limit 67108864 "$IMG" c-mem sleep 1000
  if want "containerd: detached run with --memory-limit" 0; then
    cg=$(cgroup_path_of "$(jq -r '.linux.cgroupsPath' "$D/state/io.containerd.runtime.v2.task/$NS/c-mem/config.json" 2>&1)")
    out=$(cgroup_memory_limit "$cg")
    expect "containerd: memory limit in the host cgroup" "cgroup $cg: $out, want 67108864" [ "$out" = 67108864 ]
    pid=$("${c[@]}" tasks ls | awk '$1 == "c-mem" {print $2}')
    out=$(pid_memory_cgroup "$pid" 2>&1)
    expect "containerd: the task runs in that cgroup" "pid $pid is in '$out', want '$cg'" [ "$out" = "$cg" ]
    # Each step judged: on a loaded host `tasks wait` can come back before
    # the shim has seen the exit, and a delete then would find it running.
    run "${c[@]}" tasks kill -s SIGKILL c-mem
    want "containerd: kill -s SIGKILL (memory-limited task)" 0
    expect "containerd: the memory-limited task stops" "still not STOPPED in task ls after 10 s" \
      wait_for 10 task_stopped "$CTR_SOCK" "$NS" c-mem
    run "${c[@]}" tasks delete c-mem
    want "containerd: task delete reports exit code 137 (memory-limited task)" 0 "~exit code 137"
  fi
  run "${c[@]}" containers delete c-mem

  # A detached task through its life.
  run "${c[@]}" "${r[@]}" -d "$IMG" c-task sh -c \
    'trap "echo got-usr1 >/tmp/usr1" USR1; trap "exit 42" TERM; echo started; while :; do sleep 0.2; done'
  if want "containerd: detached run" 0; then
    run "${c[@]}" tasks ls
    want "containerd: task ls shows it running" 0 "~c-task" "~RUNNING"
    pid=$(awk '$1 == "c-task" {print $2}' <<<"$OUT")
    run "$RUNTIME" --root "$ROOT" state c-task
    expect "containerd: the runtime's own state agrees (status, pid)" "state: $(oneline "$OUT")" \
      [ "$(jq -r '.status + " " + (.pid|tostring)' <<<"$OUT" 2>/dev/null)" = "running $pid" ]

    run "${c[@]}" tasks exec --exec-id e1 c-task sh -c 'echo exec-out; exit 5'
    want "containerd: exec output and exit code" 5 "exec-out"
    run "${c[@]}" tasks exec --exec-id e4 c-task sh -c 'kill -9 $$'
    want "containerd: exec killed by SIGKILL gives 137" 137
    run_pty "${c[@]}" tasks exec -t --exec-id e2 c-task sh -c 'tty; exit 6'
    want "containerd: tty exec" 6 "~/dev/pts/"
    expect "containerd: the shim exec'd through the runtime" "no 'exec --process' in $LOG" \
      grep -Eq -- " exec --process [^ ]+ (--console-socket [^ ]+ )?--detach --pid-file [^ ]+ c-task$" "$LOG"

    run "${c[@]}" tasks ps c-task
    want "containerd: task ps lists the init" 0 "~$pid"

    run "${c[@]}" tasks pause c-task
    want "containerd: pause" 0
    run "${c[@]}" tasks ls
    want "containerd: task ls shows it paused" 0 "~PAUSED"
    cg=$(pid_memory_cgroup "$pid")
    out=$(cgroup_freezer_state "$cg")
    expect "containerd: the cgroup is frozen" "freezer of $cg: $out" grep -Eqx 'FROZEN|1' <<<"$out"
    run "${c[@]}" tasks resume c-task
    want "containerd: resume" 0
    run "${c[@]}" tasks ls
    want "containerd: task ls shows it running again" 0 "~RUNNING"

    run "${c[@]}" tasks kill -s SIGUSR1 c-task
    want "containerd: kill -s SIGUSR1" 0
    expect "containerd: the signal reached the trap" "no /tmp/usr1 written in the container" \
      wait_for 10 sh -c "$(printf '%q ' "${c[@]}") tasks exec --exec-id e3 c-task cat /tmp/usr1 2>/dev/null | grep -q got-usr1"

    run "${c[@]}" tasks kill c-task
    want "containerd: kill (SIGTERM)" 0
    expect "containerd: the task stops" "still not STOPPED in task ls after 10 s" \
      wait_for 10 task_stopped "$CTR_SOCK" "$NS" c-task
    run "${c[@]}" tasks delete c-task
    want "containerd: task delete reports exit code 42 of the TERM trap" 0 "~exit code 42"
  fi
  run "${c[@]}" containers delete c-task

  # kill --all reaches every process, including an exec'd one.
  run "${c[@]}" "${r[@]}" -d "$IMG" c-all sh -c 'sleep 1000 & sleep 1000 & wait'
  if want "containerd: detached run (kill --all)" 0; then
    run "${c[@]}" tasks exec -d --exec-id bg c-all sleep 1000
    # The init forks its two sleeps in its own time: wait for all four.
    expect "containerd: four processes before kill --all" "not 4 processes in task ps after 10 s" \
      wait_for 10 task_count "$CTR_SOCK" "$NS" c-all 4
    run "${c[@]}" tasks kill -a -s SIGKILL c-all
    want "containerd: kill --all" 0
    expect "containerd: the shim sent kill --all" "no 'kill --all c-all 9' in $LOG" grep -q -- " kill --all c-all 9$" "$LOG"
    expect "containerd: the task stops after kill --all" "still not STOPPED in task ls after 10 s" \
      wait_for 10 task_stopped "$CTR_SOCK" "$NS" c-all
    run "${c[@]}" tasks delete c-all
    want "containerd: task delete reports exit code 137 after kill --all" 0 "~exit code 137"
  fi
  run "${c[@]}" containers delete c-all

  # Errors reach the user through the shim.
  run "${c[@]}" "${r[@]}" --rm "$IMG" c-nocmd nosuchcmd
  want "containerd: a missing command shows the runtime's message" '!0' \
    '~exec: "nosuchcmd": executable file not found in $PATH'
  run "${c[@]}" containers delete c-nocmd
  run "${c[@]}" "${r[@]}" --rm --mount "type=bind,src=$S/no-such-dir,dst=/x,options=rbind" "$IMG" c-badmount true
  want "containerd: an impossible mount shows the runtime's message" '!0' "~$S/no-such-dir" "~such file or directory"
  note "impossible mount: $(oneline "$OUT")"
  run "${c[@]}" containers delete c-badmount

  # Nothing left: no containers, tasks, runtime state or container cgroups.
  run "${c[@]}" containers ls -q
  want "containerd: no containers left" 0 ""
  run "${c[@]}" tasks ls -q
  want "containerd: no tasks left" 0 ""
  out=$(runtime_root_leftovers "$ROOT")
  expect "containerd: no runtime state left in the shim's runtime root" "left in $ROOT: $out" [ -z "$out" ]
  out=$(cgroup_left "$CG_CTR")
  expect "containerd: no container cgroups left" "left: $out" [ -z "$out" ]
}

containerd_cleanup() {
  [ -n "${CTRD_MAIN_PID:-}" ] || return 0
  ctr_purge "$CTR_SOCK" "$CTR_NS"
  containerd_stop "$CTRD_MAIN_PID"
  CTRD_MAIN_PID=
}
