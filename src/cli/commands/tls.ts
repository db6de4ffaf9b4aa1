import { bool, negatable, str } from '../flags.js';
import { defineCommand, type CommandFlags, PROGRAM, YES } from '../command.js';

export const tlsCommand = defineCommand({
  name: 'tls',
  args: '[name]',
  description: 'serve HTTPS on your own domain with your own certificate (checked first) or, with --tls managed, the cloud\'s certificate and load balancer, HTTP redirected to HTTPS; sets the DNS record when its zone is in this cloud account, else prints it, and waits for it; --remove undoes it',
  yes: YES.confirms('change the DNS record (tls) or remove HTTPS (tls --remove)'),
  flags: {
    domain: str('--domain <name>', 'the name the site answers on, e.g. sourcegraph.example.com (required)'),
    tlsCert: str('--tls-cert <file>', 'your certificate for the domain, PEM: the certificate first, then its chain (required without --tls managed)'),
    tlsKey: str('--tls-key <file>', 'its private key, PEM, without a passphrase (required without --tls managed)'),
    tls: str('--tls <way>', 'managed: the cloud\'s certificate and load balancer instead of your files (AWS only; see below); acme: not supported yet (exit 2)'),
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
    `${PROGRAM} tls prod --domain sourcegraph.example.com --tls managed --yes`,
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
--tls managed (AWS; on GCE and Azure exit 2, nothing changed): no SSH and no certificate files.
It prints what it creates and the monthly cost it adds (an estimate from presets/aws-prices.json:
the load balancer's hours, 1 LCU of traffic, its two public IPv4 addresses; the certificate is
free) and asks (--yes). Then, each step journaled on this machine so a re-run goes on where one
stopped: an ACM certificate for --domain validated through DNS (the validation CNAME set in the
Route 53 zone when the account holds it, else printed: create it, and keep it for renewals;
--no-wait stops after that, a re-run goes on), a wait until it is issued (--timeout, exit 4,
re-run to keep waiting), an Application Load Balancer in two zones (the instance's subnet and
another of its VPC in another zone, created and tagged only when there is none), its security
group (443 and 80 from the addresses 443 is open to now), a target group forwarding HTTPS to the
instance's 443 (its self-signed certificate; the load balancer does not verify it, and the traffic
stays encrypted) with health checks on /healthz, a 443 listener with the certificate (TLS 1.2/1.3)
and an 80 listener redirecting to 443. The instance's 80/443 are then open only to the load
balancer's security group (the rules replaced are kept and restored by --remove), so
http://<address> and \`status\`'s probe of it no longer answer from outside. DNS: an alias A record
to the load balancer in the zone, else the CNAME to create is printed. \`status\` shows the URL and
the certificate's state, expiry and renewal as ACM reports them, and probes https://<domain>/healthz. --remove (and \`destroy\`) deletes
the alias record (only while it still points at the load balancer), the listeners, the load
balancer, the target group, its security group, a subnet it created, the certificate and its
validation record, and restores the instance's rules.
--tls acme (Let's Encrypt) is not supported yet (exit 2).
Exit codes: 0 served (and resolving, unless --no-wait), 1 failed, 2 bad input, a certificate
that does not fit, or a DNS change or removal without --yes when not interactive (nothing changed),
3 credentials or permissions, 4 the name did not resolve within --timeout (the certificate is served).
`,
  run: async (deps, name, flags): Promise<unknown> => (await import('../../commands/tls.js')).runTls(deps, name, flags),
});

export type TlsCommandFlags = CommandFlags<typeof tlsCommand.flags>;
