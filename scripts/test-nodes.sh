#!/usr/bin/env bash
# Installs the Node majors the packed package is also tested under (22 and 24; the machine's own
# Node is the minimum, 20) into .cache/node/<major>/, from the npm registry: Node's binaries are
# published there as node-linux-<arch> packages, so no other download is needed. Already installed
# ones are kept. `npm test` runs this before it enters its network namespace; the package test then
# fails (it does not skip) when one is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "test-nodes: no node-linux package for $(uname -m)" >&2; exit 1 ;;
esac

for major in 22 24; do
  dir=".cache/node/$major"
  bin="$dir/node_modules/node-linux-$arch/bin/node"
  if [ -x "$bin" ] && "$bin" --version | grep -q "^v$major\."; then continue; fi
  echo "installing Node $major for the package tests (npm: node-linux-$arch@$major)" >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "node-linux-$arch@$major" >/dev/null
  "$bin" --version >/dev/null
done
