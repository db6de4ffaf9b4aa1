#!/usr/bin/env bats
# provision/lib.sh helpers.

load helpers/common

setup() {
  setup_scratch
  export SG_SCRIPT_NAME=lib-test
  # shellcheck source=../../provision/lib.sh
  source "$PROVISION_DIR/lib.sh"
}

@test "ensure_line never appends the same line twice and fixes a missing final newline" {
  file="$SG_ROOT/etc/example.conf"
  mkdir -p "$(dirname "$file")"
  printf 'first' >"$file"

  ensure_line "$file" 'second line'
  ensure_line "$file" 'second line'
  ensure_line "$file" 'first'

  [ "$(cat "$file")" = "$(printf 'first\nsecond line')" ]
}

@test "write_if_changed reports a change only when the content differs" {
  file="$SG_ROOT/etc/x.conf"

  printf 'a\n' | write_if_changed "$file" 0600
  run write_if_changed "$file" 0600 < <(printf 'a\n')
  [ "$status" -eq 1 ]
  printf 'b\n' | write_if_changed "$file" 0600

  [ "$(cat "$file")" = b ]
  [ "$(stat -c %a "$file")" = 600 ]
  [ -z "$(find "$SG_ROOT/etc" -name '.x.conf.*')" ]
}

@test "write_if_changed corrects the mode of an unchanged file" {
  file="$SG_ROOT/etc/y.conf"
  printf 'a\n' | write_if_changed "$file" 0644
  chmod 0666 "$file"

  printf 'a\n' | write_if_changed "$file" 0644 || true

  [ "$(stat -c %a "$file")" = 644 ]
}

@test "the status file escapes errors into valid JSON" {
  STATUS_STAGE=failed
  STATUS_TARGET_VERSION=6.12.5040
  STATUS_LAST_ERROR="$(printf 'helm said "no"\\ \n\tline two\001')"

  write_status

  "$PYTHON" - "$SG_ROOT/var/lib/sourcegraph-launch/status.json" <<'PY'
import json, sys
status = json.load(open(sys.argv[1]))
assert status["stage"] == "failed"
assert status["decision"] is None
assert status["lastError"] == 'helm said "no"\\ \n\tline two', repr(status["lastError"])
PY
}

@test "logs carry a UTC timestamp and the script name, in the log file and on stderr" {
  run --separate-stderr log "hello"

  [[ "$stderr" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\ \[lib-test\]\ hello$ ]]
  grep -qE 'Z \[lib-test\] hello$' "$SG_ROOT/var/log/sourcegraph-launch/lib-test.log"
}

@test "ensure_symlink replaces an empty directory and refuses one with content" {
  mkdir -p "$SG_ROOT/a" "$SG_ROOT/b/keep"

  ensure_symlink "$SG_ROOT/a" /mnt/data/a
  run ensure_symlink "$SG_ROOT/b" /mnt/data/b

  [ "$(readlink "$SG_ROOT/a")" = /mnt/data/a ]
  [ "$status" -eq 3 ]
  [ -d "$SG_ROOT/b/keep" ]
}

@test "default users: ec2-user on Amazon Linux, ubuntu on AWS Ubuntu, sourcegraph on GCE and Azure" {
  os_release "Amazon Linux" amzn 2023
  [ "$(default_user_for gcp)" = ec2-user ]
  os_release Ubuntu ubuntu 24.04
  [ "$(default_user_for aws)" = ubuntu ]
  [ "$(default_user_for gcp)" = sourcegraph ]
  [ "$(default_user_for azure)" = sourcegraph ]
}

@test "version and size validation" {
  valid_version 6.12.5040
  ! valid_version 6.12
  ! valid_version v6.12.5040
  valid_size XL
  ! valid_size XXL
}

@test "k3s versions: minor, validity, and the newest version found in a datastore" {
  [ "$(k3s_minor v1.35.0+k3s1)" = 35 ]
  [ "$(k3s_minor v1.9.11+k3s2)" = 9 ]
  valid_k3s_version v1.32.7+k3s1
  ! valid_k3s_version 1.32.7
  ! valid_k3s_version v1.32.7
  mkdir -p "$SG_ROOT/mnt/data/db"
  [ -z "$(datastore_k3s_version)" ]
  printf '\x00\x01kubeletVersion\x0av1.30.4+k3s1\x00 v1.31.0+k3s1 noise v1.31.10+k3s2 \x00' >"$SG_ROOT/mnt/data/db/state.db"
  printf 'wal v1.31.12+k3s1' >"$SG_ROOT/mnt/data/db/state.db-wal"
  [ "$(datastore_k3s_version)" = v1.31.12+k3s1 ]
  # The volume's own record wins over the scan.
  mkdir -p "$SG_ROOT/mnt/data/.sourcegraph-launch"
  printf 'v1.33.3+k3s1\n' >"$SG_ROOT/mnt/data/.sourcegraph-launch/k3s-version"
  [ "$(datastore_k3s_version)" = v1.33.3+k3s1 ]
}

@test "volume origin: ours by its record, published by a datastore without one, else new" {
  [ "$(volume_origin)" = new ]
  mkdir -p "$SG_ROOT/mnt/data/db"
  printf 'sqlite' >"$SG_ROOT/mnt/data/db/state.db"
  [ "$(volume_origin)" = published ]
  mkdir -p "$SG_ROOT/mnt/data/.sourcegraph-launch"
  printf 'sourcegraph-launch\n' >"$SG_ROOT/mnt/data/.sourcegraph-launch/origin"
  [ "$(volume_origin)" = sourcegraph-launch ]
}

@test "the pods' resolv.conf takes the cloud's resolvers, never a loopback stub" {
  mkdir -p "$SG_ROOT/etc" "$SG_ROOT/run/systemd/resolve"
  printf 'nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch ec2.internal\n' >"$SG_ROOT/etc/resolv.conf"
  printf 'nameserver 10.0.0.2\nnameserver ::1\nsearch ec2.internal\n' >"$SG_ROOT/run/systemd/resolve/resolv.conf"

  write_k3s_resolv_conf

  conf="$SG_ROOT/etc/rancher/k3s/resolv.conf"
  grep -qx 'nameserver 10.0.0.2' "$conf"
  grep -qx 'search ec2.internal' "$conf"
  ! grep -q '127.0.0.53' "$conf"
  ! grep -q '::1' "$conf"

  # Without systemd-resolved: /etc/resolv.conf's own servers.
  rm -r "$SG_ROOT/run/systemd"
  printf 'nameserver 10.128.0.53\nsearch c.project.internal google.internal\n' >"$SG_ROOT/etc/resolv.conf"
  write_k3s_resolv_conf
  grep -qx 'nameserver 10.128.0.53' "$conf"
}

@test "secret files are written 0600 without a readable window" {
  write_secret_file "$SG_ROOT/a/b/token" s3cret
  [ "$(cat "$SG_ROOT/a/b/token")" = s3cret ]
  [ "$(stat -c %a "$SG_ROOT/a/b/token")" = 600 ]
  [ -z "$(find "$SG_ROOT/a/b" -name '*.tmp.*')" ]
}
