#!/usr/bin/env bash
# Saves the Sourcegraph Helm charts for one version on the root disk
# (/var/lib/sourcegraph-launch/charts/<chart>-<version>.tgz) so that the boot service installs
# without reaching the chart repository. The executor chart only exists for newer releases, so
# its absence is a warning, not a failure.
#
# usage: fetch-charts.sh --version X.Y.Z
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
mkdir -p "$SG_CHARTS_DIR"

# A chart archive counts as present only if it is the chart and version we asked for: a truncated
# download or a renamed file must not satisfy the offline install later.
chart_is_valid() {
  local file="$1" chart="$2"
  [[ -s "$file" ]] || return 1
  tar -xzOf "$file" "$chart/Chart.yaml" 2>/dev/null | grep -qE "^version: *['\"]?${version//./\\.}['\"]? *\$"
}

fetch_chart() {
  local chart="$1" target workdir
  target="$SG_CHARTS_DIR/$chart-$version.tgz"
  if chart_is_valid "$target" "$chart"; then
    log "chart $chart $version already saved"
    return 0
  fi
  workdir="$(mktemp -d)"
  if ! helm pull "$chart" --repo "$repo" --version "$version" --destination "$workdir"; then
    rm -rf "$workdir"
    return 1
  fi
  if ! chart_is_valid "$workdir/$chart-$version.tgz" "$chart"; then
    rm -rf "$workdir"
    log "helm pull of $chart $version did not produce $chart-$version.tgz with that version"
    return 1
  fi
  mv -f "$workdir/$chart-$version.tgz" "$target"
  rm -rf "$workdir"
  log "saved ${target#"$SG_ROOT"}"
}

fetch_chart sourcegraph || die "could not fetch chart sourcegraph $version from $repo"
if ! fetch_chart sourcegraph-executor-k8s; then
  log "WARNING: chart sourcegraph-executor-k8s $version is not available; executors will not be installed"
fi
