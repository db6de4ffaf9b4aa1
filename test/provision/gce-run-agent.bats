#!/usr/bin/env bats
# provision/gce-run-agent.sh in a scratch root, against a metadata server kept in files: a stub
# curl first on PATH serves $MD_DIR/attributes/<key> (instance metadata, 404 when absent) and keeps
# guest attributes in $MD_DIR/guest/<namespace>/<key> (PUT writes, DELETE removes; 403 while
# $MD_DIR/guest-off exists, as the metadata server does without enable-guest-attributes).
# One poll per run (--once); the scripts it runs are real bash.

load helpers/common

setup() {
  setup_scratch
  export MD_DIR="$BATS_TEST_TMPDIR/metadata"
  mkdir -p "$MD_DIR/attributes" "$MD_DIR/guest"
  export SG_METADATA_URL="http://metadata.test/computeMetadata/v1"
  cat >"$BATS_TEST_TMPDIR/bin/curl" <<'STUB'
#!/usr/bin/env bash
set -euo pipefail
out=/dev/stdout write="" method=GET data="" url="" flavor=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    -o) out="$2"; shift 2 ;;
    -w) write="$2"; shift 2 ;;
    -X) method="$2"; shift 2 ;;
    -H) [[ "$2" == "Metadata-Flavor: Google" ]] && flavor=1; shift 2 ;;
    --max-time) shift 2 ;;
    --data-binary) data="$2"; shift 2 ;;
    -*) shift ;;
    *) url="$1"; shift ;;
  esac
done
printf 'curl %s %s\n' "$method" "${url#http://metadata.test/computeMetadata/v1/}" >>"$STUB_LOG"
path="${url#http://metadata.test/computeMetadata/v1/}"
code=404
if [[ -z "$flavor" ]]; then
  code=403
elif [[ "$path" == instance/attributes/* && "$method" == GET ]]; then
  f="$MD_DIR/attributes/${path#instance/attributes/}"
  if [[ -f "$f" ]]; then cat "$f" >"$out"; code=200; fi
elif [[ "$path" == instance/guest-attributes/*/* ]]; then
  f="$MD_DIR/guest/${path#instance/guest-attributes/}"
  if [[ -e "$MD_DIR/guest-off" ]]; then
    code=403
  elif [[ "$method" == PUT ]]; then
    mkdir -p "$(dirname "$f")"
    cat "${data#@}" >"$f"
    code=200
  elif [[ "$method" == DELETE ]]; then
    rm -f "$f"
    code=200
  fi
fi
[[ "$out" == /dev/stdout || -e "$out" ]] || : >"$out"
# Like curl without --fail: an HTTP error is still a transfer that worked.
if [[ -n "$write" ]]; then printf '%s' "$code"; fi
STUB
  chmod +x "$BATS_TEST_TMPDIR/bin/curl"
}

agent() {
  run "$PROVISION_DIR/gce-run-agent.sh" --once
}

# command ID SCRIPT: what the launcher's setMetadata puts in the key
command_is() {
  printf '%s %s' "$1" "$(printf '%s' "$2" | base64 -w0)" >"$MD_DIR/attributes/sourcegraph-launch-run"
}

guest() {
  cat "$MD_DIR/guest/sourcegraph-launch/$1"
}

# The stdout the agent published for ID, decoded from its parts.
published_stdout() {
  local n parts
  parts="$(guest "run-$1" | awk '{print $3}')"
  for ((n = 0; n < parts; n++)); do guest "run-$1-out-$n"; done | base64 -d
}

@test "without a command: a heartbeat, nothing run, nothing else published" {
  agent
  [ "$status" -eq 0 ]
  [[ "$(guest agent)" =~ ^gce-run-agent-1\ [0-9]+$ ]]
  [ "$(ls "$MD_DIR/guest/sourcegraph-launch")" = agent ]
}

@test "runs a command once as root, with stdin closed, from /; publishes stdout, stderr and the exit code" {
  command_is 0a1b2c3d4e5f 'echo "out $((6 * 7)) $(pwd)"; echo warn >&2; cat; date +%N >>"$SG_ROOT/ran"; exit 3'
  agent
  [ "$status" -eq 0 ]
  [ "$(guest run-0a1b2c3d4e5f)" = "done 3 1" ]
  [ "$(published_stdout 0a1b2c3d4e5f)" = "out 42 /" ]
  [ "$(guest run-0a1b2c3d4e5f-err | base64 -d)" = warn ]
  [ "$(wc -l <"$SG_ROOT/ran")" -eq 1 ]
  # The same id again (another poll, or the agent restarted): not run twice.
  agent
  run "$PROVISION_DIR/gce-run-agent.sh" --once
  [ "$(wc -l <"$SG_ROOT/ran")" -eq 1 ]
  [ "$(cat "$SG_ROOT/var/lib/sourcegraph-launch/run-agent/last-id")" = 0a1b2c3d4e5f ]
  [ "$(stat -c %a "$SG_ROOT/var/lib/sourcegraph-launch/run-agent")" = 700 ]
  # No working files left.
  [ -z "$(find "$SG_ROOT/var/lib/sourcegraph-launch/run-agent" -name 'work-*')" ]
}

@test "a long output goes back in parts of at most 4096 characters that join to it exactly" {
  command_is aaaa1111 'head -c 20000 /dev/zero | tr "\0" x; printf "\nend\n"'
  agent
  [ "$status" -eq 0 ]
  [ "$(guest run-aaaa1111)" = "done 0 7" ]
  for n in 0 1 2 3 4 5 6; do
    [ "$(guest "run-aaaa1111-out-$n" | wc -c)" -le 4096 ]
  done
  [ "$(published_stdout aaaa1111 | wc -c)" -eq 20005 ]
  [ "$(published_stdout aaaa1111 | tail -n 1)" = end ]
}

@test "a new id deletes the previous run's attributes; a removed command deletes the last run's" {
  command_is aaaa1111 'echo first'
  agent
  [ -f "$MD_DIR/guest/sourcegraph-launch/run-aaaa1111-out-0" ]
  command_is bbbb2222 'echo second'
  agent
  [ ! -e "$MD_DIR/guest/sourcegraph-launch/run-aaaa1111" ]
  [ ! -e "$MD_DIR/guest/sourcegraph-launch/run-aaaa1111-out-0" ]
  [ ! -e "$MD_DIR/guest/sourcegraph-launch/run-aaaa1111-err" ]
  [ "$(published_stdout bbbb2222)" = second ]
  rm "$MD_DIR/attributes/sourcegraph-launch-run"
  agent
  [ "$status" -eq 0 ]
  [ "$(ls "$MD_DIR/guest/sourcegraph-launch")" = agent ]
  [ ! -e "$SG_ROOT/var/lib/sourcegraph-launch/run-agent/published" ]
}

@test "a script that is not base64 exits 125 with why; a malformed id is ignored" {
  printf 'cccc3333 !!!not-base64!!!' >"$MD_DIR/attributes/sourcegraph-launch-run"
  agent
  [ "$(guest run-cccc3333)" = "done 125 0" ]
  [[ "$(guest run-cccc3333-err | base64 -d)" == *"not valid base64"* ]]
  printf 'BAD/ID %s' "$(printf 'touch "$SG_ROOT/bad"' | base64 -w0)" >"$MD_DIR/attributes/sourcegraph-launch-run"
  agent
  [ "$status" -eq 0 ]
  [ ! -e "$SG_ROOT/bad" ]
  grep -q 'its id is not' "$SG_ROOT/var/log/sourcegraph-launch/gce-run-agent.log"
}

@test "guest attributes off: the agent says why and runs nothing further for that id, without dying" {
  touch "$MD_DIR/guest-off"
  command_is dddd4444 'date +%N >>"$SG_ROOT/ran"'
  agent
  [ "$status" -eq 0 ]
  grep -q 'enable-guest-attributes' "$SG_ROOT/var/log/sourcegraph-launch/gce-run-agent.log"
  # Never run blind: without an acknowledgement the launcher could not read an output.
  [ ! -e "$SG_ROOT/ran" ]
}

@test "the metadata server down: no command, no crash" {
  cat >"$BATS_TEST_TMPDIR/bin/curl" <<'STUB'
#!/usr/bin/env bash
echo "curl: (7) Failed to connect" >&2
printf '000'
exit 7
STUB
  agent
  [ "$status" -eq 0 ]
  grep -q 'answered HTTP 000' "$SG_ROOT/var/log/sourcegraph-launch/gce-run-agent.log"
}

@test "the unit runs the installed agent as a restarting service" {
  unit="$PROVISION_DIR/sourcegraph-run-agent.service"
  grep -qxF 'ExecStart=/opt/sourcegraph-launch/provision/gce-run-agent.sh' "$unit"
  grep -qxF 'Restart=always' "$unit"
  grep -qxF 'WantedBy=multi-user.target' "$unit"
}
