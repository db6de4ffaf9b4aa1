import { bool, negatable, str } from '../flags.js';
import { defineCommand, type CommandFlags, PROGRAM, YES } from '../command.js';

export const tlsCommand = defineCommand({
  name: 'tls',
  args: '[name]',
  description: 'serve HTTPS on your own domain with your own certificate (checked first), HTTP redirected to HTTPS; sets the DNS record when its zone is in this cloud account, else prints it, and waits for it; --remove undoes it',
  yes: YES.confirms('change the DNS record (tls) or remove HTTPS (tls --remove)'),
  flags: {
    domain: str('--domain <name>', 'the name the site answers on, e.g. sourcegraph.example.com (required)'),
    tlsCert: str('--tls-cert <file>', 'your certificate for the domain, PEM: the certificate first, then its chain (required)'),
    tlsKey: str('--tls-key <file>', 'its private key, PEM, without a passphrase (required)'),
    tls: str('--tls <way>', 'acme: a Let\'s Encrypt certificate that k3s\'s Traefik obtains and renews on the instance (HTTP-01; AWS only so far), instead of --tls-cert/--tls-key; managed: not supported yet (exit 2)'),
    acmeEmail: str('--acme-email <address>', 'with --tls acme: Let\'s Encrypt\'s account e-mail, for expiry notices (required)'),
    acmeStaging: bool('--acme-staging', 'with --tls acme: use Let\'s Encrypt\'s staging CA (for trials: its certificates are not trusted by browsers)'),
    iKnowPort80IsPublic: bool('--i-know-port-80-is-public', 'with --tls acme: accept opening port 80 to 0.0.0.0/0 for Let\'s Encrypt\'s validation without being asked (required when not interactive)'),
    wait: negatable('--no-wait', 'do not wait for the domain to resolve to the deployment\'s address'),
    timeout: str('--timeout <minutes>', 'bound the wait for DNS (default: 30)'),
    dns: negatable('--no-dns', 'never look at or change DNS zones in the cloud account: print the record to create instead'),
    remove: bool('--remove', 'remove what tls installed: the HTTPS ingresses and the certificate on the instance, and the DNS record tls made (if it still points at the deployment)'),
    identityFile: str('--identity-file <path>', 'private key to log in with (default: the key launch generated or imported on this machine)'),
    sshUser: str('--ssh-user <user>', 'login user (default: the one launch recorded on this machine, else the cloud image\'s)'),
  },
  target: { name: 'default' },
  cloud: true,
  examples: [
    `${PROGRAM} tls prod --domain sourcegraph.example.com --tls-cert fullchain.pem --tls-key privkey.pem`,
    `${PROGRAM} tls prod --domain sourcegraph.example.com --tls-cert cert.pem --tls-key key.pem --no-wait --json`,
    `${PROGRAM} tls prod --remove --yes`,
  ],
  helpAfter: `
Before anything changes (exit 2 otherwise): the files exist and are PEM, the key is the
certificate's (and has no passphrase), the first certificate in the file covers --domain in its
subjectAltName (a wildcard covers one label), and it is valid now; expiring within 30 days warns.
Then, over SSH (SSH must be open to your address): the certificate, key and domain are stored on
the data disk in /mnt/data/.sourcegraph-launch/tls (root only, so they outlive upgrades, which
replace the root disk) and k3s's Traefik serves them for the domain at once, with http://<domain>
redirected (308) to https://<domain>; the boot service serves them again after every reinstall.
http://<address> keeps answering as before. Ports 80 and 443 are open to the --allow-cidr of launch.
DNS: when a public DNS zone of the same cloud account holds the domain (the longest match: a Route 53
hosted zone, a Cloud DNS managed zone, an Azure DNS zone; private zones are ignored), the command
shows the one A record it will create or replace (<domain> A <address>, TTL 300; a record that
points elsewhere is named with its old value), asks before anything changes (--yes when not on a
terminal or with CI set, else exit 2 and nothing changed), and sets it once the certificate is
served. The deployment's address is static, so upgrades keep the record pointed. The zone and every
other record are never touched. Without such a zone (or with --no-dns) the command prints the A
record to create instead. Either way it then waits until the name resolves to the address
(--no-wait skips that). \`status\` then shows the HTTPS URL and the
certificate's expiry (as recorded on this machine) and probes https://<domain>/healthz with the
certificate verified. Renewing: run \`tls\` again with the new files.
--remove: deletes the secret, the redirect and both HTTPS ingresses from k3s and the certificate
from the data disk over SSH (the boot service then has nothing to serve again), and the DNS record
tls set (as recorded on this machine) only while it still points at the deployment's address; the
value it replaced is named, not restored. Asks first (--yes). Never your certificate files on this
machine nor the zone. \`destroy\` deletes that DNS record too (only while it still points there).
Sourcegraph's externalURL is in its site configuration, not in the Helm values: set it yourself
(Site admin > Site configuration, "externalURL": "https://<domain>"); the command says so.
--tls managed (a cloud load balancer) and --tls acme (Let's Encrypt) are not supported yet (exit 2).
Exit codes: 0 served (and resolving, unless --no-wait), 1 failed, 2 bad input, a certificate
that does not fit, or a DNS change or removal without --yes when not interactive (nothing changed),
3 credentials or permissions, 4 the name did not resolve within --timeout (the certificate is served).
`,
  run: async (deps, name, flags): Promise<unknown> => (await import('../../commands/tls.js')).runTls(deps, name, flags),
});

export type TlsCommandFlags = CommandFlags<typeof tlsCommand.flags>;
