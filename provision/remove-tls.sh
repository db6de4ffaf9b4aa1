#!/usr/bin/env bash
# Undoes apply-tls.sh (`sourcegraph-launch tls --remove`): deletes from k3s the secret, the redirect
# middleware and both ingresses it applied, then the certificate, key and domain it served from the
# data volume. The ingress objects live in k3s's datastore on the data volume, and boot.sh serves a
# certificate again only while /mnt/data/.sourcegraph-launch/tls/tls.crt exists, so the removal
# holds across reboots and reinstalls. k3s first: should it not answer, the files stay and the
# command can simply be run again. The address-only ingress is not touched: http://<address>
# keeps answering. Takes no arguments; SG_ROOT relocates every path (the tests' scratch root).
set -euo pipefail

root="${SG_ROOT:-}"
dir="$root/mnt/data/.sourcegraph-launch/tls"
kubeconfig="$root/etc/rancher/k3s/k3s.yaml"
# k3s installs kubectl in /usr/local/bin, which sudo's secure_path lacks on some distributions.
export PATH="$PATH:/usr/local/bin"

[[ $# -eq 0 ]] || { echo "remove-tls.sh takes no arguments" >&2; exit 2; }

kubectl --kubeconfig "$kubeconfig" delete --ignore-not-found -n default \
  ingress/sourcegraph-tls ingress/sourcegraph-tls-redirect \
  middlewares.traefik.io/sourcegraph-https-redirect secret/sourcegraph-tls
rm -f "$dir/tls.crt" "$dir/tls.key" "$dir/domain" "$dir/tls.crt.new" "$dir/tls.key.new" "$dir/domain.new"
if [[ -d "$dir" ]]; then rmdir "$dir" 2>/dev/null || echo "kept ${dir#"$root"}: it holds other files"; fi
echo "removed the certificate from ${dir#"$root"} and its ingresses from k3s; HTTP on the address answers as before"
