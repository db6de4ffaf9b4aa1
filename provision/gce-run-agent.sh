#!/usr/bin/env bash
# The run-command agent on Google Compute Engine (sourcegraph-run-agent.service): how
# `sourcegraph-launch config`, `executors enable` and `disk grow` reach an instance whose SSH is
# closed, since Compute Engine has no run-command API. It polls the instance's metadata server for
# the instance metadata key `sourcegraph-launch-run` ("<id> <base64 script>", set by the launcher
# with instances.setMetadata), runs each id's script once as root, and writes what it printed back
# as guest attributes (namespace sourcegraph-launch), which the launcher reads with
# instances.getGuestAttributes (src/cloud/gcp/run-command.ts):
#   agent              "gce-run-agent-<version> <unix time>", every SG_RUN_AGENT_HEARTBEAT_SECONDS
#   run-<id>           "running" once picked up, then "done <exit code> <stdout parts>" (last)
#   run-<id>-out-<n>   stdout, base64, in parts of at most 4096 characters
#   run-<id>-err       the last 3 KiB of stderr, base64
# When the key goes away (the launcher read the output) or names another id, the previous run's
# attributes are deleted: outputs may hold secrets. The id is recorded before the script runs, so a
# restart of the agent never runs a script twice.
#
# usage: gce-run-agent.sh [--once]      (--once: one poll, for tests)
# env:   SG_METADATA_URL                 the metadata server (default http://metadata.google.internal/computeMetadata/v1)
#        SG_RUN_AGENT_POLL_SECONDS       between polls (default 5)
#        SG_RUN_AGENT_HEARTBEAT_SECONDS  between heartbeats (default 60)
#        SG_RUN_AGENT_MAX_SECONDS        a script's bound (default 7200; the launcher's scripts bound their own command)
set -euo pipefail

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly AGENT_VERSION=1
readonly RUN_KEY=sourcegraph-launch-run
readonly NAMESPACE=sourcegraph-launch
readonly PART_CHARS=4096
readonly ERR_BYTES=3072

metadata_url="${SG_METADATA_URL:-http://metadata.google.internal/computeMetadata/v1}"
poll_seconds="${SG_RUN_AGENT_POLL_SECONDS:-5}"
heartbeat_seconds="${SG_RUN_AGENT_HEARTBEAT_SECONDS:-60}"
max_seconds="${SG_RUN_AGENT_MAX_SECONDS:-7200}"
once=0
case "${1:-}" in
  --once) once=1 ;;
  "") ;;
  *) usage_error "usage: gce-run-agent.sh [--once]" ;;
esac

state_dir="$SG_STATE_DIR/run-agent"
published_file="$state_dir/published"
last_id_file="$state_dir/last-id"
mkdir -p "$state_dir"
chmod 0700 "$state_dir"

last_beat=0
last_problem=""

# Says a problem once, not at every poll.
problem() {
  if [[ "$1" != "$last_problem" ]]; then
    log "$1"
    last_problem="$1"
  fi
}

# md_get PATH OUTFILE: prints the HTTP status (000 when the server did not answer).
md_get() {
  local code
  code="$(curl -sS -o "$2" -w '%{http_code}' -H 'Metadata-Flavor: Google' --max-time 10 "$metadata_url/$1" 2>/dev/null)" || true
  printf '%s' "${code:-000}"
}

# guest_put KEY VALUE-FILE
guest_put() {
  local code
  code="$(curl -sS -o /dev/null -w '%{http_code}' -X PUT -H 'Metadata-Flavor: Google' --max-time 10 --data-binary "@$2" \
    "$metadata_url/instance/guest-attributes/$NAMESPACE/$1" 2>/dev/null)" || true
  code="${code:-000}"
  if [[ "$code" != 200 ]]; then
    problem "could not write guest attribute $NAMESPACE/$1 (HTTP $code; is enable-guest-attributes TRUE in the instance metadata?)"
    return 1
  fi
}

guest_put_value() {
  local tmp rc=0
  tmp="$(mktemp "$state_dir/.value.XXXXXX")"
  printf '%s' "$2" >"$tmp"
  guest_put "$1" "$tmp" || rc=$?
  rm -f "$tmp"
  return "$rc"
}

guest_delete() {
  curl -sS -o /dev/null -X DELETE -H 'Metadata-Flavor: Google' --max-time 10 "$metadata_url/instance/guest-attributes/$NAMESPACE/$1" 2>/dev/null || true
}

published=()
if [[ -s "$published_file" ]]; then
  mapfile -t published <"$published_file"
fi

remember() {
  published+=("$1")
  printf '%s\n' "${published[@]}" >"$published_file"
}

forget_published() {
  local key
  [[ ${#published[@]} -gt 0 ]] || return 0
  for key in "${published[@]}"; do
    guest_delete "$key"
  done
  log "deleted ${#published[@]} guest attribute(s) of the previous run"
  published=()
  rm -f "$published_file"
}

heartbeat() {
  local now
  printf -v now '%(%s)T' -1
  if ((now - last_beat >= heartbeat_seconds)); then
    if guest_put_value agent "gce-run-agent-$AGENT_VERSION $now"; then
      last_beat=$now
    fi
  fi
}

# run_one ID BASE64: runs the script once, publishes its output.
run_one() {
  local id="$1" encoded="$2" work rc=0 n=0 part
  # Recorded first: whatever happens next, this id is never run again.
  printf '%s\n' "$id" >"$last_id_file"
  forget_published
  remember "run-$id"
  guest_put_value "run-$id" running || return 0
  work="$state_dir/work-$id"
  rm -rf "$work"
  mkdir -m 0700 "$work"
  log "running $id"
  if printf '%s' "$encoded" | base64 -d >"$work/script.sh" 2>"$work/err"; then
    (cd / && timeout -k 30 "$max_seconds" bash "$work/script.sh" </dev/null >"$work/out" 2>"$work/err") || rc=$?
  else
    rc=125
    printf 'gce-run-agent: the script of %s is not valid base64\n' "$id" >"$work/err"
    : >"$work/out"
  fi
  base64 -w0 <"$work/out" | fold -w "$PART_CHARS" >"$work/parts"
  while IFS= read -r part || [[ -n "$part" ]]; do
    remember "run-$id-out-$n"
    guest_put_value "run-$id-out-$n" "$part" || { rm -rf "$work"; return 0; }
    n=$((n + 1))
  done <"$work/parts"
  remember "run-$id-err"
  guest_put_value "run-$id-err" "$(tail -c "$ERR_BYTES" "$work/err" | base64 -w0)" || { rm -rf "$work"; return 0; }
  guest_put_value "run-$id" "done $rc $n" || true
  rm -rf "$work"
  log "ran $id: exit $rc, $n output part(s)"
}

poll_once() {
  local tmp code id encoded last
  heartbeat
  tmp="$(mktemp "$state_dir/.key.XXXXXX")"
  code="$(md_get "instance/attributes/$RUN_KEY" "$tmp")"
  case "$code" in
    200) ;;
    404)
      rm -f "$tmp"
      last_problem=""
      # No command (the launcher took it away once it read the output): nothing may stay published.
      forget_published
      return 0
      ;;
    *)
      rm -f "$tmp"
      problem "the metadata server answered HTTP $code for $RUN_KEY"
      return 0
      ;;
  esac
  last_problem=""
  read -r id encoded <"$tmp" || true
  rm -f "$tmp"
  if [[ ! "$id" =~ ^[a-z0-9]{1,32}$ ]]; then
    problem "ignoring $RUN_KEY: its id is not [a-z0-9]{1,32}"
    return 0
  fi
  last="$(cat "$last_id_file" 2>/dev/null || true)"
  [[ "$id" == "$last" ]] && return 0
  run_one "$id" "${encoded:-}"
}

if [[ $once -eq 1 ]]; then
  poll_once
  exit 0
fi

log "started (agent $AGENT_VERSION; metadata server $metadata_url, every ${poll_seconds}s)"
while true; do
  poll_once || log "poll failed (exit $?)"
  sleep "$poll_seconds"
done
