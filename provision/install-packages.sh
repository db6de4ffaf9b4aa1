#!/usr/bin/env bash
# Installs the few OS packages the provision scripts need and a cloud image may lack, with the
# distribution's own package manager: dnf on Amazon Linux 2023, apt-get on Ubuntu 24.04. Nothing
# is installed when every command is already there (the second run changes nothing).
#   curl, tar, ca-certificates    downloads of the pinned k3s and Helm
#   util-linux                    blkid, lsblk, wipefs, findmnt, mountpoint, flock
#   xfsprogs (aws) / e2fsprogs    mkfs for the data disk (XFS on AWS, ext4 on GCE and Azure)
#
# usage: install-packages.sh --cloud aws|gcp|azure
set -euo pipefail

SG_SCRIPT_NAME=install-packages
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cloud=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cloud)
      [[ $# -ge 2 ]] || usage_error "--cloud needs a value"
      cloud="$2"
      shift 2
      ;;
    *) usage_error "unknown argument: $1" ;;
  esac
done
valid_cloud "$cloud" || usage_error "--cloud must be aws, gcp or azure"

# command=package, the same package names on both distributions.
wanted=(curl=curl tar=tar blkid=util-linux lsblk=util-linux wipefs=util-linux findmnt=util-linux mountpoint=util-linux flock=util-linux)
if [[ "$cloud" == aws ]]; then
  wanted+=(mkfs.xfs=xfsprogs)
else
  wanted+=(mkfs.ext4=e2fsprogs)
fi

missing=()
for pair in "${wanted[@]}"; do
  command -v "${pair%%=*}" >/dev/null 2>&1 && continue
  package="${pair#*=}"
  [[ " ${missing[*]} " == *" $package "* ]] || missing+=("$package")
done
if [[ ! -s "$SG_ROOT/etc/ssl/certs/ca-certificates.crt" && ! -s "$SG_ROOT/etc/pki/tls/certs/ca-bundle.crt" ]]; then
  missing+=(ca-certificates)
fi
if [[ ${#missing[@]} -eq 0 ]]; then
  log "every package needed is installed"
  exit 0
fi

os_id="$(os_release_field ID)"
log "installing ${missing[*]} (${os_id:-unknown OS})"
case "$os_id" in
  amzn | fedora | rhel | centos | rocky | almalinux) dnf install -y -q "${missing[@]}" ;;
  ubuntu | debian)
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    ;;
  *) die "cannot install ${missing[*]} on ${os_id:-an unknown OS}: install them and run again" ;;
esac
log "installed ${missing[*]}"
