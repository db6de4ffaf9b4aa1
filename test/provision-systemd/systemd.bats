#!/usr/bin/env bats
# The boot unit under a real systemd (252, Debian bookworm) as PID 1 in namespaces of its own: its
# ordering after the data disk and k3s, one run per boot, a reboot, and a reboot with the data
# disk swapped for a published image's, whose datastore is walked up one k3s minor at a time
# through k3s.service with k3s-prestart.sh checking every step. The tests run in order as the
# life of one machine.

load systemd

setup_file() {
  require_systemd_tools
  export MACHINE_ROOT="$BATS_FILE_TMPDIR/root"
  make_machine "$MACHINE_ROOT" 6.12.5040
  # Disk A: the data disk of a freshly launched image of ours ("<v>-base", nothing else).
  new_data_disk DISK_A ours
  fill_disk "$DISK_A" 'mkdir -p $MNT/db $MNT/storage $MNT/kubelet && printf "6.12.5040-base\n" >$MNT/.sourcegraph-version && umount $MNT'
  # Disk B: exactly as a published 6.11 image leaves its data volume, datastore last run by k3s v1.31.
  new_data_disk DISK_B published
  fill_disk "$DISK_B" 'mkdir -p $MNT/db $MNT/storage/pvc-1 $MNT/kubelet && printf "SQLite format 3 kubeletVersion v1.31.0+k3s1" >$MNT/db/state.db && printf "6.11.6000\n" >$MNT/.sourcegraph-version && umount $MNT'
  export DISK_A DISK_B
}

teardown_file() {
  shutdown_machine || true
  detach_disks
}

teardown() {
  shutdown_machine
}

decisions() {
  grep -c 'decision:' "$MACHINE_ROOT/var/log/sourcegraph-launch/boot.log"
}

@test "first boot: systemd is running with no failed unit; the boot unit ran after the data disk and decided first-boot" {
  boot_machine "$MACHINE_ROOT" "$DISK_A"

  [ "$(machine systemctl is-system-running)" = running ]
  [ -z "$(machine systemctl --failed --no-legend)" ]
  [ "$(machine systemctl is-active sourcegraph-boot.service)" = active ]
  [ "$(machine_status stage)" = done ]
  [ "$(machine_status decision)" = first-boot ]
  [ "$(machine_status volumeOrigin)" = sourcegraph-launch ]
  # The installed grow-data-disk.sh ran under the unit and measured the data disk. (This container has
  # no /dev/loopN node, so resize2fs cannot open the device: the boot logs that and goes on, and the
  # disk's own size is reported as null; the growth itself is tested in test/provision-disks.)
  "$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1]))["dataDisk"]; assert d["filesystem"] == "ext4" and 0 < d["sizeBytes"] <= 64 << 20 and 0 <= d["usedPercent"] <= 100 and d["grown"] is False, d' \
    "$MACHINE_ROOT/var/lib/sourcegraph-launch/status.json"
  # Ordering: the boot unit started once /mnt/data was mounted.
  mount_at="$(unit_time mnt-data.mount ActiveEnterTimestampMonotonic)"
  boot_at="$(unit_time sourcegraph-boot.service ExecMainStartTimestampMonotonic)"
  [ "$mount_at" -gt 0 ] && [ "$boot_at" -gt "$mount_at" ]
  # k3s was disabled in the image; the boot unit enabled and started it, through k3s-prestart.sh.
  [ "$(machine systemctl is-enabled k3s.service)" = enabled ]
  [ "$(machine systemctl is-active k3s.service)" = active ]
  grep -q "k3s $K3S_VERSION may start (datastore: new)" "$MACHINE_ROOT/var/log/sourcegraph-launch/k3s-prestart.log"
  [[ "$(machine cat /mnt/data/.sourcegraph-launch/k3s-token)" =~ ^[0-9a-f]{64}$ ]]
  [ "$(machine cat /mnt/data/.sourcegraph-version)" = 6.12.5040 ]
}

@test "the boot unit runs once per boot: starting it again does nothing" {
  boot_machine "$MACHINE_ROOT" "$DISK_A"
  runs="$(decisions)"

  machine systemctl start sourcegraph-boot.service

  [ "$(decisions)" -eq "$runs" ]
  [ "$(machine systemctl is-active sourcegraph-boot.service)" = active ]
  [ "$(machine systemctl show -P NRestarts sourcegraph-boot.service)" = 0 ]
}

@test "a reboot: systemd starts k3s first, the boot unit waits for it, sees the versions equal and only restarts it" {
  resets_before="$(grep -c 'reset k3s credentials' "$MACHINE_ROOT/var/log/sourcegraph-launch/boot.log")"
  runs="$(decisions)"

  boot_machine "$MACHINE_ROOT" "$DISK_A"

  [ "$(decisions)" -eq $((runs + 1)) ]
  [ "$(machine_status decision)" = unchanged ]
  [ "$(machine_status stage)" = done ]
  # "unchanged" is only decided with k3s active: systemd had started it (enabled since the first
  # boot) and the boot unit, ordered after it, found it running.
  after="$(machine systemctl show -P After sourcegraph-boot.service)"
  [[ " $after " == *" k3s.service "* && " $after " == *" mnt-data.mount "* && " $after " == *" var-lib-kubelet.mount "* ]]
  machine journalctl -b -u k3s.service --no-pager | grep -q 'Started k3s.service'
  [ "$(grep -c 'reset k3s credentials' "$MACHINE_ROOT/var/log/sourcegraph-launch/boot.log")" -eq "$resets_before" ]
  [ -z "$(machine systemctl --failed --no-legend)" ]
}

@test "a reboot with the data disk swapped for a published image's: token none, the datastore walked under k3s.service, upgraded" {
  starts_before="$(wc -l <"$MACHINE_ROOT/var/log/fake-k3s.log")"

  boot_machine "$MACHINE_ROOT" "$DISK_B"

  [ "$(machine_status stage)" = done ]
  [ "$(machine_status decision)" = upgrade ]
  [ "$(machine_status volumeOrigin)" = published ]
  [ "$(machine cat /mnt/data/.sourcegraph-launch/k3s-token)" = none ]
  [ "$(machine cat /mnt/data/.sourcegraph-launch/k3s-version)" = "$K3S_VERSION" ]
  # systemd's own start of k3s at boot was refused by the prestart check (the volume was not
  # adopted yet: no token), and each release of the walk then ran, in order, before the pinned one.
  grep -q "refusing to start k3s: the data volume has no k3s token" "$MACHINE_ROOT/var/log/sourcegraph-launch/k3s-prestart.log"
  started="$(tail -n +"$((starts_before + 1))" "$MACHINE_ROOT/var/log/fake-k3s.log" | awk '{ print $2 }' | uniq | tr '\n' ' ')"
  [ "$started" = "$(printf '%s ' $K3S_WALK_VERSIONS "$K3S_VERSION")" ]
  # The walk's drop-in is gone; the unit runs the pinned k3s again.
  [ ! -e "$MACHINE_ROOT/run/systemd/system/k3s.service.d/50-sourcegraph-walk.conf" ]
  [ "$(machine systemctl show -P ExecStart k3s.service | grep -o '/usr/local/bin/k3s server' | head -n 1)" = "/usr/local/bin/k3s server" ]
  [ "$(machine cat /mnt/data/.sourcegraph-version)" = 6.12.5040 ]
  machine test -d /mnt/data/storage/pvc-1
  [ "$(machine systemctl is-active k3s.service)" = active ]
  [ -z "$(machine systemctl --failed --no-legend)" ]
}
