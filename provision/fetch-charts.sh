#!/usr/bin/env bash
# Saves the Sourcegraph Helm charts for one version on the root disk
# (/var/lib/sourcegraph-launch/charts/<chart>-<version>.tgz) so that the boot service installs
# without reaching the chart repository. The executor chart only exists for newer releases, so
# its absence is a warning, not a failure.
#
# Every chart is verified before it is kept, like k3s and Helm:
#   - its SHA256 must equal the digest the repository's index.yaml publishes for that chart and
#     version (fetched over HTTPS from the repository itself);
#   - when checksums.sha256 pins "<chart>-<version>.tgz", it must equal that pin too;
#   - with SG_HELM_KEYRING, `helm pull --verify` also checks the chart's provenance signature.
# A chart that fails any check is refused (exit 4) and nothing is saved.
#
# usage: fetch-charts.sh --version X.Y.Z
# env:   SG_HELM_REPO       chart repository (default SOURCEGRAPH_HELM_REPO from versions.env)
#        SG_HELM_KEYRING    a GnuPG keyring: verify provenance files as well
#        SG_CHECKSUMS_FILE  checksum list (default: checksums.sha256 beside this script)
set -euo pipefail

SG_SCRIPT_NAME=fetch-charts
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

version=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --version)
      [[ $# -ge 2 ]] || usage_error "--version needs a value"
      version="$2"
      shift 2
      ;;
    *) usage_error "unknown argument: $1" ;;
  esac
done
valid_version "$version" || usage_error "--version must look like 6.12.5040"

repo="${SG_HELM_REPO:-$SOURCEGRAPH_HELM_REPO}"
repo="${repo%/}"
checksums="${SG_CHECKSUMS_FILE:-$here/checksums.sha256}"
keyring="${SG_HELM_KEYRING:-}"
mkdir -p "$SG_CHARTS_DIR"
workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT

# A chart archive counts as present only if it is the chart and version we asked for: a truncated
# download or a renamed file must not satisfy the offline install later.
chart_is_valid() {
  local file="$1" chart="$2"
  [[ -s "$file" ]] || return 1
  tar -xzOf "$file" "$chart/Chart.yaml" 2>/dev/null | grep -qE "^version: *['\"]?${version//./\\.}['\"]? *\$"
}

# The repository index, fetched once. Its entries list each chart version with its digest.
index_file="$workdir/index.yaml"
fetch_index() {
  [[ -s "$index_file" ]] && return 0
  curl -fsSL --retry 3 --proto '=https' -o "$index_file" "$repo/index.yaml" ||
    die "could not fetch $repo/index.yaml to verify the charts' digests"
}

# Prints the digest index.yaml gives CHART at the requested version (empty when it lists none).
index_digest() {
  local chart="$1"
  awk -v chart="$chart" -v version="$version" '
    function flush() { if (name == chart && ver == version && digest != "") print digest; name = ver = digest = "" }
    /^entries:/ { in_entries = 1; next }
    in_entries && /^[^ ]/ { flush(); in_entries = 0 }
    !in_entries { next }
    /^  - / || /^  -$/ { flush(); sub(/^  -/, "   ") }
    /^  [^ -]/ { flush() }
    {
      line = $0
      gsub(/["\047]/, "", line)
      if (line ~ /^    digest: /) { digest = line; sub(/^    digest: */, "", digest) }
      else if (line ~ /^    version: /) { ver = line; sub(/^    version: */, "", ver) }
      else if (line ~ /^    name: /) { name = line; sub(/^    name: */, "", name) }
    }
    END { flush() }
  ' "$index_file" | head -n 1
}

# Checks FILE against every digest we have for it; dies (exit 4) on the first mismatch.
verify_chart() {
  local file="$1" chart="$2" actual expected pinned
  actual="$(sha256sum "$file" | cut -c1-64)"
  fetch_index
  expected="$(index_digest "$chart")"
  [[ "$expected" =~ ^[0-9a-f]{64}$ ]] ||
    die "the index of $repo lists no SHA256 digest for $chart $version; refusing an unverified chart" "$EXIT_CHECKSUM"
  [[ "$actual" == "$expected" ]] ||
    die "SHA256 of $chart-$version.tgz is $actual, but $repo/index.yaml says $expected" "$EXIT_CHECKSUM"
  pinned="$(grep -E "^[0-9a-f]{64}  $(printf '%s' "$chart-$version.tgz" | sed 's/[.+]/\\&/g')\$" "$checksums" | cut -c1-64 || true)"
  if [[ -n "$pinned" && "$actual" != "$pinned" ]]; then
    die "SHA256 of $chart-$version.tgz is $actual, but checksums.sha256 pins $pinned" "$EXIT_CHECKSUM"
  fi
  log "verified SHA256 of $chart-$version.tgz (repository index${pinned:+ and pinned checksum})"
}

fetch_chart() {
  local chart="$1" target dir
  target="$SG_CHARTS_DIR/$chart-$version.tgz"
  if chart_is_valid "$target" "$chart"; then
    log "chart $chart $version already saved"
    return 0
  fi
  dir="$workdir/$chart"
  mkdir -p "$dir"
  local pull=(helm pull "$chart" --repo "$repo" --version "$version" --destination "$dir")
  [[ -z "$keyring" ]] || pull+=(--verify --keyring "$keyring")
  if ! "${pull[@]}"; then
    return 1
  fi
  if ! chart_is_valid "$dir/$chart-$version.tgz" "$chart"; then
    log "helm pull of $chart $version did not produce $chart-$version.tgz with that version"
    return 1
  fi
  verify_chart "$dir/$chart-$version.tgz" "$chart"
  mv -f "$dir/$chart-$version.tgz" "$target"
  log "saved ${target#"$SG_ROOT"}"
}

fetch_chart sourcegraph || die "could not fetch chart sourcegraph $version from $repo"
if ! fetch_chart sourcegraph-executor-k8s; then
  log "WARNING: chart sourcegraph-executor-k8s $version is not available; executors will not be installed"
fi
