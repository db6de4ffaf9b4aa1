#!/usr/bin/env bats
# Static checks of every provision script and test helper.

load helpers/common

@test "shellcheck passes on every script, with sourced files followed" {
  cd "$BATS_TEST_DIRNAME/../.."
  shopt -s globstar nullglob
  run shellcheck -x provision/*.sh provision/**/*.sh test/provision/helpers/* test/provision-disks/*.bash \
    test/provision-systemd/*.bash test/provision-systemd/*.sh test/provision-systemd/fake-kubectl test/provision-systemd/fake-helm
  if [ "$status" -ne 0 ]; then
    printf '%s\n' "$output" >&2
  fi
  [ "$status" -eq 0 ]
}

@test "every script runs with set -euo pipefail and is executable" {
  for script in "$PROVISION_DIR"/*.sh; do
    [ "$(basename "$script")" = lib.sh ] && continue
    [ -x "$script" ] || { echo "not executable: $script" >&2; return 1; }
    grep -qE '^set -E?euo pipefail$' "$script" || { echo "no set -euo pipefail: $script" >&2; return 1; }
  done
}

@test "no script appends to a system file blindly" {
  # Appends are only allowed to logs, the lock file and inside ensure_line; everything else goes
  # through write_if_changed.
  hits="$(grep -nE '>>' "$PROVISION_DIR"/*.sh | grep -vE 'LOG_FILE|reboot_log|boot\.lock|/lib\.sh:[0-9]+: .*>>"\$file"' || true)"
  [ -z "$hits" ] || { echo "$hits" >&2; return 1; }
}

@test "the boot unit is a oneshot that stays active and runs the installed boot.sh" {
  unit="$PROVISION_DIR/sourcegraph-boot.service"
  grep -qxF 'Type=oneshot' "$unit"
  grep -qxF 'RemainAfterExit=yes' "$unit"
  grep -qxF 'ExecStart=/opt/sourcegraph-launch/provision/boot.sh' "$unit"
  grep -qE '^After=.*network-online.target.*local-fs.target' "$unit"
  grep -qxF 'WantedBy=multi-user.target' "$unit"
}
