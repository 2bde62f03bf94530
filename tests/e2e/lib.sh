# shellcheck shell=bash
# Shared helpers of the end-to-end suite: check bookkeeping, command capture
# with time limits, the scratch dir, the runtime wrappers and the busybox image.
# Sourced by run.sh; everything here lives in one bash process.

PASS_N=0
FAIL_N=0
OUT=""
RC=0

# One line per check, as the README promises.
pass() {
  PASS_N=$((PASS_N + 1))
  echo "PASS $1"
}

fail() {
  FAIL_N=$((FAIL_N + 1))
  echo "FAIL $1: $(oneline "$2")"
}

note() { echo "# $*"; }

# Squeeze a multi-line text into one line of bounded length.
oneline() {
  local s=${1//$'\r'/}
  s=${s//$'\n'/ | }
  if [ ${#s} -gt 600 ]; then s="${s:0:600}..."; fi
  printf '%s' "$s"
}

# run CMD...: capture stdout+stderr in OUT (carriage returns dropped, so tty
# output compares like any other) and the exit status in RC. Every command has
# a time limit (TMO seconds, default 60): a hang is a failure, never a stall.
run() {
  OUT=$(timeout -k 5 "${TMO:-60}" "$@" 2>&1 </dev/null)
  RC=$?
  OUT=${OUT//$'\r'/}
}

# want NAME RC [EXPECT]...: judge the last `run`.
#   RC      an exit status, '!0' for any failure or '*' for any status
#   EXPECT  'text' (the whole output), '~text' (contained), '!text' (absent)
want() {
  local name=$1 rc=$2 w
  shift 2
  case $rc in
    '*') ;;
    '!0') if [ "$RC" = 0 ]; then fail "$name" "exit 0, want a failure; output: $OUT"; return 1; fi ;;
    *) if [ "$RC" != "$rc" ]; then fail "$name" "exit $RC, want $rc; output: $OUT"; return 1; fi ;;
  esac
  for w in "$@"; do
    case $w in
      '~'*) [[ $OUT == *"${w:1}"* ]] || { fail "$name" "output lacks '${w:1}': $OUT"; return 1; } ;;
      '!'*) [[ $OUT != *"${w:1}"* ]] || { fail "$name" "output has '${w:1}': $OUT"; return 1; } ;;
      *) [ "$OUT" = "$w" ] || { fail "$name" "output '$OUT', want '$w'"; return 1; } ;;
    esac
  done
  pass "$name"
}

# expect NAME REASON CMD...: pass when CMD succeeds, else fail with REASON.
expect() {
  local name=$1 reason=$2
  shift 2
  if "$@"; then pass "$name"; else fail "$name" "$reason"; fi
}

# run_pty CMD...: `run` on a fresh pseudo-terminal (ctr -t and podman -t need
# one), with nothing typed into it.
run_pty() {
  run "$PYTHON" "$HERE/ptyrun.py" "$@"
}

# wait_for SECONDS CMD...: poll until CMD succeeds.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.1
  done
}

# ---- the host's cgroups ----------------------------------------------------

# The memory limit of a cgroup path (as in config.json's linux.cgroupsPath or
# /proc/PID/cgroup), read on the host: v1 memory.limit_in_bytes or v2 memory.max.
cgroup_memory_limit() {
  local p=$1
  if [ -d /sys/fs/cgroup/memory ]; then
    cat "/sys/fs/cgroup/memory$p/memory.limit_in_bytes" 2>&1
  else
    cat "/sys/fs/cgroup$p/memory.max" 2>&1
  fi
}

# The cgroup path (as in /proc/PID/cgroup) of a config.json cgroupsPath: the
# systemd form SLICE:PREFIX:NAME is the scope PREFIX-NAME.scope in SLICE,
# whose name nests at each '-' (a-b.slice is /a.slice/a-b.slice).
cgroup_path_of() {
  local p=$1 slice prefix name path="" acc="" part
  if [[ $p != *:*:* ]]; then
    echo "$p"
    return
  fi
  IFS=: read -r slice prefix name <<<"$p"
  slice=${slice%.slice}
  if [ "$slice" != "" ] && [ "$slice" != "-" ]; then
    for part in ${slice//-/ }; do
      acc=${acc:+$acc-}$part
      path=$path/$acc.slice
    done
  fi
  echo "$path/$prefix-$name.scope"
}

# Freezer state of a cgroup path: FROZEN/THAWED (v1) or 1/0 (v2).
cgroup_freezer_state() {
  local p=$1
  if [ -d /sys/fs/cgroup/freezer ]; then
    cat "/sys/fs/cgroup/freezer$p/freezer.state" 2>&1
  else
    cat "/sys/fs/cgroup$p/cgroup.freeze" 2>&1
  fi
}

# The cgroup path of a host pid for the memory controller (v1) or the unified tree.
pid_memory_cgroup() {
  local pid=$1
  if [ -d /sys/fs/cgroup/memory ]; then
    sed -n 's/^[0-9]*:\([^:]*,\)\{0,1\}memory\(,[^:]*\)\{0,1\}:\(.*\)$/\3/p' "/proc/$pid/cgroup"
  else
    sed -n 's/^0:://p' "/proc/$pid/cgroup"
  fi
}

# task_stopped SOCK NS ID: the task's status in `ctr tasks ls` is STOPPED.
task_stopped() {
  ctr -a "$1" -n "$2" tasks ls 2>/dev/null | awk -v id="$3" '$1 == id {print $3}' | grep -qx STOPPED
}

# task_count SOCK NS ID N: `ctr tasks ps` lists N processes of task ID.
task_count() {
  [ "$(ctr -a "$1" -n "$2" tasks ps "$3" 2>/dev/null | grep -c '^[0-9]')" = "$4" ]
}

# Remove a cgroup subtree (empty cgroups only) in every hierarchy.
# Tasks still in the tree (a killed process leaves its cgroup only once it
# has exited, which a loaded host can take seconds to finish) are killed, and
# the removal is retried for up to 10 s.
cgroup_rmdir_tree() {
  local name=$1 h try
  for try in $(seq 50); do
    for h in /sys/fs/cgroup /sys/fs/cgroup/*; do
      [ -d "$h/$name" ] || continue
      find "$h/$name" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null
      find "$h/$name" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    [ -z "$(for h in /sys/fs/cgroup /sys/fs/cgroup/*; do [ -d "$h/$name" ] && echo "$h"; done)" ] && return 0
    sleep 0.2
  done
  return 1
}

# Directories of a cgroup subtree that still exist, in any hierarchy.
cgroup_left() {
  local name=$1 h
  for h in /sys/fs/cgroup /sys/fs/cgroup/*; do
    [ -d "$h/$name" ] && find "$h/$name" -mindepth 1 -type d
  done 2>/dev/null
}

# ---- the runtime under test ------------------------------------------------

# make_wrapper DIR LOG: DIR/<runtime's basename>, a script that appends its
# argv to LOG and execs the runtime. Engines are pointed at the wrapper, so the
# log proves which binary they ran and with which arguments.
make_wrapper() {
  local dir=$1 log=$2
  mkdir -p "$dir"
  cat >"$dir/$RT_NAME" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >>'$log'
exec '$RUNTIME' "\$@"
EOF
  chmod 0755 "$dir/$RT_NAME"
  : >"$log"
}

# ---- the image --------------------------------------------------------------

# A busybox rootfs: /bin/busybox with every applet as a symlink, passwd/group,
# and a file at /work (podman's tmpcopyup must copy it into a tmpfs there).
build_rootfs() {
  local r=$1 app
  mkdir -p "$r"/{bin,dev,etc,proc,sys,tmp,root,run,var/tmp,work,data,mnt}
  cp /bin/busybox "$r/bin/busybox"
  for app in $(/bin/busybox --list); do
    [ "$app" = busybox ] || ln -sf busybox "$r/bin/$app"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
  printf 'hello from the image\n' >"$r/work/image-file"
  chmod 1777 "$r/tmp" "$r/var/tmp"
}

# blob DIR FILE: move FILE into DIR/blobs/sha256 under its digest; print "sha256:<hex> <size>".
blob() {
  local dir=$1 f=$2 hex size
  hex=$(sha256sum "$f" | cut -d' ' -f1)
  size=$(stat -c %s "$f")
  mkdir -p "$dir/blobs/sha256"
  mv "$f" "$dir/blobs/sha256/$hex"
  echo "sha256:$hex $size"
}

# build_image ROOTFS NAME CMD_JSON OUT_TAR: an OCI image archive (oci-layout,
# index.json, manifest, config and one uncompressed layer), written by hand.
# NAME is the full reference, e.g. localhost/e2e-busybox:latest.
build_image() {
  local rootfs=$1 name=$2 cmd=$3 out=$4
  local d ldig lsize cdig csize mdig msize ARCH
  ARCH=$(dpkg --print-architecture 2>/dev/null || echo amd64)
  d=$(mktemp -d "$S/oci.XXXXXX")
  tar --sort=name --numeric-owner --owner=0 --group=0 --mtime=@0 -C "$rootfs" -cf "$d/layer.tar" .
  read -r ldig lsize < <(blob "$d" "$d/layer.tar")
  cat >"$d/config.json" <<EOF
{"architecture":"$ARCH","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":$cmd,"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["$ldig"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"cellos-runtime e2e suite"}]}
EOF
  read -r cdig csize < <(blob "$d" "$d/config.json")
  cat >"$d/manifest.json" <<EOF
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$cdig","size":$csize},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"$ldig","size":$lsize}]}
EOF
  read -r mdig msize < <(blob "$d" "$d/manifest.json")
  cat >"$d/index.json" <<EOF
{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"$mdig","size":$msize,"platform":{"architecture":"$ARCH","os":"linux"},"annotations":{"io.containerd.image.name":"$name","org.opencontainers.image.ref.name":"${name##*:}"}}]}
EOF
  echo '{"imageLayoutVersion":"1.0.0"}' >"$d/oci-layout"
  tar --numeric-owner --owner=0 --group=0 -C "$d" -cf "$out" oci-layout index.json blobs
  rm -rf "$d"
}
