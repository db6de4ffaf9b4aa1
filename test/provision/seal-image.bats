#!/usr/bin/env bats
# provision/seal-image.sh: nothing secret or specific to one machine survives into the image.
# The first test is the list of what an image may contain: a build (with its prewarm) plus what a
# real k3s and the build VM leave behind, sealed, must contain nothing else.

load helpers/common

setup() {
  setup_scratch
}

# What a real k3s run, the cloud and the build VM leave on the disks, beyond what the stubs make.
leave_machine_state() {
  local k3s="$SG_ROOT/var/lib/rancher/k3s" item
  for item in server/cred/passwd server/cred/ipsec.psk server/tls/server-ca.key server/tls/client-ca.crt \
    server/token server/node-token server/agent-token server/manifests/coredns.yaml server/static/charts/traefik.tgz \
    agent/client-kubelet.key agent/serving-kubelet.crt agent/kubelet.kubeconfig agent/server-ca.crt \
    agent/pod-manifests/x.yaml agent/etc/containerd/config.toml agent/images/airgap.tar \
    agent/containerd/io.containerd.content.v1.content/blobs/sha256/abc data/abc/bin/containerd; do
    mkdir -p "$(dirname "$k3s/$item")"
    printf 'secret-or-state\n' >"$k3s/$item"
  done
  mkdir -p "$SG_ROOT/etc/rancher/node" "$SG_ROOT/home/ec2-user/.ssh" "$SG_ROOT/home/ec2-user/.kube" "$SG_ROOT/root/.ssh" \
    "$SG_ROOT/etc/ssh" "$SG_ROOT/var/lib/cloud/instances/i-0abc" "$SG_ROOT/mnt/data/storage/pvc-1" \
    "$SG_ROOT/mnt/data/kubelet/pods/uid-1/volumes" "$SG_ROOT/mnt/data/lost+found"
  printf 'apiVersion: v1\nusers:\n- user:\n    client-key-data: abc\n' >"$SG_ROOT/etc/rancher/k3s/k3s.yaml"
  printf 'node-password\n' >"$SG_ROOT/etc/rancher/node/password"
  printf 'SQLite format 3 ... CA keys, bootstrap data\n' >"$SG_ROOT/mnt/data/db/state.db"
  printf 'wal\n' >"$SG_ROOT/mnt/data/db/state.db-wal"
  printf 'pg data with the site id\n' >"$SG_ROOT/mnt/data/storage/pvc-1/PG_VERSION"
  printf 'token\n' >"$SG_ROOT/mnt/data/kubelet/pods/uid-1/volumes/token"
  printf 'executor:\n  frontendPassword: "x"\n' >"$SG_ROOT/mnt/data/.sourcegraph-launch/executor-values.yaml"
  printf 'ssh-ed25519 AAAA build\n' >"$SG_ROOT/home/ec2-user/.ssh/authorized_keys"
  printf 'ssh-ed25519 AAAA build\n' >"$SG_ROOT/root/.ssh/authorized_keys"
  printf 'kubeconfig\n' >"$SG_ROOT/home/ec2-user/.kube/config"
  printf 'history\n' >"$SG_ROOT/root/.bash_history"
  printf 'key\n' >"$SG_ROOT/etc/ssh/ssh_host_ed25519_key"
  printf 'key\n' >"$SG_ROOT/etc/ssh/ssh_host_ed25519_key.pub"
  printf 'Port 22\n' >"$SG_ROOT/etc/ssh/sshd_config"
  ln -s /var/lib/cloud/instances/i-0abc "$SG_ROOT/var/lib/cloud/instance"
  printf '0123456789abcdef\n' >"$SG_ROOT/etc/machine-id"
  mkdir -p "$SG_ROOT/var/log"
  printf 'x Started Sourcegraph on version 6.12.5040\n' >"$SG_ROOT/var/log/reboot.sh.log"
  printf '{"stage": "done"}\n' >"$SG_ROOT/var/lib/sourcegraph-launch/status.json"
  printf 'v-1\n' >"$SG_ROOT/var/lib/sourcegraph-launch/k3s-credentials-volume"
  mkdir -p "$SG_ROOT/var/lib/sourcegraph-launch/run-agent"
  printf '0a1b2c3d4e5f\n' >"$SG_ROOT/var/lib/sourcegraph-launch/run-agent/last-id"
  printf 'nameserver 10.0.0.2\n' >"$SG_ROOT/etc/rancher/k3s/resolv.conf"
}

@test "an image contains only what every deployment may share" {
  make_tool_fixtures
  make_chart_fixtures 6.12.5040
  os_release "Amazon Linux" amzn 2023
  printf 'UUID=1234 / xfs defaults 1 1\n' >"$SG_ROOT/etc/fstab"
  printf 'root:x:0:0::/root:/bin/bash\nec2-user:x:1000:1000::/home/ec2-user:/bin/bash\n' >"$SG_ROOT/etc/passwd"
  disks_aws_nitro
  sdb_is nvme1n1
  run "$PROVISION_DIR/build.sh" --version 6.12.5040 --size XS --cloud aws
  [ "$status" -eq 0 ]
  leave_machine_state
  reset_stub_log

  run "$PROVISION_DIR/seal-image.sh" --yes

  [ "$status" -eq 0 ]
  # Every path left must match one line of this list.
  allowed=(
    '\./dev(/sdb)?'
    '\./etc(/(fstab|os-release|passwd|machine-id|ssl|ssl/certs|ssl/certs/ca-certificates\.crt))?'
    '\./etc/ssh(/sshd_config)?'
    '\./etc/rancher(/k3s(/config\.yaml)?)?'
    '\./etc/sourcegraph-launch(/image\.env)?'
    '\./etc/(sysctl\.d|security|security/limits\.d)(/90-sourcegraph\.conf)?'
    '\./etc/systemd(/system(/(k3s|sourcegraph-boot|sourcegraph-run-agent)\.service)?)?'
    '\./home(/ec2-user(/\.ssh|/\.sourcegraph-version|/\.sourcegraph-size)?)?'
    '\./root(/\.ssh)?'
    '\./mnt(/data(/(\.sourcegraph-version|db|storage|kubelet|lost\+found))?)?'
    '\./opt(/sourcegraph-launch(/provision(/manifests)?)?)?'
    '\./opt/sourcegraph-launch/provision/[A-Za-z0-9-]+\.(sh|env|sha256|service|md)'
    '\./opt/sourcegraph-launch/provision/manifests/[a-z-]+\.yaml'
    '\./usr(/local(/bin(/(k3s|helm|kubectl|crictl|ctr))?)?)?'
    '\./var(/lib(/kubelet|/cloud)?)?'
    '\./var/lib/rancher(/k3s(/server(/db)?|/storage|/agent(/containerd.*|/images.*)?|/data.*)?)?'
    '\./var/lib/sourcegraph-launch(/charts(/[a-z0-9-]+-6\.12\.5040\.tgz)?|/values(/(common|XS|S|M|L|XL)\.yaml)?|/k3s(/v[0-9.+k3s]+(/k3s)?)?)?'
    '\./var/log(/sourcegraph-launch(/(build|seal-image|k3s-stop-all)\.log)?)?'
  )
  pattern="^($(IFS='|'; printf '%s' "${allowed[*]}"))\$"
  unexpected="$(cd "$SG_ROOT" && find . -mindepth 1 | LC_ALL=C sort | grep -vE "$pattern" || true)"
  [ -z "$unexpected" ] || { printf 'not allowed in an image:\n%s\n' "$unexpected" >&2; return 1; }
  # What stays, stays as it should.
  [ "$(data_version)" = 6.12.5040-base ]
  [ -z "$(find "$SG_ROOT/mnt/data/db" "$SG_ROOT/mnt/data/storage" "$SG_ROOT/mnt/data/kubelet" -mindepth 1)" ]
  [ "$(readlink "$SG_ROOT/var/lib/rancher/k3s/server/db")" = /mnt/data/db ]
  [ -f "$SG_ROOT/var/lib/rancher/k3s/agent/containerd/io.containerd.content.v1.content/blobs/sha256/abc" ]
  [ -f "$SG_ROOT/etc/machine-id" ] && [ ! -s "$SG_ROOT/etc/machine-id" ]
  [ -f "$SG_ROOT/etc/ssh/sshd_config" ]
  [ "$(cat "$SG_ROOT/home/ec2-user/.sourcegraph-version")" = 6.12.5040 ]
  # k3s and its pods were stopped (k3s-stop-all.sh) before anything was removed.
  assert_call '^systemctl is-active --quiet k3s$'
  [[ "$output" == *"k3s and its pods are stopped"*"removed /mnt/data/db/state.db"* ]]
}

@test "a second run changes nothing" {
  mkdir -p "$SG_ROOT/home/ec2-user/.ssh" "$SG_ROOT/mnt/data/db" "$SG_ROOT/etc"
  printf 'ssh-ed25519 AAAA build\n' >"$SG_ROOT/home/ec2-user/.ssh/authorized_keys"
  printf 'x\n' >"$SG_ROOT/mnt/data/db/state.db"
  printf '0123\n' >"$SG_ROOT/etc/machine-id"
  run "$PROVISION_DIR/seal-image.sh" --yes
  [ "$status" -eq 0 ]
  [ ! -e "$SG_ROOT/mnt/data/db/state.db" ]
  before="$(snapshot_root)"

  run "$PROVISION_DIR/seal-image.sh" --yes

  [ "$status" -eq 0 ]
  [[ "$output" == *"0 item(s) removed"* ]]
  [ "$(snapshot_root)" = "$before" ]
}

@test "without --yes it refuses and removes nothing" {
  mkdir -p "$SG_ROOT/home/ec2-user/.ssh"
  printf 'ssh-ed25519 AAAA build\n' >"$SG_ROOT/home/ec2-user/.ssh/authorized_keys"

  run "$PROVISION_DIR/seal-image.sh"

  [ "$status" -eq 2 ]
  [ -f "$SG_ROOT/home/ec2-user/.ssh/authorized_keys" ]
  refute_calls '^systemctl'
}

@test "something still mounted below the data disk fails the seal instead of being reached into" {
  mkdir -p "$SG_ROOT/mnt/data/kubelet/pods"
  printf 'x\n' >"$SG_ROOT/mnt/data/kubelet/pods/f"
  # rm --one-file-system refuses to cross into another filesystem; model that refusal.
  cat >"$BATS_TEST_TMPDIR/bin/rm" <<EOF
#!/usr/bin/env bash
if [[ " \$* " == *" --one-file-system "* && " \$* " == *"/mnt/data/kubelet"* ]]; then
  echo "rm: skipping '$SG_ROOT/mnt/data/kubelet/pods', since it's on a different device" >&2
  exit 1
fi
exec /bin/rm "\$@"
EOF
  chmod +x "$BATS_TEST_TMPDIR/bin/rm"

  run "$PROVISION_DIR/seal-image.sh" --yes

  [ "$status" -ne 0 ]
}
