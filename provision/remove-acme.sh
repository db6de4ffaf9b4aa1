#!/usr/bin/env bash
# Undoes apply-acme.sh (`sourcegraph-launch tls --remove` after `tls --tls acme`): deletes the
# HelmChartConfig from k3s (the helm controller then renders Traefik with k3s's defaults again,
# without the resolver) and its manifest file, then the ACME settings and storage on the data
# volume (the account key and the certificates), so boot.sh has nothing to apply again. The
# ingresses and the redirect middleware are remove-tls.sh's (the same names), run before this.
# k3s first: should it not answer, the files stay and the command can simply be run again.
# Nothing of acme there (no manifest, no settings): does nothing. Takes no arguments; SG_ROOT
# relocates every path (the tests' scratch root).
set -euo pipefail

root="${SG_ROOT:-}"
dir="$root/mnt/data/.sourcegraph-launch/acme"
manifest="$root/var/lib/rancher/k3s/server/manifests/sourcegraph-acme-traefik.yaml"
kubeconfig="$root/etc/rancher/k3s/k3s.yaml"
# k3s installs kubectl in /usr/local/bin, which sudo's secure_path lacks on some distributions.
export PATH="$PATH:/usr/local/bin"

[[ $# -eq 0 ]] || { echo "remove-acme.sh takes no arguments" >&2; exit 2; }
if [[ ! -f "$manifest" && ! -d "$dir" ]]; then
  echo "no ACME configuration here: nothing to remove"
  exit 0
fi
# The file first: k3s would otherwise apply it again at its next start.
rm -f "$manifest"
kubectl --kubeconfig "$kubeconfig" delete --ignore-not-found -n kube-system helmchartconfigs.helm.cattle.io/traefik
rm -rf "$dir"
echo "removed Traefik's ACME configuration and the Let's Encrypt storage in ${dir#"$root"}"
