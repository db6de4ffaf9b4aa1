#!/usr/bin/env bash
# Runs inside `unshare --cgroup --fork --pid --mount --uts --ipc --net`: makes ROOT a machine of its
# own (its /proc, read-only /sys and /proc/sys, its cgroup subtree, a /dev with only the basic
# nodes so no disk of the host is visible, the data disk DEVICE mounted on /mnt/data) and boots
# systemd in it as PID 1.
#
# usage: container.sh ROOT DEVICE
set -euo pipefail
root="$1" device="$2"
mount --make-rprivate /
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
# Kernel settings are the host's: nothing in the container may change them.
mount --bind "$root/proc/sys" "$root/proc/sys"
mount -o remount,bind,ro "$root/proc/sys"
mount -t sysfs -o ro sys "$root/sys"
mount -t cgroup2 none "$root/sys/fs/cgroup"
mount -t tmpfs tmpfs "$root/run"
mount -t tmpfs -o mode=0755,nosuid tmpfs "$root/dev"
for node in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0 ptmx:5:2; do
  IFS=: read -r name major minor <<<"$node"
  mknod -m 0666 "$root/dev/$name" c "$major" "$minor"
done
mkdir -p "$root/dev/pts" "$root/dev/shm" "$root/mnt/data"
mount "$device" "$root/mnt/data"
hostname sourcegraph-test
exec chroot "$root" /usr/bin/env container=sourcegraph-launch-test /lib/systemd/systemd --system
