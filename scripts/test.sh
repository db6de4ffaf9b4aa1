#!/usr/bin/env bash
# The project's one test command (`npm test`). Runs every tier: typecheck, unit, the AWS adapter
# against moto, SSH/HTTP against real test hosts, the real CLI end to end, and the provision/
# scripts (shellcheck + bats: stubbed system commands, real loop-device disks, a real systemd in a
# namespace). A missing component fails the run: no tier is skipped quietly.
# Everything after the checks runs inside a fresh network namespace, so no test can reach anything
# but loopback and the test hosts it creates there.
set -euo pipefail
cd "$(dirname "$0")/.."

export AWS_EC2_METADATA_DISABLED=true
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=http://127.0.0.1:9
export METADATA_SERVER_DETECTION=none
unset AWS_PROFILE AWS_SESSION_TOKEN

if [ -z "${SGL_TEST_NETNS:-}" ]; then
  missing=()
  python3 -c 'import moto.server' 2>/dev/null || missing+=("moto (python3 -m pip install 'moto[server]==5.2.1')")
  [ -x /usr/sbin/sshd ] || missing+=("openssh-server (apt-get install -y openssh-server)")
  command -v shellcheck >/dev/null || missing+=("shellcheck (apt-get install -y shellcheck)")
  command -v bats >/dev/null || missing+=("bats (apt-get install -y bats)")
  command -v unshare >/dev/null || missing+=("unshare (util-linux)")
  command -v ip >/dev/null || missing+=("ip (apt-get install -y iproute2)")
  # The real-disk and systemd tiers (test/provision-disks, test/provision-systemd) run as root.
  [ "$(id -u)" = 0 ] || missing+=("root (the real-disk and systemd tiers attach loop devices and boot systemd in namespaces)")
  command -v losetup >/dev/null || missing+=("losetup (apt-get install -y util-linux)")
  command -v nsenter >/dev/null || missing+=("nsenter (apt-get install -y util-linux)")
  command -v mkfs.xfs >/dev/null || missing+=("mkfs.xfs (apt-get install -y xfsprogs)")
  command -v mkfs.ext4 >/dev/null || missing+=("mkfs.ext4 (apt-get install -y e2fsprogs)")
  command -v sfdisk >/dev/null || missing+=("sfdisk (apt-get install -y fdisk)")
  command -v debootstrap >/dev/null || missing+=("debootstrap (apt-get install -y debootstrap)")
  if [ ${#missing[@]} -gt 0 ]; then
    echo "npm test: missing test components (no tier is skipped):" >&2
    printf '  - %s\n' "${missing[@]}" >&2
    exit 1
  fi
  # The systemd tier boots a Debian rootfs made with debootstrap; that needs the network, so it is
  # made here, before the network namespace, and cached (once per machine, ~1 min).
  if [ $# -eq 0 ]; then
    bash test/provision-systemd/rootfs.sh >/dev/null
  fi
  # Node 22 and 24 for the packed package's test (from the npm registry, before the namespace cuts it off).
  bash scripts/test-nodes.sh
  npm run --silent build
  npx tsc --noEmit
  echo "== shellcheck provision/ and scripts" >&2
  mapfile -t shell_files < <(git ls-files -co --exclude-standard 'provision/*' 'scripts/*.sh' '.ci/run' 'test/**/*.sh' | grep -E '(\.sh$|^\.ci/run$|^provision/[^.]+$)' || true)
  if [ ${#shell_files[@]} -gt 0 ]; then shellcheck -x "${shell_files[@]}"; fi
  # Root gets a plain new network namespace; anyone else gets one inside a user namespace.
  if [ "$(id -u)" = 0 ]; then
    exec unshare --net env SGL_TEST_NETNS=1 bash "$0" "$@"
  else
    exec unshare --user --map-root-user --net --mount env SGL_TEST_NETNS=1 SGL_TEST_PRIVATE_RUN=1 bash "$0" "$@"
  fi
fi

ip link set lo up
if [ -n "${SGL_TEST_PRIVATE_RUN:-}" ]; then mount -t tmpfs tmpfs /run; fi
mkdir -p /run/sshd && chmod 0755 /run/sshd

results=$(mktemp -d)
echo "== vitest" >&2
vitest_rc=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$results/vitest.json" "$@" || vitest_rc=$?
bats_rc=0
if [ $# -eq 0 ]; then
  echo "== bats test/provision test/provision-disks test/provision-systemd" >&2
  bats --tap test/provision test/provision-disks test/provision-systemd | tee "$results/bats.tap" || bats_rc=$?
fi

# One plain closing line for every tier together.
summary_rc=0
if [ $# -eq 0 ]; then
  node scripts/test-summary.mjs "$results" --no-skips || summary_rc=$?
else
  node scripts/test-summary.mjs "$results" || summary_rc=$?
fi
rm -rf "$results"
[ "$vitest_rc" = 0 ] && [ "$bats_rc" = 0 ] && [ "$summary_rc" = 0 ]
