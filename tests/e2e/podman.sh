# shellcheck shell=bash disable=SC2016,SC2088  # $ and ~ in single quotes are meant literally
# podman checks: podman (through conmon) runs containers with
# `--runtime WRAPPER`, where WRAPPER is named like the runtime (podman names a
# runtime given by path after its basename) and logs its argv before exec'ing
# it. podman's config, storage, locks and events all live under the scratch
# dir (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF); containers go under their
# own cgroup parent.

PODMAN_READY=0

podman_setup() {
  local P=$S/podman
  mkdir -p "$P"/{storage,run,tmp,volumes,networks,cni}
  PM_LOG=$S/podman-runtime.log
  make_wrapper "$S/wrap/podman" "$PM_LOG"
  PM_CGROUP=/$CG_PODMAN
  [ "$CGROUP_MANAGER" = systemd ] && PM_CGROUP=$CG_PODMAN
  cat >"$P/containers.conf" <<EOF
[containers]
# podman gives root containers nofile and nproc of 1048576 and more unless
# told otherwise; raising a hard limit needs CAP_SYS_RESOURCE, which a
# sandboxed root may lack (runc then fails with EPERM as well). Modest limits
# keep the rlimit path exercised anywhere.
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
log_driver = "k8s-file"
init_path = "/usr/bin/catatonit"
netns = "none"

[engine]
cgroup_manager = "$CGROUP_MANAGER"
events_logger = "file"
events_logfile_path = "$P/events.log"
lock_type = "file"
tmp_dir = "$P/tmp"
volume_path = "$P/volumes"
# podman passes --log-format=json and --log only to the runtimes listed here.
runtime_supports_json = ["crun", "runc", "kata", "runsc", "youki", "krun", "$RT_NAME"]

[network]
network_config_dir = "$P/networks"
EOF
  cat >"$P/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$P/storage"
runroot = "$P/run"
EOF
  export CONTAINERS_CONF=$P/containers.conf
  export CONTAINERS_STORAGE_CONF=$P/storage.conf
  PM=(podman --runtime "$S/wrap/podman/$RT_NAME")
  PODMAN_READY=1
}

# pm_run ARGS...: `podman run` with the suite's cgroup parent and no network.
pm_run() {
  run "${PM[@]}" run --cgroup-parent "$PM_CGROUP" --network none "$@"
}

# The full ID of a container.
pm_id() {
  "${PM[@]}" inspect --format '{{.Id}}' "$1" 2>/dev/null
}

# Memory limit in the host cgroup of a running container.
pm_memory_limit() {
  local pid cg
  pid=$("${PM[@]}" inspect --format '{{.State.Pid}}' "$1") || return 1
  cg=$(pid_memory_cgroup "$pid")
  cgroup_memory_limit "$cg"
}

podman_suite() {
  local IMG=localhost/e2e-busybox:latest id id2 out pid
  local -a ids=()
  podman_setup

  run "${PM[@]}" load -i "$S/busybox.tar"
  if [ "$RC" = 0 ] && [[ $OUT != *"$IMG"* ]]; then
    # An archive whose ref is not a full name is loaded untagged: tag it.
    id=$(sed -n 's/^Loaded image.*: *\(sha256:\)\{0,1\}\([0-9a-f]\{12,\}\).*$/\2/p' <<<"$OUT" | tail -n 1)
    [ -n "$id" ] && "${PM[@]}" tag "$id" "$IMG" >/dev/null 2>&1
  fi
  run "${PM[@]}" images --format '{{.Repository}}:{{.Tag}}'
  want "podman: load the busybox OCI archive" 0 "~$IMG" || return

  pm_run --rm "$IMG" echo hello from podman
  want "podman: run with output" 0 "hello from podman"
  expect "podman: conmon ran the runtime under test, with --log-format=json" \
    "no 'create --bundle' with --log-format=json in $PM_LOG: $(oneline "$(head -c 600 "$PM_LOG")")" \
    grep -Eq -- "--log-format=json .*create --bundle [^ ]+ --pid-file [^ ]+ [0-9a-f]{64}$" "$PM_LOG"

  pm_run --rm "$IMG" sh -c 'exit 7'
  want "podman: exit code 7" 7
  pm_run --rm "$IMG" nosuchcmd
  want "podman: a missing command exits 127 with the runtime's message" 127 \
    '~exec: "nosuchcmd": executable file not found in $PATH'
  pm_run --rm "$IMG" /etc/passwd
  want "podman: a non-executable exits 126" 126 "~permission denied"
  pm_run --rm --mount "type=bind,src=$S/busybox.tar,dst=/etc/passwd/x" "$IMG" true
  want "podman: an impossible mount shows the runtime's message" '!0' "~/etc/passwd/x"
  note "impossible mount: $(oneline "$OUT")"

  pm_run --rm -e FOO=bar --hostname e2e-host --user 65534:65534 "$IMG" \
    sh -c 'echo "$FOO $(hostname) $(id -u):$(id -g)"'
  want "podman: env, hostname and user" 0 "bar e2e-host 65534:65534"

  pm_run --rm --cap-drop all "$IMG" grep CapEff /proc/self/status
  want "podman: --cap-drop all leaves CapEff 0" 0 "$(printf 'CapEff:\t0000000000000000')"

  pm_run --rm --init "$IMG" sh -c 'tr "\0" " " </proc/1/cmdline'
  want "podman: --init runs catatonit as pid 1" 0 "~/run/podman-init -- sh -c"

  pm_run --rm --tmpfs /work --workdir /work "$IMG" \
    sh -c 'pwd; grep -c "^tmpfs /work tmpfs" /proc/mounts; touch made-here; ls'
  want "podman: --tmpfs /work --workdir /work (image content copied up)" 0 \
    "$(printf '/work\n1\nimage-file\nmade-here')"
  pm_run --rm --tmpfs /work --workdir /work "$IMG" ls
  want "podman: a second --tmpfs run sees a fresh tmpfs" 0 "image-file"

  mkdir -p "$S/pdata"
  echo host-content >"$S/pdata/in"
  pm_run --rm -v "$S/pdata:/data" "$IMG" sh -c 'cat /data/in && echo from-container >/data/out'
  want "podman: -v rw reads the host" 0 "host-content" &&
    expect "podman: -v rw writes the host" "host file: $(cat "$S/pdata/out" 2>&1)" grep -qx from-container "$S/pdata/out"
  pm_run --rm -v "$S/pdata:/data:ro" "$IMG" sh -c 'cat /data/in; echo x >/data/out2'
  want "podman: -v ro" '!0' "~host-content" "~Read-only file system" &&
    expect "podman: -v ro left the host alone" "$S/pdata/out2 exists" test ! -e "$S/pdata/out2"

  pm_run --rm --read-only "$IMG" sh -c 'touch /x; echo "rc=$?"; touch /tmp/y /var/tmp/y /run/y && echo tmpfs-ok'
  want "podman: --read-only (rootfs read-only, tmpfs at /tmp /var/tmp /run)" 0 \
    "~Read-only file system" "~rc=1" "~tmpfs-ok"

  pm_run --rm --uidmap 0:100000:65536 --gidmap 0:100000:65536 "$IMG" \
    sh -c 'cat /proc/self/uid_map /proc/self/gid_map | tr -s " " | sed "s/^ //"; id -u; touch /tmp/x && echo write-ok'
  want "podman: user namespace (--uidmap 0:100000:65536)" 0 \
    "$(printf '0 100000 65536\n0 100000 65536\n0\nwrite-ok')"

  echo "fd-content" >"$S/fdfile"
  run "${PM[@]}" run --cgroup-parent "$PM_CGROUP" --network none --rm --preserve-fds 1 "$IMG" cat /proc/self/fd/3 3<"$S/fdfile"
  want "podman: run --preserve-fds 1" 0 "fd-content"
  expect "podman: conmon passed create --preserve-fds 1" "no 'create … --preserve-fds 1' in $PM_LOG" \
    grep -Eq -- " create --bundle .* --preserve-fds 1 " "$PM_LOG"

  run_pty "${PM[@]}" run --cgroup-parent "$PM_CGROUP" --network none --rm -t "$IMG" sh -c 'tty; exit 3'
  want "podman: tty run" 3 "/dev/pts/0"

  # A detached container through its life.
  pm_run -d --name "$TAG-c1" --memory 64m "$IMG" sh -c \
    'trap "echo got-usr1 >/tmp/usr1" USR1; trap "exit 0" TERM; echo started; while :; do sleep 0.2; done'
  if want "podman: detached run" 0; then
    id=$(pm_id "$TAG-c1")
    ids+=("$id")
    run "${PM[@]}" inspect --format '{{.State.Status}} {{.OCIRuntime}}' "$TAG-c1"
    want "podman: inspect shows it running under the runtime" 0 "running $S/wrap/podman/$RT_NAME"
    run "$RUNTIME" state "$id"
    expect "podman: the runtime's own state says running" "state: $OUT" \
      [ "$(jq -r .status <<<"$OUT" 2>/dev/null)" = running ]

    run "${PM[@]}" top "$TAG-c1"
    want "podman: top lists the processes" 0 "~sh -c" "~sleep"
    run "${PM[@]}" exec "$TAG-c1" sh -c 'echo exec-out; exit 5'
    want "podman: exec output and exit code" 5 "exec-out"
    run "${PM[@]}" exec "$TAG-c1" nosuchcmd
    want "podman: exec of a missing command exits 127" 127 "~executable file not found in"
    run "${PM[@]}" exec --preserve-fds 1 "$TAG-c1" cat /proc/self/fd/3 3<"$S/fdfile"
    want "podman: exec --preserve-fds 1" 0 "fd-content"
    expect "podman: conmon passed exec --preserve-fds 1" "no 'exec … --preserve-fds 1' in $PM_LOG" \
      grep -Eq -- " exec .*--preserve-fds 1 .*$id$" "$PM_LOG"
    run_pty "${PM[@]}" exec -t "$TAG-c1" sh -c 'tty; exit 4'
    want "podman: tty exec" 4 "~/dev/pts/"
    run "${PM[@]}" logs "$TAG-c1"
    want "podman: logs" 0 "started"

    out=$(pm_memory_limit "$TAG-c1")
    expect "podman: --memory 64m in the host cgroup" "limit: $out, want 67108864" [ "$out" = 67108864 ]
    run "${PM[@]}" update --memory 128m "$TAG-c1"
    want "podman: update --memory 128m" 0
    expect "podman: update reached the runtime" "no 'update --resources' in $PM_LOG" \
      grep -Eq -- "update --resources[= ][^ ]+ $id$" "$PM_LOG"
    out=$(pm_memory_limit "$TAG-c1")
    expect "podman: the new limit in the host cgroup" "limit: $out, want 134217728" [ "$out" = 134217728 ]

    run "${PM[@]}" pause "$TAG-c1"
    want "podman: pause" 0
    run "${PM[@]}" inspect --format '{{.State.Status}}' "$TAG-c1"
    want "podman: inspect shows it paused" 0 "paused"
    pid=$("${PM[@]}" inspect --format '{{.State.Pid}}' "$TAG-c1")
    out=$(cgroup_freezer_state "$(pid_memory_cgroup "$pid")")
    expect "podman: the cgroup is frozen" "freezer: $out" grep -Eqx 'FROZEN|1' <<<"$out"
    run "${PM[@]}" unpause "$TAG-c1"
    want "podman: unpause" 0
    run "${PM[@]}" inspect --format '{{.State.Status}}' "$TAG-c1"
    want "podman: inspect shows it running again" 0 "running"

    run "${PM[@]}" kill -s USR1 "$TAG-c1"
    want "podman: kill -s USR1" 0
    expect "podman: the signal reached the trap" "no /tmp/usr1 written in the container" \
      wait_for 10 sh -c "$(printf '%q ' "${PM[@]}") exec $TAG-c1 cat /tmp/usr1 2>/dev/null | grep -q got-usr1"

    run "${PM[@]}" stop -t 10 "$TAG-c1"
    want "podman: stop" 0
    run "${PM[@]}" inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$TAG-c1"
    want "podman: stopped by its TERM trap, exit 0" 0 "exited 0"
    run "${PM[@]}" start "$TAG-c1"
    want "podman: start again" 0
    run "${PM[@]}" exec "$TAG-c1" echo alive
    want "podman: exec after the restart" 0 "alive"
    run "${PM[@]}" kill -s KILL "$TAG-c1"
    want "podman: kill -s KILL" 0
    run "${PM[@]}" wait "$TAG-c1"
    want "podman: SIGKILL gives exit code 137" 0 "137"
    run "${PM[@]}" rm "$TAG-c1"
    want "podman: rm" 0
    run "$RUNTIME" state "$id"
    want "podman: rm deleted the runtime's state" '!0' "~does not exist"
  fi

  pm_run -d --name "$TAG-c2" "$IMG" sleep 1000
  if want "podman: detached run (for rm -f)" 0; then
    id2=$(pm_id "$TAG-c2")
    ids+=("$id2")
    run "${PM[@]}" rm -f -t 0 "$TAG-c2"
    want "podman: rm -f of a running container" 0
    run "$RUNTIME" state "$id2"
    want "podman: rm -f deleted the runtime's state" '!0' "~does not exist"
  fi

  run "${PM[@]}" ps -a -q
  want "podman: no containers left" 0 ""
  out=$(cgroup_left "$CG_PODMAN" | grep -v '/conmon$')
  expect "podman: no container cgroups left" "left: $out" [ -z "$out" ]
}

podman_cleanup() {
  [ "$PODMAN_READY" = 1 ] || return 0
  PODMAN_READY=0
  timeout 60 "${PM[@]}" rm -a -f -t 0 >/dev/null 2>&1
  timeout 60 "${PM[@]}" rmi -a -f >/dev/null 2>&1
  timeout 60 "${PM[@]}" system reset -f >/dev/null 2>&1
  umount_scratch
  unset CONTAINERS_CONF CONTAINERS_STORAGE_CONF
}
