#!/usr/bin/env bats
# provision/system-tuning.sh: sysctl and limits drop-ins, applied once.

load helpers/common

setup() {
  setup_scratch
}

@test "writes the kernel settings and limits Sourcegraph needs and applies them" {
  run "$PROVISION_DIR/system-tuning.sh"

  [ "$status" -eq 0 ]
  grep -qxF 'fs.inotify.max_user_watches=128000' "$SG_ROOT/etc/sysctl.d/90-sourcegraph.conf"
  grep -qxF 'vm.max_map_count=300000' "$SG_ROOT/etc/sysctl.d/90-sourcegraph.conf"
  limits="$SG_ROOT/etc/security/limits.d/90-sourcegraph.conf"
  grep -qE '^\*\s+soft\s+nproc\s+8192$' "$limits"
  grep -qE '^\*\s+hard\s+nproc\s+16384$' "$limits"
  grep -qE '^\*\s+soft\s+nofile\s+262144$' "$limits"
  grep -qE '^\*\s+hard\s+nofile\s+262144$' "$limits"
  assert_call '^sysctl -p /etc/sysctl.d/90-sourcegraph.conf$'
}

@test "a second run changes nothing and does not re-apply" {
  run "$PROVISION_DIR/system-tuning.sh"
  before="$(snapshot_root)"
  reset_stub_log

  run "$PROVISION_DIR/system-tuning.sh"

  [ "$status" -eq 0 ]
  refute_calls '^sysctl'
  [ "$(snapshot_root)" = "$before" ]
}

@test "a drifted sysctl file is put back and re-applied" {
  mkdir -p "$SG_ROOT/etc/sysctl.d"
  printf 'vm.max_map_count=65530\n' >"$SG_ROOT/etc/sysctl.d/90-sourcegraph.conf"

  run "$PROVISION_DIR/system-tuning.sh"

  [ "$status" -eq 0 ]
  ! grep -q 65530 "$SG_ROOT/etc/sysctl.d/90-sourcegraph.conf"
  assert_call '^sysctl -p'
}

@test "an active firewalld trusts the pod and service networks once" {
  printf 'active\n' >"$STUB_STATE/units/firewalld.active"

  run "$PROVISION_DIR/system-tuning.sh"
  run "$PROVISION_DIR/system-tuning.sh"

  [ "$status" -eq 0 ]
  [ "$(grep -c -- '--add-source=10.10.0.0/16' "$STUB_LOG")" -eq 1 ]
  [ "$(grep -c -- '--add-source=10.43.0.0/16' "$STUB_LOG")" -eq 1 ]
  [ "$(grep -c -- '--reload' "$STUB_LOG")" -eq 1 ]
}

@test "no firewalld: no firewall changes" {
  run "$PROVISION_DIR/system-tuning.sh"

  [ "$status" -eq 0 ]
  refute_calls '^firewall-cmd'
}

@test "an active ufw (Ubuntu) lets pods, services and the web in, denies the k3s API, once" {
  touch "$STUB_STATE/ufw.active"

  run "$PROVISION_DIR/system-tuning.sh"

  [ "$status" -eq 0 ]
  assert_call '^ufw allow from 10.10.0.0/16$'
  assert_call '^ufw allow from 10.43.0.0/16$'
  assert_call '^ufw allow 80/tcp$'
  assert_call '^ufw allow 443/tcp$'
  assert_call '^ufw deny 6443/tcp$'
  # The pod network is allowed before 6443 is denied (ufw matches rules in order).
  [ "$(call_line 'allow from 10.10.0.0/16')" -lt "$(call_line 'deny 6443/tcp')" ]
  reset_stub_log

  run "$PROVISION_DIR/system-tuning.sh"

  [ "$status" -eq 0 ]
  refute_calls '^ufw (allow|deny)'
}

@test "an inactive ufw is left alone, as on the published GCE image" {
  run "$PROVISION_DIR/system-tuning.sh"

  [ "$status" -eq 0 ]
  assert_call '^ufw status$'
  refute_calls '^ufw (allow|deny|enable)'
}
