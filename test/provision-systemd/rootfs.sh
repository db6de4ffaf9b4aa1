#!/usr/bin/env bash
# Makes (once per machine) the Debian bookworm rootfs the systemd tier boots: debootstrap's minbase
# with systemd as init, from the Debian mirror this machine's apt sources already use, cached as a
# tarball in .cache/provision-systemd/ (ignored by git). Prints the tarball's path.
#
# usage: test/provision-systemd/rootfs.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

cache=.cache/provision-systemd
tarball="$cache/debian-bookworm-systemd.tar.gz"
packages=systemd,systemd-sysv,dbus,util-linux,procps,e2fsprogs

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [[ -s "$tarball" ]]; then
  printf '%s\n' "$PWD/$tarball"
  exit 0
fi

# The first Debian archive URI of the machine's apt sources (deb822 or one-line format).
mirror="$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{ print $2 }' | grep -v security | head -n 1 || true)"
if [[ -z "$mirror" ]]; then
  mirror="$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{ print $2 }' | grep -v security | head -n 1 || true)"
fi
[[ -n "$mirror" ]] || { echo "rootfs.sh: no Debian mirror in /etc/apt/sources.list{,.d}" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "rootfs.sh: debootstrap is missing (apt-get install -y debootstrap)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "rootfs.sh: debootstrap bookworm from $mirror (once per machine, about a minute)" >&2
debootstrap --variant=minbase --include="$packages" bookworm "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
tar -czf "$tarball.tmp" -C "$work/root" .
mv "$tarball.tmp" "$tarball"
printf '%s\n' "$PWD/$tarball"
