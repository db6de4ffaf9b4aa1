#!/usr/bin/env bash
# Serves the customer's domain with a Let's Encrypt certificate that k3s's own Traefik obtains and
# renews itself (`sourcegraph-launch tls --tls acme`), with one of two challenges:
#   HTTP-01 (the default here): Let's Encrypt fetches http://<domain>/.well-known/acme-challenge/…
#     on port 80, which `tls` opened to the world;
#   DNS-01 (challenge=dns-01): Traefik's ACME client (lego) writes the TXT record
#     _acme-challenge.<domain> through the cloud's DNS API (dns_provider=, e.g. route53) with the
#     instance's own credentials (its IAM role, read from the metadata service: no secret here), so
#     no port has to be open to the world.
# What `tls` stored on the data volume (so it outlives the root disk an upgrade replaces):
#   /mnt/data/.sourcegraph-launch/acme/settings   (root, 0600) lines domain=…, email=…, ca=production|staging,
#       and for DNS-01: challenge=dns-01, dns_provider=<lego provider>, dns_env_<NAME>=<value> (each
#       an environment variable of Traefik's, e.g. dns_env_AWS_HOSTED_ZONE_ID=Z0123)
#   /mnt/data/.sourcegraph-launch/acme/store/     (uid 65532, 0700) Traefik's ACME storage:
#     acme.json (0600; Traefik refuses a looser file): the account key and the certificates, so a
#     restart or an upgrade does not ask Let's Encrypt again (its rate limits are per week)
# What this script makes:
#   /var/lib/rancher/k3s/server/manifests/sourcegraph-acme-traefik.yaml
#       a HelmChartConfig for k3s's bundled Traefik chart (k3s applies it and re-renders Traefik):
#       a certificate resolver "letsencrypt" (HTTP-01 on the web entry point, or DNS-01 through the
#       provider with its environment; the CA chosen, the e-mail for expiry notices), its storage on
#       the data volume (a hostPath mounted at /data/acme)
#   with one `kubectl apply`:
#   Middleware sourcegraph-https-redirect  redirectScheme to https, permanent (308)
#   Ingress sourcegraph-tls                host <domain> on websecure (443), TLS by the resolver
#   Ingress sourcegraph-tls-redirect       host <domain> on web (80) through the middleware; the
#                                          ACME challenge path is Traefik's own router, which
#                                          takes precedence, so validation still reaches it
# The same object names as apply-tls.sh (the customer's own certificate): one replaces the other.
# The address-only ingress stays, so http://<address>/healthz (launch's and status's probe) answers.
# Refuses (exit 1) when another manifest already configures the Traefik chart (a HelmChartConfig
# named traefik of the customer's): two would overwrite each other.
# Run by `tls --tls acme` over SSH and by boot.sh after every reinstall. Without the settings it
# does nothing (exit 0); it takes no arguments. SG_ROOT relocates every path (the tests' scratch root).
set -euo pipefail

root="${SG_ROOT:-}"
dir="$root/mnt/data/.sourcegraph-launch/acme"
manifests="$root/var/lib/rancher/k3s/server/manifests"
manifest="$manifests/sourcegraph-acme-traefik.yaml"
kubeconfig="$root/etc/rancher/k3s/k3s.yaml"
# The uid Traefik runs as in k3s's chart (runAsUser 65532): the storage must be its to write.
traefik_uid=65532
# k3s installs kubectl in /usr/local/bin, which sudo's secure_path lacks on some distributions.
export PATH="$PATH:/usr/local/bin"

[[ $# -eq 0 ]] || { echo "apply-acme.sh takes no arguments" >&2; exit 2; }
if [[ ! -f "$dir/settings" ]]; then
  echo "no ACME settings in ${dir#"$root"}: nothing to apply"
  exit 0
fi
domain="" email="" ca="" challenge=http-01 provider=""
env_names=() env_values=()
while IFS='=' read -r key value; do
  case "$key" in
    domain) domain="$value" ;;
    email) email="$value" ;;
    ca) ca="$value" ;;
    challenge) challenge="$value" ;;
    dns_provider) provider="$value" ;;
    dns_env_*)
      env_names+=("${key#dns_env_}")
      env_values+=("$value")
      ;;
  esac
done <"$dir/settings"
# Each value goes into YAML unquoted: only plain forms are accepted.
if ! [[ "$domain" =~ ^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$ ]]; then
  echo "${dir#"$root"}/settings holds no valid host name: $domain" >&2
  exit 1
fi
if ! [[ "$email" =~ ^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]+$ ]]; then
  echo "${dir#"$root"}/settings holds no valid e-mail address: $email" >&2
  exit 1
fi
case "$ca" in
  production) ca_url=https://acme-v02.api.letsencrypt.org/directory ;;
  staging) ca_url=https://acme-staging-v02.api.letsencrypt.org/directory ;;
  *) echo "${dir#"$root"}/settings: ca must be production or staging, not: $ca" >&2; exit 1 ;;
esac
# The challenge's lines of Traefik's values (indented for valuesContent).
case "$challenge" in
  http-01)
    challenge_args='      - "--certificatesresolvers.letsencrypt.acme.httpchallenge.entrypoint=web"'
    challenge_env=""
    ;;
  dns-01)
    if ! [[ "$provider" =~ ^[a-z0-9]+$ ]]; then
      echo "${dir#"$root"}/settings: challenge=dns-01 needs dns_provider=<lego provider>, not: $provider" >&2
      exit 1
    fi
    challenge_args="      - \"--certificatesresolvers.letsencrypt.acme.dnschallenge.provider=$provider\""
    challenge_env="    env:"
    for i in "${!env_names[@]}"; do
      if ! [[ "${env_names[$i]}" =~ ^[A-Z][A-Z0-9_]*$ && "${env_values[$i]}" =~ ^[A-Za-z0-9._:/-]+$ ]]; then
        echo "${dir#"$root"}/settings: dns_env_${env_names[$i]}: not a plain name and value" >&2
        exit 1
      fi
      challenge_env+=$'\n'"      - name: ${env_names[$i]}"$'\n'"        value: \"${env_values[$i]}\""
    done
    [[ ${#env_names[@]} -gt 0 ]] || challenge_env=""
    ;;
  *) echo "${dir#"$root"}/settings: challenge must be http-01 or dns-01, not: $challenge" >&2; exit 1 ;;
esac

mkdir -p "$manifests"
for other in "$manifests"/*.yaml "$manifests"/*.yml; do
  [[ -f "$other" && "$other" != "$manifest" ]] || continue
  if grep -q '^kind: *HelmChartConfig' "$other" && grep -qE '^  name: *traefik *$' "$other"; then
    echo "${other#"$root"} already configures Traefik (a HelmChartConfig named traefik); merge the ACME settings into it by hand or remove it, then run tls again" >&2
    exit 1
  fi
done

# The storage: created once, never emptied (it holds the certificates Let's Encrypt issued).
mkdir -p "$dir/store"
chown "$traefik_uid:$traefik_uid" "$dir/store"
chmod 0700 "$dir/store"
if [[ ! -f "$dir/store/acme.json" ]]; then
  : >"$dir/store/acme.json"
fi
chown "$traefik_uid:$traefik_uid" "$dir/store/acme.json"
chmod 0600 "$dir/store/acme.json"

# Written only when it changes: k3s re-renders (restarts) Traefik at every change of the file.
tmp="$(mktemp "$manifests/.sourcegraph-acme-traefik.yaml.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
{
cat <<YAML
# Written by sourcegraph-launch (tls --tls acme); removed by tls --remove.
apiVersion: helm.cattle.io/v1
kind: HelmChartConfig
metadata:
  name: traefik
  namespace: kube-system
spec:
  valuesContent: |-
    additionalArguments:
      - "--certificatesresolvers.letsencrypt.acme.email=$email"
      - "--certificatesresolvers.letsencrypt.acme.caserver=$ca_url"
      - "--certificatesresolvers.letsencrypt.acme.storage=/data/acme/acme.json"
$challenge_args
    deployment:
      additionalVolumes:
        - name: sourcegraph-acme
          hostPath:
            path: /mnt/data/.sourcegraph-launch/acme/store
            type: Directory
    additionalVolumeMounts:
      - name: sourcegraph-acme
        mountPath: /data/acme
YAML
if [[ -n "$challenge_env" ]]; then
  printf '%s\n' "$challenge_env"
fi
} >"$tmp"
if [[ -f "$manifest" ]] && cmp -s "$tmp" "$manifest"; then
  echo "Traefik's ACME configuration is unchanged"
else
  chmod 0600 "$tmp"
  mv -f "$tmp" "$manifest"
  echo "wrote ${manifest#"$root"} (k3s re-renders Traefik with the letsencrypt resolver, ${challenge^^}, $ca CA)"
fi

kubectl --kubeconfig "$kubeconfig" apply -f - <<YAML
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
    traefik.ingress.kubernetes.io/router.tls.certresolver: letsencrypt
spec:
  tls:
    - hosts:
        - $domain
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
echo "serving https://$domain with a Let's Encrypt certificate ($ca) that Traefik obtains and renews (${challenge^^}); http://$domain redirects"
