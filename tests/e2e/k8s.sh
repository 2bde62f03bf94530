# shellcheck shell=bash
# Kubernetes checks: a second private containerd, this time with the CRI
# plugin, configured from tests/e2e/k8s/containerd-config.toml (the handler
# "cellos", BinaryName pointed at a logging wrapper of the runtime under
# test). k8s/cri.py then does what a kubelet does for a pod with
# `runtimeClassName: cellos`: RunPodSandbox (a busybox `sleep` as the pause
# image), CreateContainer, StartContainer, ExecSync, StopContainer, removal.

K8S_PID=
K8S_NS=k8s.io

k8s_suite() {
  local D=$S/k8s handler=cellos out line
  local PAUSE=localhost/e2e-pause:latest IMG=localhost/e2e-busybox:latest
  mkdir -p "$D"/{cni/bin,cni/net.d,logs}
  K8S_LOG=$S/k8s-runtime.log
  make_wrapper "$S/wrap/k8s" "$K8S_LOG"
  K8S_SOCK=$D/containerd.sock
  K8S_ROOT=$D/runtime-root
  # The kubelet's cgroup driver decides the form: a path, or a slice.
  K8S_PARENT=/$CG_K8S
  [ "$CGROUP_MANAGER" = systemd ] && K8S_PARENT=$CG_K8S

  # The handler's table comes from the shipped TOML, verbatim but for the
  # binary (the wrapper) and a runtime root of our own, so that nothing is
  # shared with a system containerd's k8s.io namespace.
  {
    containerd_base_config "$D"
    cat <<EOF

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE"
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  # Sandboxes get oom_score_adj -998 otherwise; lowering it needs
  # CAP_SYS_RESOURCE, which a sandboxed root may lack (runc fails too).
  restrict_oom_score_adj = true

[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "$D/cni/bin"
  conf_dir = "$D/cni/net.d"

EOF
    grep -v '^version *=' "$HERE/k8s/containerd-config.toml" |
      sed -e "s|SystemdCgroup = false|SystemdCgroup = $([ "$CGROUP_MANAGER" = systemd ] && echo true || echo false)|" \
        -e "s|BinaryName = \"/usr/local/bin/cellos-runtime\"|BinaryName = \"$S/wrap/k8s/$RT_NAME\"\n  Root = \"$K8S_ROOT\"|"
  } >"$D/config.toml"
  expect "k8s: containerd-config.toml names the cellos handler and binary" \
    "no BinaryName substitution in $D/config.toml" grep -q "BinaryName = \"$S/wrap/k8s/$RT_NAME\"" "$D/config.toml"

  if ! containerd_start "$D" "$D/config.toml"; then
    fail "k8s: containerd starts with containerd-config.toml" "no answer on $K8S_SOCK"
    return
  fi
  K8S_PID=${CTRD_PIDS[-1]}
  run ctr -a "$K8S_SOCK" plugins ls
  out=$(awk '$2 == "cri" {print $NF}' <<<"$OUT")
  expect "k8s: containerd starts with containerd-config.toml, CRI plugin ok" \
    "cri plugin status '$out'; log: $(grep -i 'cri\|error' "$D/containerd.log" | tail -n 5)" [ "$out" = ok ]
  [ "$out" = ok ] || return

  if ! "$PYTHON" -c 'import grpc' 2>/dev/null; then
    fail "k8s: CRI client" "$PYTHON cannot import grpc: apt-get install python3-grpcio"
    return
  fi

  build_image "$S/rootfs" "$PAUSE" '["sleep","2147483647"]' "$S/pause.tar"
  run ctr -a "$K8S_SOCK" -n "$K8S_NS" images import "$S/pause.tar"
  run ctr -a "$K8S_SOCK" -n "$K8S_NS" images import "$S/busybox.tar"
  run ctr -a "$K8S_SOCK" -n "$K8S_NS" images ls -q
  want "k8s: pause and busybox images imported into k8s.io" 0 "~$PAUSE" "~$IMG" || return

  local sandbox="" container=""
  OUT=$(timeout -k 5 300 "$PYTHON" "$HERE/k8s/cri.py" "$K8S_SOCK" "$handler" "$IMG" \
    "$K8S_PARENT" "$D/logs" "$S/wrap/k8s/$RT_NAME" 2>&1)
  RC=$?
  while IFS= read -r line; do
    case $line in
      "PASS "*) pass "${line#PASS }" ;;
      "FAIL "*) FAIL_N=$((FAIL_N + 1)); echo "$line" ;;
      "ID sandbox "*) sandbox=${line#ID sandbox } ;;
      "ID container "*) container=${line#ID container } ;;
      *) [ -n "$line" ] && note "cri.py: $line" ;;
    esac
  done <<<"$OUT"
  [ "$RC" = 0 ] || grep -q '^FAIL ' <<<"$OUT" || fail "k8s: cri.py" "exited $RC"

  if [ -n "$sandbox" ] && [ -n "$container" ]; then
    expect "k8s: the shim ran the runtime for the sandbox and the container" \
      "$K8S_LOG lacks 'create' of $sandbox or $container: $(grep -- ' create ' "$K8S_LOG")" \
      sh -c "grep -q -- '--root $K8S_ROOT/$K8S_NS .* create --bundle .* $sandbox\$' '$K8S_LOG' &&
             grep -q -- '--root $K8S_ROOT/$K8S_NS .* create --bundle .* $container\$' '$K8S_LOG'"
    expect "k8s: ExecSync went through the runtime's exec" "no 'exec … $container' in $K8S_LOG" \
      grep -q -- " exec --process .* $container\$" "$K8S_LOG"
  fi
  out=$(runtime_root_leftovers "$K8S_ROOT/$K8S_NS")
  expect "k8s: no runtime state left" "left: $out" [ -z "$out" ]
  out=$(cgroup_left "$CG_K8S")
  expect "k8s: no pod cgroups left" "left: $out" [ -z "$out" ]
}

k8s_cleanup() {
  [ -n "$K8S_PID" ] || return 0
  ctr_purge "$K8S_SOCK" "$K8S_NS"
  containerd_stop "$K8S_PID"
  K8S_PID=
}
