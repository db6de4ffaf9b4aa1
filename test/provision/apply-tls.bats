#!/usr/bin/env bats
# provision/apply-tls.sh (the customer's own certificate, served by k3s's Traefik) on its own and
# as boot.sh runs it after every reinstall, in a scratch root with the stubbed kubectl that keeps
# what was applied from stdin.

load helpers/common

setup() {
  setup_scratch
}

tls_dir() {
  printf '%s' "$SG_ROOT/mnt/data/.sourcegraph-launch/tls"
}

store_certificate() {
  local domain="${1:-sourcegraph.example.com}"
  mkdir -p "$(tls_dir)"
  printf -- '-----BEGIN CERTIFICATE-----\nleaf\n-----END CERTIFICATE-----\n' >"$(tls_dir)/tls.crt"
  printf -- '-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n' >"$(tls_dir)/tls.key"
  printf '%s\n' "$domain" >"$(tls_dir)/domain"
}

applied() {
  cat "$STUB_STATE/kubectl.applied"
}

@test "apply-tls.sh: the secret, the redirect middleware and both ingresses for the domain, in one apply" {
  store_certificate sourcegraph.example.com

  run "$PROVISION_DIR/apply-tls.sh"

  [ "$status" -eq 0 ]
  assert_call "^kubectl --kubeconfig $SG_ROOT/etc/rancher/k3s/k3s.yaml apply -f -\$"
  [[ "$output" == *"https://sourcegraph.example.com"* ]]
  applied | grep -qxF "  tls.crt: $(base64 -w0 <"$(tls_dir)/tls.crt")"
  applied | grep -qxF "  tls.key: $(base64 -w0 <"$(tls_dir)/tls.key")"
  applied | grep -qxF 'type: kubernetes.io/tls'
  applied | grep -qxF 'kind: Middleware'
  applied | grep -qxF '    scheme: https'
  [ "$(applied | grep -cxF '    - host: sourcegraph.example.com')" -eq 2 ]
  applied | grep -qxF '      secretName: sourcegraph-tls'
  applied | grep -qxF '    traefik.ingress.kubernetes.io/router.entrypoints: websecure'
  applied | grep -qxF '    traefik.ingress.kubernetes.io/router.middlewares: default-sourcegraph-https-redirect@kubernetescrd'
  # The address-only ingress is not touched: http://<address>/healthz keeps answering.
  ! applied | grep -q 'name: sourcegraph-ingress$'
}

@test "apply-tls.sh: no certificate on the volume, nothing applied; a missing key or a bad name fails" {
  run "$PROVISION_DIR/apply-tls.sh"
  [ "$status" -eq 0 ]
  [[ "$output" == *"nothing to apply"* ]]
  refute_calls '^kubectl '

  store_certificate
  rm "$(tls_dir)/tls.key"
  run "$PROVISION_DIR/apply-tls.sh"
  [ "$status" -eq 1 ]
  [[ "$output" == *"tls.key is missing"* ]]

  store_certificate 'evil.example.com: x'
  run "$PROVISION_DIR/apply-tls.sh"
  [ "$status" -eq 1 ]
  [[ "$output" == *"no valid host name"* ]]
  refute_calls '^kubectl '
}

@test "boot.sh serves the volume's certificate again after a reinstall, after the ingress" {
  provision_image 6.12.5040 6.11.6000
  k3s_state active
  store_certificate sourcegraph.example.com

  run "$PROVISION_DIR/boot.sh"

  [ "$status" -eq 0 ]
  [ "$(status_field stage)" = done ]
  ingress_at="$(call_line "apply -f $PROVISION_DIR/manifests/ingress.yaml")"
  tls_at="$(call_line 'apply -f -$')"
  restart_at="$(call_line '^systemctl restart k3s')"
  [ "$ingress_at" -gt 0 ] && [ "$tls_at" -gt "$ingress_at" ] && [ "$restart_at" -gt "$tls_at" ]
  [ "$(applied | grep -cxF '    - host: sourcegraph.example.com')" -eq 2 ]
}

@test "boot.sh without a certificate applies none; a broken one is logged and the boot still finishes" {
  provision_image 6.12.5040 6.11.6000
  k3s_state active
  run "$PROVISION_DIR/boot.sh"
  [ "$status" -eq 0 ]
  refute_calls 'apply -f -$'

  provision_image 6.12.5040 6.11.6000
  store_certificate 'bad_name!'
  run "$PROVISION_DIR/boot.sh"
  [ "$status" -eq 0 ]
  [ "$(status_field stage)" = done ]
  grep -q "WARNING: could not serve the certificate in /mnt/data/.sourcegraph-launch/tls: .*no valid host name" "$SG_ROOT/var/log/sourcegraph-launch/boot.log" || { cat "$SG_ROOT/var/log/sourcegraph-launch/boot.log" >&2; false; }
}

@test "remove-tls.sh: deletes the ingresses, redirect and secret from k3s, then the files; boot.sh then serves nothing again" {
  store_certificate sourcegraph.example.com
  mkdir -p "$(tls_dir)"

  run "$PROVISION_DIR/remove-tls.sh"

  [ "$status" -eq 0 ]
  assert_call "^kubectl --kubeconfig $SG_ROOT/etc/rancher/k3s/k3s.yaml delete --ignore-not-found -n default ingress/sourcegraph-tls ingress/sourcegraph-tls-redirect middlewares.traefik.io/sourcegraph-https-redirect secret/sourcegraph-tls\$"
  [ ! -e "$(tls_dir)" ]
  [[ "$output" == *"removed the certificate"* ]]
  # The address-only ingress is not among what is deleted.
  refute_calls 'delete .*sourcegraph-ingress'
  # What the boot service runs after a reinstall now finds nothing to serve.
  : >"$STUB_LOG"
  run "$PROVISION_DIR/apply-tls.sh"
  [ "$status" -eq 0 ]
  [[ "$output" == *"nothing to apply"* ]]
  refute_calls '^kubectl '
}

@test "remove-tls.sh: k3s not answering keeps the files (run it again); other files in the directory are kept; no arguments" {
  store_certificate
  cat >"$BATS_TEST_TMPDIR/bin/kubectl" <<'STUB'
#!/usr/bin/env bash
printf 'kubectl %s\n' "$*" >>"$STUB_LOG"
echo 'The connection to the server 127.0.0.1:6443 was refused' >&2
exit 1
STUB
  chmod +x "$BATS_TEST_TMPDIR/bin/kubectl"
  run "$PROVISION_DIR/remove-tls.sh"
  [ "$status" -ne 0 ]
  [ -f "$(tls_dir)/tls.crt" ]
  [ -f "$(tls_dir)/tls.key" ]

  rm "$BATS_TEST_TMPDIR/bin/kubectl"
  cp "$HELPERS_DIR/kubectl" "$BATS_TEST_TMPDIR/bin/kubectl"
  touch "$(tls_dir)/notes.txt"
  run "$PROVISION_DIR/remove-tls.sh"
  [ "$status" -eq 0 ]
  [ ! -e "$(tls_dir)/tls.crt" ]
  [ -f "$(tls_dir)/notes.txt" ]
  [[ "$output" == *"it holds other files"* ]]

  run "$PROVISION_DIR/remove-tls.sh" now
  [ "$status" -eq 2 ]
}
