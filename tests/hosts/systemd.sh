# shellcheck shell=bash disable=SC2016
# The guest's own checks (sourced by checks.sh through HOSTS_EXTRA): what only
# a host with systemd as PID 1, cgroup v2 and a rootless user with a systemd
# user session can show. The user is `tester` (uid 1000, /etc/subuid and
# /etc/subgid entries, lingering, so its user manager and bus run from boot).
#
#  - rootless podman with cgroup_manager = "systemd": run, exec, a memory
#    limit in its delegated cgroup, stop, rm;
#  - rootless `cellos-runtime --systemd-cgroup` create/start/exec/delete
#    with limits, applied in the user's delegated cgroup;
#  - a cell run by tester with no CELLOS_* variables, whose TTL kills a tree
#    that ignores SIGTERM;
#  - the .deb (HOSTS_DEB) installed offline, then `podman --runtime
#    cellos-runtime run --rm busybox echo ok` and `man cellos-runtime`, with no
#    configuration edited.
# Needs HOSTS_REPO (the busybox fixture rootfs) and REL from checks.sh.

SD_USER=tester
SD_UID=$(id -u "$SD_USER")
SD_ROOTFS=$HOSTS_REPO/bundle-fixtures/busybox/rootfs
SD_TMP=$(mktemp -d /tmp/cellos-hosts-sd.XXXXXX)
chmod 0755 "$SD_TMP"

# "${AS_USER[@]}" CMD...: CMD as tester in its user session's environment,
# nothing else. An array, not a function, so that lib.sh's `run` can bound it.
AS_USER=(runuser -u "$SD_USER" -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin
  HOME="/home/$SD_USER" USER="$SD_USER" XDG_RUNTIME_DIR="/run/user/$SD_UID"
  DBUS_SESSION_BUS_ADDRESS="unix:path=/run/user/$SD_UID/bus")
# lib.sh's `run` limit: the guest is emulated, so each command gets 300 s.
TMO=300

# run_bg CMD...: as `run`, for a command that leaves a process behind holding
# its stdio (`create`: the container's init keeps the runtime's stdout and
# stderr when process.terminal is false). Its output goes to a file, as conmon
# or a shim gives a container stdio of its own; a $(...) would wait for the
# container to exit.
run_bg() {
  timeout -k 5 "$TMO" "$@" >"$SD_TMP/bg.out" 2>&1 </dev/null
  RC=$?
  OUT=$(cat "$SD_TMP/bg.out")
}

# The busybox fixture as a podman image, imported from a tar (no registry).
tar --numeric-owner --owner=0 --group=0 -C "$SD_ROOTFS" -cf "$SD_TMP/busybox.tar" .
chmod 0644 "$SD_TMP/busybox.tar"

# ---- rootless podman, systemd cgroup manager -----------------------------------
for i in $(seq 1 100); do [ -S "/run/user/$SD_UID/bus" ] && break; sleep 0.5; done
PMU=(podman --cgroup-manager systemd --runtime "$REL/cellos-runtime")
run "${AS_USER[@]}" podman info --format '{{.Host.CgroupManager}} {{.Host.CgroupsVersion}} {{.Host.Security.Rootless}}'
want "rootless podman: the user's podman uses systemd on cgroup v2" 0 "~systemd v2 true"
run "${AS_USER[@]}" podman import "$SD_TMP/busybox.tar" localhost/busybox:latest
want "rootless podman: import the busybox fixture" 0
run "${AS_USER[@]}" "${PMU[@]}" run --rm --network none busybox sh -c 'echo ok; id -u'
want "rootless podman: run --rm" 0 "~$(printf 'ok\n0')"
run "${AS_USER[@]}" "${PMU[@]}" run -d --name rl1 --network none --memory 64m busybox \
  sh -c 'trap "exit 0" TERM; while :; do sleep 0.2; done'
if [ "$RC" = 0 ]; then
  pass "rootless podman: run -d --memory 64m"
  pid=$("${AS_USER[@]}" podman inspect --format '{{.State.Pid}}' rl1)
  cg=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
  lim=$(cat "/sys/fs/cgroup$cg/memory.max" 2>&1)
  if [[ $cg == /user.slice/user-$SD_UID.slice/user@$SD_UID.service/* ]] && [ "$lim" = 67108864 ]; then
    pass "rootless podman: the limit is applied in the user's delegated cgroup"
  else
    fail "rootless podman: the limit is applied in the user's delegated cgroup" "cgroup $cg memory.max $lim"
  fi
  run "${AS_USER[@]}" "${PMU[@]}" exec rl1 sh -c 'echo exec-ok; exit 3'
  want "rootless podman: exec" 3 "~exec-ok"
  run "${AS_USER[@]}" "${PMU[@]}" stop -t 10 rl1
  want "rootless podman: stop" 0
  run "${AS_USER[@]}" "${PMU[@]}" inspect --format '{{.State.Status}} {{.State.ExitCode}}' rl1
  want "rootless podman: stopped by its TERM trap" 0 "~exited 0"
  run "${AS_USER[@]}" "${PMU[@]}" rm rl1
  want "rootless podman: rm" 0
else
  fail "rootless podman: run -d --memory 64m" "exit $RC: $OUT"
  "${AS_USER[@]}" "${PMU[@]}" rm -f rl1 >/dev/null 2>&1
fi

# ---- rootless cellos-runtime, limits through the user's systemd -----------------
# As rootless podman runs it: --systemd-cgroup and a user.slice:PREFIX:NAME
# cgroup, made by the user's own systemd (user@UID.service, Delegate=yes).
B=$SD_TMP/bundle
mkdir -p "$B"
chown "$SD_USER:" "$B"
run "${AS_USER[@]}" sh -c "cd '$B' && '$REL/cellos-runtime' spec --rootless"
if [ "$RC" = 0 ]; then
  jq --arg r "$SD_ROOTFS" '.root.path = $r | .root.readonly = true | .process.terminal = false
    | .process.args = ["sleep", "300"] | .linux.cgroupsPath = "user.slice:cellos:rl-limits"
    | .linux.resources = {"memory": {"limit": 67108864}, "pids": {"limit": 64}}' \
    "$B/config.json" >"$B/c.json" && mv "$B/c.json" "$B/config.json" && chown "$SD_USER:" "$B/config.json"
  run_bg "${AS_USER[@]}" "$REL/cellos-runtime" --systemd-cgroup create --bundle "$B" rl-limits
  want "rootless create --systemd-cgroup with memory and pids limits" 0
  run "${AS_USER[@]}" "$REL/cellos-runtime" --systemd-cgroup start rl-limits
  want "rootless start" 0
  pid=$("${AS_USER[@]}" "$REL/cellos-runtime" state rl-limits 2>/dev/null | jq -r '.pid' 2>/dev/null)
  cg=$( [ -n "$pid" ] && sed -n 's/^0:://p' "/proc/$pid/cgroup" 2>/dev/null)
  got="$(cat "/sys/fs/cgroup$cg/memory.max" 2>&1) $(cat "/sys/fs/cgroup$cg/pids.max" 2>&1)"
  if [[ $cg == /user.slice/user-$SD_UID.slice/user@$SD_UID.service/* ]] && [ "$got" = "67108864 64" ]; then
    pass "rootless run: memory and pids limits applied in the user's delegated cgroup"
  else
    fail "rootless run: memory and pids limits applied in the user's delegated cgroup" "pid '$pid' cgroup '$cg': $got"
  fi
  run "${AS_USER[@]}" "$REL/cellos-runtime" --systemd-cgroup exec rl-limits sh -c 'id -u; exit 4'
  want "rootless exec" 4 "~0"
  run "${AS_USER[@]}" "$REL/cellos-runtime" --systemd-cgroup delete --force rl-limits
  want "rootless delete --force" 0
  run "${AS_USER[@]}" "$REL/cellos-runtime" list -q
  want "rootless: nothing left in the user's root" 0 ""
else
  fail "rootless run: spec --rootless" "exit $RC: $OUT"
fi

# ---- a cell as tester, default settings, TTL ------------------------------------
m=$((RANDOM % 1000 + 7000))
cat >"$SD_TMP/ttl.json" <<JSON
{"apiVersion": "cellos.io/v1", "kind": "ExecutionCell",
 "spec": {"id": "hosts-ttl-$$", "authority": {}, "lifetime": {"ttlSeconds": 1},
  "run": {"argv": ["/bin/sh", "-c", "trap '' TERM; (trap '' TERM; sleep $m & sleep $m; wait) & sleep $m; wait"]}}}
JSON
chmod 0644 "$SD_TMP/ttl.json"
ttl_t0=$(date +%s)
run "${AS_USER[@]}" "$REL/cellos-supervisor" "$SD_TMP/ttl.json"
el=$(($(date +%s) - ttl_t0))
left=$(pgrep -f "sleep $m")
if [ "$RC" = 124 ] && [ "$el" -lt 30 ] && [ -z "$left" ]; then
  pass "cell as tester (no CELLOS_* set): the TTL kills a tree that ignores SIGTERM"
else
  fail "cell as tester (no CELLOS_* set): the TTL kills a tree that ignores SIGTERM" \
    "exit $RC (want 124) after $el s, left: '$left'; $OUT"
  [ -n "$left" ] && kill -KILL $left 2>/dev/null
fi
run "${AS_USER[@]}" "$REL/cellos-supervisor" "$HOSTS_REPO/bundle-fixtures/cells/hello.json"
want "cell as tester (no CELLOS_* set): hello.json" 0 "~hello from cell"

# ---- the .deb, as a user installs it ---------------------------------------------
if [ -n "${HOSTS_DEB:-}" ]; then
  cp "$HOSTS_DEB" "$SD_TMP/"
  # No --no-download: apt 2.6 then refuses any local .deb ("Pathname to
  # install is not absolute", even for an absolute one). The guest has no
  # network and the package no dependencies, so nothing is fetched.
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y "$SD_TMP/$(basename "$HOSTS_DEB")"
  want "deb: apt install ./$(basename "$HOSTS_DEB") (no network)" 0 "~Setting up cellos-runtime"
  run podman import "$SD_TMP/busybox.tar" busybox
  want "deb: podman import of the busybox fixture" 0
  run podman --runtime cellos-runtime run --rm busybox echo ok
  want "deb: podman --runtime cellos-runtime run --rm busybox echo ok" 0 "~ok"
  run podman info --format '{{.Host.CgroupManager}}'
  want "deb: podman's cgroup manager is systemd" 0 "~systemd"
  run man -P cat cellos-runtime
  want "deb: man cellos-runtime" 0 "~cellos-runtime"
  run bash -c '. /usr/share/bash-completion/completions/cellos-runtime && complete -p cellos-runtime'
  want "deb: bash completion" 0 "~cellos-runtime"
  podman rm -a -f >/dev/null 2>&1
  podman rmi -a -f >/dev/null 2>&1
fi
rm -rf "$SD_TMP"
