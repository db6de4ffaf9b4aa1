#!/usr/bin/env bash
# Stops k3s and everything it started. `systemctl stop k3s` alone leaves the pods running
# (KillMode=process keeps them up across k3s restarts, on purpose); before an image is sealed
# their processes must end and their mounts (service account tokens, secrets on tmpfs, container
# root filesystems, network namespaces) must go, so that nothing of the build is left running or
# mounted while its state is removed.
#   1. stop k3s.service;
#   2. kill every process in a pod's cgroup (kubepods*) and every containerd shim of k3s;
#   3. unmount, deepest first, everything mounted below the kubelet's pod and plugin directories,
#      /run/k3s and /run/netns/cni-*.
# The data disk itself and the /var/lib/kubelet bind mount stay mounted.
#
# usage: k3s-stop-all.sh
# env:   SG_PROC_ROOT (default /proc), SG_CGROUP_ROOT (default /sys/fs/cgroup), SG_MOUNTINFO
#        (default /proc/self/mountinfo): what is looked at, so the tests can describe a machine.
set -euo pipefail

SG_SCRIPT_NAME="k3s-stop-all"
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 0 ]] || usage_error "k3s-stop-all.sh takes no arguments"

proc_root="${SG_PROC_ROOT:-/proc}"
cgroup_root="${SG_CGROUP_ROOT:-/sys/fs/cgroup}"
mountinfo="${SG_MOUNTINFO:-/proc/self/mountinfo}"

if systemctl is-active --quiet k3s 2>/dev/null; then
  systemctl stop k3s
  log "stopped k3s"
fi

# Pods' processes, found by their cgroup (the kubelet puts every pod under kubepods, with the
# cgroupfs and the systemd driver alike), and k3s's containerd shims.
victims=()
shopt -s nullglob
for dir in "$proc_root"/[0-9]*; do
  pid="${dir##*/}"
  [[ "$pid" =~ ^[0-9]+$ ]] || continue
  if grep -qE 'kubepods' "$dir/cgroup" 2>/dev/null; then
    victims+=("$pid")
  elif [[ "$(cat "$dir/comm" 2>/dev/null)" == containerd-shim* ]] && tr '\0' ' ' <"$dir/cmdline" 2>/dev/null | grep -q '/run/k3s/containerd'; then
    victims+=("$pid")
  fi
done
shopt -u nullglob
if [[ ${#victims[@]} -gt 0 ]]; then
  # The external kill: the builtin cannot be replaced by the tests' stub.
  env kill -KILL "${victims[@]}" 2>/dev/null || true
  log "killed ${#victims[@]} pod and shim process(es)"
fi
# cgroup v2 can end a whole subtree at once, including anything forked meanwhile.
for kill_file in "$cgroup_root"/kubepods*/cgroup.kill; do
  [[ -f "$kill_file" ]] || continue
  printf '1\n' >"$kill_file" 2>/dev/null || true
done

# Mount points are the fifth field of mountinfo, with spaces escaped as \040.
prefixes=(
  "$SG_ROOT/var/lib/kubelet/pods/" "$SG_ROOT/var/lib/kubelet/plugins/" "$SG_ROOT/mnt/data/kubelet/pods/"
  "$SG_ROOT/mnt/data/kubelet/plugins/" "$SG_ROOT/run/k3s/" "$SG_ROOT/run/netns/cni-"
)
targets=()
if [[ -r "$mountinfo" ]]; then
  while IFS= read -r target; do
    target="${target//\\040/ }"
    for prefix in "${prefixes[@]}"; do
      if [[ "$target" == "$prefix"* ]]; then
        targets+=("$target")
        break
      fi
    done
  done < <(awk '{ print $5 }' "$mountinfo")
fi
if [[ ${#targets[@]} -gt 0 ]]; then
  # Deepest first, so a mount is never hidden under one unmounted before it.
  while IFS= read -r target; do
    umount -l "$target" 2>/dev/null || log "WARNING: could not unmount $target"
  done < <(printf '%s\n' "${targets[@]}" | awk '{ print length($0) "\t" $0 }' | sort -rn | cut -f2-)
  log "unmounted ${#targets[@]} pod, container and network namespace mount(s)"
fi

log "k3s and its pods are stopped"
