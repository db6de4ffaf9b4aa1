#!/usr/bin/env bats
# provision/k3s-stop-all.sh on a described machine (a scratch /proc, cgroup tree and mountinfo):
# k3s stopped, pod and shim processes killed, pod mounts unmounted deepest first, nothing else.

load helpers/common

setup() {
  setup_scratch
}

# process PID COMM CGROUP [CMDLINE]
process() {
  mkdir -p "$SG_PROC_ROOT/$1"
  printf '%s\n' "$2" >"$SG_PROC_ROOT/$1/comm"
  printf '0::%s\n' "$3" >"$SG_PROC_ROOT/$1/cgroup"
  printf '%s' "${4:-$2}" | tr ' ' '\0' >"$SG_PROC_ROOT/$1/cmdline"
}

# mountinfo line for a mount point
mount_at() {
  printf '36 35 0:%s / %s rw,relatime - tmpfs tmpfs rw\n' "$RANDOM" "$1" >>"$SG_MOUNTINFO"
}

@test "stops k3s, kills pods and k3s shims, unmounts pod and container mounts deepest first" {
  k3s_state active
  process 100 sshd /system.slice/ssh.service
  process 200 postgres /kubepods/burstable/pod1/abc
  process 201 frontend /kubepods.slice/kubepods-burstable.slice/x.scope
  process 300 containerd-shim-runc-v2 /system.slice/k3s.service "/var/lib/rancher/k3s/data/x/bin/containerd-shim-runc-v2 -namespace k8s.io -address /run/k3s/containerd/containerd.sock"
  process 400 containerd-shim-runc-v2 /system.slice/docker.service "/usr/bin/containerd-shim-runc-v2 -address /run/containerd/containerd.sock"
  mkdir -p "$SG_CGROUP_ROOT/kubepods"
  : >"$SG_CGROUP_ROOT/kubepods/cgroup.kill"
  mount_at "$SG_ROOT/mnt/data"
  mount_at "$SG_ROOT/var/lib/kubelet"
  mount_at "$SG_ROOT/var/lib/kubelet/pods/uid-1/volumes/kubernetes.io~projected/kube-api-access"
  mount_at "$SG_ROOT/run/k3s/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs"
  mount_at "$SG_ROOT/run/k3s/containerd/io.containerd.grpc.v1.cri/sandboxes/abc/shm"
  mount_at "$SG_ROOT/run/netns/cni-1234"
  mount_at "$SG_ROOT/run/k3s"

  run "$PROVISION_DIR/k3s-stop-all.sh"

  [ "$status" -eq 0 ]
  assert_call '^systemctl stop k3s$'
  assert_call '^kill -KILL 200 201 300$'
  [ "$(cat "$SG_CGROUP_ROOT/kubepods/cgroup.kill")" = 1 ]
  # The data disk and the kubelet bind mount stay; everything below the pods goes, deepest first.
  refute_calls "^umount -l $SG_ROOT/mnt/data\$"
  refute_calls "^umount -l $SG_ROOT/var/lib/kubelet\$"
  assert_call "^umount -l $SG_ROOT/var/lib/kubelet/pods/uid-1/volumes/kubernetes.io~projected/kube-api-access\$"
  assert_call "^umount -l $SG_ROOT/run/netns/cni-1234\$"
  [ "$(call_line "umount -l $SG_ROOT/run/k3s/containerd/io.containerd.runtime.v2.task")" -lt "$(call_line "umount -l $SG_ROOT/run/k3s/containerd/io.containerd.grpc")" ]
  [ "$(grep -c '^umount ' "$STUB_LOG")" -eq 4 ]
}

@test "nothing running: only checks" {
  k3s_state inactive

  run "$PROVISION_DIR/k3s-stop-all.sh"

  [ "$status" -eq 0 ]
  refute_calls '^(kill|umount|systemctl stop)'
}
