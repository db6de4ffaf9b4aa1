#!/usr/bin/env bats
# provision/seal-image.sh: what must not be shared between instances of an image is removed.

load helpers/common

setup() {
  setup_scratch
  mkdir -p "$SG_ROOT/home/ec2-user/.ssh" "$SG_ROOT/root/.ssh" "$SG_ROOT/etc/ssh" \
    "$SG_ROOT/var/lib/cloud/instances/i-0abc" "$SG_ROOT/var/lib/sourcegraph-launch"
  printf 'ssh-ed25519 AAAA build\n' >"$SG_ROOT/home/ec2-user/.ssh/authorized_keys"
  printf 'ssh-ed25519 AAAA build\n' >"$SG_ROOT/root/.ssh/authorized_keys"
  printf 'key\n' >"$SG_ROOT/etc/ssh/ssh_host_ed25519_key"
  printf 'key\n' >"$SG_ROOT/etc/ssh/ssh_host_ed25519_key.pub"
  printf 'Port 22\n' >"$SG_ROOT/etc/ssh/sshd_config"
  ln -s /var/lib/cloud/instances/i-0abc "$SG_ROOT/var/lib/cloud/instance"
  printf '0123456789abcdef\n' >"$SG_ROOT/etc/machine-id"
  printf '{"stage": "done"}\n' >"$SG_ROOT/var/lib/sourcegraph-launch/status.json"
  printf '6.12.5040\n' >"$SG_ROOT/home/ec2-user/.sourcegraph-version"
  mkdir -p "$SG_ROOT/var/log"
  printf 'x Started Sourcegraph on version 6.12.5040\n' >"$SG_ROOT/var/log/reboot.sh.log"
}

@test "removes build keys, host keys, instance state and the build's status; keeps the rest" {
  run "$PROVISION_DIR/seal-image.sh" --yes

  [ "$status" -eq 0 ]
  [ ! -e "$SG_ROOT/home/ec2-user/.ssh/authorized_keys" ]
  [ ! -e "$SG_ROOT/root/.ssh/authorized_keys" ]
  [ ! -e "$SG_ROOT/etc/ssh/ssh_host_ed25519_key" ]
  [ ! -e "$SG_ROOT/etc/ssh/ssh_host_ed25519_key.pub" ]
  [ ! -e "$SG_ROOT/var/lib/cloud/instances" ] && [ ! -L "$SG_ROOT/var/lib/cloud/instance" ]
  [ ! -e "$SG_ROOT/var/lib/sourcegraph-launch/status.json" ]
  [ ! -e "$SG_ROOT/var/log/reboot.sh.log" ]
  [ -f "$SG_ROOT/etc/machine-id" ] && [ ! -s "$SG_ROOT/etc/machine-id" ]
  [ -f "$SG_ROOT/etc/ssh/sshd_config" ]
  [ "$(cat "$SG_ROOT/home/ec2-user/.sourcegraph-version")" = 6.12.5040 ]
}

@test "a second run changes nothing" {
  run "$PROVISION_DIR/seal-image.sh" --yes
  before="$(snapshot_root)"

  run "$PROVISION_DIR/seal-image.sh" --yes

  [ "$status" -eq 0 ]
  [[ "$output" == *"0 item(s) removed"* ]]
  [ "$(snapshot_root)" = "$before" ]
}

@test "without --yes it refuses and removes nothing" {
  run "$PROVISION_DIR/seal-image.sh"

  [ "$status" -eq 2 ]
  [ -f "$SG_ROOT/home/ec2-user/.ssh/authorized_keys" ]
}
