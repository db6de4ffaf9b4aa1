# shellcheck shell=bash
# Shared by the test host's stub commands. The state lives outside the instance's file system:
#   $TEST_HOST_STATE/<counter>   how many more probe calls answer "not yet"
#   $TEST_HOST_STATE/version     the version the running "image" installs
#   $TEST_HOST_FS                what the SSH session sees as / for /home, /mnt and /var/log
set -euo pipefail

: "${TEST_HOST_STATE:?TEST_HOST_STATE is not set (set by the sshd of the test host)}"
: "${TEST_HOST_FS:?TEST_HOST_FS is not set (set by the sshd of the test host)}"

boot_log() {
  printf '%s %s\n' "$(date -u '+%Y-%m-%dT%H:%M:%SZ')" "$*" >> "$TEST_HOST_FS/var/log/reboot.sh.log"
}

# Prints "pending" and counts down while <counter> is above zero, then prints "finished".
take_step() {
  local file="$TEST_HOST_STATE/$1" left
  left=$(cat "$file" 2>/dev/null || echo 0)
  if [ "$left" -gt 0 ]; then
    echo $((left - 1)) > "$file"
    echo pending
  else
    echo finished
  fi
}

# What reboot.sh does once k3s is up: Helm installs the image's version, then both version files
# are written and the log says so. Runs once per boot.
finish_boot() {
  [ -e "$TEST_HOST_STATE/boot-finished" ] && return 0
  local version
  version=$(cat "$TEST_HOST_STATE/version")
  boot_log "k3s node sourcegraph-0 is Ready"
  boot_log "Running helm upgrade --install sourcegraph --version $version"
  printf '%s\n' "$version" > "$TEST_HOST_FS/home/ec2-user/.sourcegraph-version"
  printf '%s\n' "$version" > "$TEST_HOST_FS/mnt/data/.sourcegraph-version"
  boot_log "Started Sourcegraph on version $version"
  touch "$TEST_HOST_STATE/boot-finished"
}

unsupported() {
  echo "test host stub $(basename "$0"): unsupported arguments: $*" >&2
  exit 1
}
