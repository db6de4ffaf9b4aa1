#!/usr/bin/env bats
# provision/apply-acme.sh and remove-acme.sh (a Let's Encrypt certificate that k3s's Traefik
# obtains itself, `tls --tls acme`) on their own and as boot.sh runs apply-acme.sh after every
# reinstall, in a scratch root with the stubbed kubectl that keeps what was applied from stdin.

load helpers/common

setup() {
  setup_scratch
}

acme_dir() {
  printf '%s' "$SG_ROOT/mnt/data/.sourcegraph-launch/acme"
}

manifest() {
  printf '%s' "$SG_ROOT/var/lib/rancher/k3s/server/manifests/sourcegraph-acme-traefik.yaml"
}

store_settings() {
  mkdir -p "$(acme_dir)"
  printf 'domain=%s\nemail=%s\nca=%s\n' "${1:-sourcegraph.example.com}" "${2:-admin@example.com}" "${3:-production}" >"$(acme_dir)/settings"
}

applied() {
  cat "$STUB_STATE/kubectl.applied"
}

@test "apply-acme.sh: the HelmChartConfig with the resolver and its storage on the data volume, then the ingresses in one apply" {
  store_settings sourcegraph.example.com admin@example.com production

  run "$PROVISION_DIR/apply-acme.sh"

  [ "$status" -eq 0 ]
  [[ "$output" == *"wrote /var/lib/rancher/k3s/server/manifests/sourcegraph-acme-traefik.yaml"* ]]
  m="$(manifest)"
  grep -qxF 'kind: HelmChartConfig' "$m"
  grep -qxF '  name: traefik' "$m"
  grep -qxF '  namespace: kube-system' "$m"
  grep -qxF '      - "--certificatesresolvers.letsencrypt.acme.email=admin@example.com"' "$m"
  grep -qxF '      - "--certificatesresolvers.letsencrypt.acme.caserver=https://acme-v02.api.letsencrypt.org/directory"' "$m"
  grep -qxF '      - "--certificatesresolvers.letsencrypt.acme.storage=/data/acme/acme.json"' "$m"
  grep -qxF '      - "--certificatesresolvers.letsencrypt.acme.httpchallenge.entrypoint=web"' "$m"
  grep -qxF '            path: /mnt/data/.sourcegraph-launch/acme/store' "$m"
  grep -qxF '        mountPath: /data/acme' "$m"
  # The storage: Traefik's (uid 65532), 0600 as Traefik demands, on the data volume.
  [ "$(stat -c '%u %a' "$(acme_dir)/store/acme.json")" = '65532 600' ]
  [ "$(stat -c '%u %a' "$(acme_dir)/store")" = '65532 700' ]
  # The ingresses: the resolver on 443, the redirect on 80, for the domain only.
  assert_call "^kubectl --kubeconfig $SG_ROOT/etc/rancher/k3s/k3s.yaml apply -f -\$"
  applied | grep -qxF '    traefik.ingress.kubernetes.io/router.tls.certresolver: letsencrypt'
  applied | grep -qxF 'kind: Middleware'
  [ "$(applied | grep -cxF '    - host: sourcegraph.example.com')" -eq 2 ]
  ! applied | grep -q 'secretName'
  ! applied | grep -q 'name: sourcegraph-ingress$'
  [[ "$output" == *"serving https://sourcegraph.example.com with a Let's Encrypt certificate (production)"* ]]
}

@test "apply-acme.sh: twice changes nothing (Traefik is not re-rendered), an issued certificate is kept; --acme-staging's CA" {
  store_settings
  run "$PROVISION_DIR/apply-acme.sh"
  [ "$status" -eq 0 ]
  printf '{"letsencrypt":{"Certificates":[]}}' >"$(acme_dir)/store/acme.json"
  before="$(stat -c '%Y %i' "$(manifest)")"
  sleep 1
  run "$PROVISION_DIR/apply-acme.sh"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Traefik's ACME configuration is unchanged"* ]]
  [ "$(stat -c '%Y %i' "$(manifest)")" = "$before" ]
  [ "$(cat "$(acme_dir)/store/acme.json")" = '{"letsencrypt":{"Certificates":[]}}' ]

  store_settings sourcegraph.example.com admin@example.com staging
  run "$PROVISION_DIR/apply-acme.sh"
  [ "$status" -eq 0 ]
  grep -qxF '      - "--certificatesresolvers.letsencrypt.acme.caserver=https://acme-staging-v02.api.letsencrypt.org/directory"' "$(manifest)"
}

@test "apply-acme.sh: no settings, nothing done; bad values and a customer's Traefik HelmChartConfig are refused before anything changes" {
  run "$PROVISION_DIR/apply-acme.sh"
  [ "$status" -eq 0 ]
  [[ "$output" == *"nothing to apply"* ]]
  refute_calls '^kubectl '
  [ ! -e "$(manifest)" ]

  store_settings 'evil.example.com: x'
  run "$PROVISION_DIR/apply-acme.sh"
  [ "$status" -eq 1 ]
  [[ "$output" == *"no valid host name"* ]]
  store_settings sourcegraph.example.com 'a@b.com"; rm -rf /'
  run "$PROVISION_DIR/apply-acme.sh"
  [ "$status" -eq 1 ]
  [[ "$output" == *"no valid e-mail address"* ]]
  store_settings sourcegraph.example.com admin@example.com pebble
  run "$PROVISION_DIR/apply-acme.sh"
  [ "$status" -eq 1 ]
  [[ "$output" == *"ca must be production or staging"* ]]

  store_settings
  mkdir -p "$(dirname "$(manifest)")"
  printf 'apiVersion: helm.cattle.io/v1\nkind: HelmChartConfig\nmetadata:\n  name: traefik\n  namespace: kube-system\n' >"$(dirname "$(manifest)")/traefik-config.yaml"
  run "$PROVISION_DIR/apply-acme.sh"
  [ "$status" -eq 1 ]
  [[ "$output" == *"/var/lib/rancher/k3s/server/manifests/traefik-config.yaml already configures Traefik"* ]]
  refute_calls '^kubectl '
  [ ! -e "$(manifest)" ]
  [ ! -e "$(acme_dir)/store" ]

  run "$PROVISION_DIR/apply-acme.sh" now
  [ "$status" -eq 2 ]
}

@test "boot.sh configures Let's Encrypt again after a reinstall (a new root disk), after the ingress" {
  provision_image 6.12.5040 6.11.6000
  k3s_state active
  store_settings sourcegraph.example.com

  run "$PROVISION_DIR/boot.sh"

  [ "$status" -eq 0 ]
  [ "$(status_field stage)" = done ]
  [ -f "$(manifest)" ]
  ingress_at="$(call_line "apply -f $PROVISION_DIR/manifests/ingress.yaml")"
  acme_at="$(call_line 'apply -f -$')"
  [ "$ingress_at" -gt 0 ] && [ "$acme_at" -gt "$ingress_at" ]
  applied | grep -qxF '    traefik.ingress.kubernetes.io/router.tls.certresolver: letsencrypt'
}

@test "remove-acme.sh: the manifest, the HelmChartConfig in k3s and the storage go; nothing of acme there, nothing done" {
  run "$PROVISION_DIR/remove-acme.sh"
  [ "$status" -eq 0 ]
  [[ "$output" == *"nothing to remove"* ]]
  refute_calls '^kubectl '

  store_settings
  run "$PROVISION_DIR/apply-acme.sh"
  [ "$status" -eq 0 ]
  : >"$STUB_LOG"
  run "$PROVISION_DIR/remove-acme.sh"
  [ "$status" -eq 0 ]
  assert_call "^kubectl --kubeconfig $SG_ROOT/etc/rancher/k3s/k3s.yaml delete --ignore-not-found -n kube-system helmchartconfigs.helm.cattle.io/traefik\$"
  [ ! -e "$(manifest)" ]
  [ ! -e "$(acme_dir)" ]
  # What the boot service runs after a reinstall now finds nothing to apply.
  : >"$STUB_LOG"
  run "$PROVISION_DIR/apply-acme.sh"
  [ "$status" -eq 0 ]
  [[ "$output" == *"nothing to apply"* ]]
  refute_calls '^kubectl '
}

store_dns_settings() {
  store_settings sourcegraph.example.com admin@example.com production
  printf 'challenge=dns-01\ndns_provider=route53\ndns_env_AWS_REGION=us-east-1\ndns_env_AWS_HOSTED_ZONE_ID=Z0123456789ABC\n' >>"$(acme_dir)/settings"
}

@test "apply-acme.sh with challenge=dns-01: the resolver uses the DNS provider with its environment (no HTTP challenge, no secret), valid YAML; twice changes nothing" {
  store_dns_settings

  run "$PROVISION_DIR/apply-acme.sh"

  [ "$status" -eq 0 ]
  [[ "$output" == *"letsencrypt resolver, DNS-01, production CA"* ]]
  m="$(manifest)"
  grep -qxF '      - "--certificatesresolvers.letsencrypt.acme.dnschallenge.provider=route53"' "$m"
  ! grep -q 'httpchallenge' "$m"
  grep -qxF '    env:' "$m"
  grep -qxF '      - name: AWS_REGION' "$m"
  grep -qxF '        value: "us-east-1"' "$m"
  grep -qxF '      - name: AWS_HOSTED_ZONE_ID' "$m"
  grep -qxF '        value: "Z0123456789ABC"' "$m"
  ! grep -qi 'secret\|AWS_ACCESS_KEY' "$m"
  # The values Traefik's chart gets parse as YAML, with the environment where the chart reads it.
  python3 - "$m" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
values = yaml.safe_load(doc["spec"]["valuesContent"])
assert values["env"] == [{"name": "AWS_REGION", "value": "us-east-1"}, {"name": "AWS_HOSTED_ZONE_ID", "value": "Z0123456789ABC"}], values["env"]
assert "--certificatesresolvers.letsencrypt.acme.dnschallenge.provider=route53" in values["additionalArguments"]
assert values["additionalVolumeMounts"][0]["mountPath"] == "/data/acme"
PY
  applied | grep -qxF '    traefik.ingress.kubernetes.io/router.tls.certresolver: letsencrypt'
  [[ "$output" == *"(DNS-01)"* ]]

  before="$(stat -c '%Y %i' "$m")"
  sleep 1
  run "$PROVISION_DIR/apply-acme.sh"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Traefik's ACME configuration is unchanged"* ]]
  [ "$(stat -c '%Y %i' "$m")" = "$before" ]

  # Back to HTTP-01 (tls run again with --acme-challenge http-01): the DNS lines go.
  store_settings sourcegraph.example.com admin@example.com production
  run "$PROVISION_DIR/apply-acme.sh"
  [ "$status" -eq 0 ]
  grep -qxF '      - "--certificatesresolvers.letsencrypt.acme.httpchallenge.entrypoint=web"' "$m"
  ! grep -q 'dnschallenge\|env:' "$m"
}

@test "apply-acme.sh with challenge=dns-01: an unknown challenge, no provider, or a value that is not plain are refused before anything changes" {
  store_settings
  printf 'challenge=tls-alpn-01\n' >>"$(acme_dir)/settings"
  run "$PROVISION_DIR/apply-acme.sh"
  [ "$status" -eq 1 ]
  [[ "$output" == *"challenge must be http-01 or dns-01"* ]]

  store_settings
  printf 'challenge=dns-01\n' >>"$(acme_dir)/settings"
  run "$PROVISION_DIR/apply-acme.sh"
  [ "$status" -eq 1 ]
  [[ "$output" == *"needs dns_provider="* ]]

  store_settings
  printf 'challenge=dns-01\ndns_provider=route53\ndns_env_AWS_REGION=us-east-1"; evil: "x\n' >>"$(acme_dir)/settings"
  run "$PROVISION_DIR/apply-acme.sh"
  [ "$status" -eq 1 ]
  [[ "$output" == *"dns_env_AWS_REGION: not a plain name and value"* ]]
  refute_calls '^kubectl '
  [ ! -e "$(manifest)" ]
}
