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

@test "default users: ec2-user on Amazon Linux, per cloud on Ubuntu" {
  os_release "Amazon Linux" amzn 2023
  [ "$(default_user_for gcp)" = ec2-user ]
  os_release Ubuntu ubuntu 24.04
  [ "$(default_user_for aws)" = ubuntu ]
  [ "$(default_user_for gcp)" = sourcegraph ]
  [ "$(default_user_for azure)" = azureuser ]
}

@test "version and size validation" {
  valid_version 6.12.5040
  ! valid_version 6.12
  ! valid_version v6.12.5040
  valid_size XL
  ! valid_size XXL
}
