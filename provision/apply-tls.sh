#!/usr/bin/env bash
# Serves the customer's own certificate on their domain (`sourcegraph-launch tls --tls-cert …`).
# The files live on the data volume, so they outlive the root disk (an upgrade boots a new one):
#   /mnt/data/.sourcegraph-launch/tls/tls.crt  the certificate, leaf first, then its chain
#   /mnt/data/.sourcegraph-launch/tls/tls.key  its private key
#   /mnt/data/.sourcegraph-launch/tls/domain   the name the site answers on
# One `kubectl apply` then makes k3s's Traefik serve it:
#   Secret sourcegraph-tls                   (kubernetes.io/tls) the certificate and key
#   Middleware sourcegraph-https-redirect    (traefik.io/v1alpha1, Traefik v3 as k3s bundles it)
#                                            redirectScheme to https, permanent (308)
#   Ingress sourcegraph-tls                  host <domain> on the websecure entry point (443),
#                                            with the secret
#   Ingress sourcegraph-tls-redirect         host <domain> on the web entry point (80), through
#                                            the middleware: http://<domain> goes to https://<domain>
# The address-only ingress (manifests/ingress.yaml) stays as it is, so http://<address>/healthz,
# which launch and status probe, keeps answering; Traefik prefers the longer Host rule for the domain.
# Run by boot.sh after every reinstall and by `tls` over SSH at once. Without the files it does
# nothing (exit 0); it takes no arguments. SG_ROOT relocates every path (the tests' scratch root).
set -euo pipefail

root="${SG_ROOT:-}"
dir="$root/mnt/data/.sourcegraph-launch/tls"
kubeconfig="$root/etc/rancher/k3s/k3s.yaml"
# k3s installs kubectl in /usr/local/bin, which sudo's secure_path lacks on some distributions.
export PATH="$PATH:/usr/local/bin"

[[ $# -eq 0 ]] || { echo "apply-tls.sh takes no arguments" >&2; exit 2; }
if [[ ! -f "$dir/tls.crt" ]]; then
  echo "no certificate in ${dir#"$root"}: nothing to apply"
  exit 0
fi
for f in tls.key domain; do
  [[ -s "$dir/$f" ]] || { echo "${dir#"$root"}/$f is missing or empty" >&2; exit 1; }
done
domain="$(tr -d '[:space:]' <"$dir/domain")"
# The name goes into YAML unquoted: only a plain lower-case host name is accepted.
if ! [[ "$domain" =~ ^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$ ]]; then
  echo "${dir#"$root"}/domain holds no valid host name: $domain" >&2
  exit 1
fi
crt="$(base64 -w0 <"$dir/tls.crt")"
key="$(base64 -w0 <"$dir/tls.key")"

kubectl --kubeconfig "$kubeconfig" apply -f - <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: sourcegraph-tls
  namespace: default
  labels:
    app.kubernetes.io/managed-by: sourcegraph-launch
type: kubernetes.io/tls
data:
  tls.crt: $crt
  tls.key: $key
---
apiVersion: traefik.io/v1alpha1
kind: Middleware
metadata:
  name: sourcegraph-https-redirect
  namespace: default
  labels:
    app.kubernetes.io/managed-by: sourcegraph-launch
spec:
  redirectScheme:
    scheme: https
    permanent: true
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: sourcegraph-tls
  namespace: default
  labels:
    app.kubernetes.io/managed-by: sourcegraph-launch
  annotations:
    kubernetes.io/ingress.class: traefik
    traefik.ingress.kubernetes.io/router.entrypoints: websecure
    traefik.ingress.kubernetes.io/router.tls: "true"
spec:
  tls:
    - hosts:
        - $domain
      secretName: sourcegraph-tls
  rules:
    - host: $domain
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: sourcegraph-frontend
                port:
                  number: 30080
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: sourcegraph-tls-redirect
  namespace: default
  labels:
    app.kubernetes.io/managed-by: sourcegraph-launch
  annotations:
    kubernetes.io/ingress.class: traefik
    traefik.ingress.kubernetes.io/router.entrypoints: web
    traefik.ingress.kubernetes.io/router.middlewares: default-sourcegraph-https-redirect@kubernetescrd
spec:
  rules:
    - host: $domain
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: sourcegraph-frontend
                port:
                  number: 30080
YAML
echo "serving the certificate in ${dir#"$root"} for https://$domain (http://$domain redirects)"
