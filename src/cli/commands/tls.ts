import { bool, negatable, str } from '../flags.js';
import { defineCommand, type CommandFlags, PROGRAM, YES } from '../command.js';

export const tlsCommand = defineCommand({
  name: 'tls',
  args: '[name]',
  description: 'serve HTTPS on your own domain with your own certificate (checked first), a Let\'s Encrypt one obtained on the instance (--tls acme) or the cloud\'s certificate and load balancer (--tls managed), HTTP redirected to HTTPS; sets the DNS record when its zone is in this cloud account, else prints it, and waits for it; --remove undoes it',
  yes: YES.confirms('change the DNS record (tls) or remove HTTPS (tls --remove)'),
  flags: {
    domain: str('--domain <name>', 'the name the site answers on, e.g. sourcegraph.example.com (required)'),
    tlsCert: str('--tls-cert <file>', 'your certificate for the domain, PEM: the certificate first, then its chain (required, unless --tls acme, or --tls managed on AWS or GCE)'),
    tlsKey: str('--tls-key <file>', 'its private key, PEM, without a passphrase (required, unless --tls acme, or --tls managed on AWS or GCE)'),
    tls: str('--tls <way>', 'acme: a Let\'s Encrypt certificate that k3s\'s Traefik obtains and renews on the instance (HTTP-01; AWS, GCE and Azure), instead of --tls-cert/--tls-key; managed: the cloud\'s load balancer in front of the instance, with the cloud\'s certificate (AWS, GCE) or your --tls-cert/--tls-key (Azure: an Application Gateway); see below'),
    acmeEmail: str('--acme-email <address>', 'with --tls acme: Let\'s Encrypt\'s account e-mail, for expiry notices (required)'),
    acmeStaging: bool('--acme-staging', 'with --tls acme: use Let\'s Encrypt\'s staging CA (for trials: its certificates are not trusted by browsers)'),
    acmeChallenge: str('--acme-challenge <type>', 'with --tls acme: dns-01 (a TXT record in the zone, through an IAM role of the instance\'s own; no port opened; AWS only so far) or http-01 (port 80 opened to the world); default: dns-01 when the domain\'s zone is in this account, else http-01'),
    iKnowPort80IsPublic: bool('--i-know-port-80-is-public', 'with --tls acme: accept opening port 80 to 0.0.0.0/0 for Let\'s Encrypt\'s validation without being asked (required when not interactive)'),
    keyVaultSecretId: str('--key-vault-secret-id <id>', 'with --tls managed on Azure: a Key Vault certificate instead of --tls-cert/--tls-key (not offered yet: exit 2)'),
    wait: negatable('--no-wait', 'do not wait for the domain to resolve to the deployment\'s address (nor, with --tls acme or managed on AWS/GCE, for the certificate)'),
    timeout: str('--timeout <minutes>', 'bound the wait for DNS (and, with --tls acme, for the certificate) (default: 30)'),
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
    `${PROGRAM} tls prod --cloud azure --domain sourcegraph.example.com --tls managed --tls-cert fullchain.pem --tls-key privkey.pem --yes`,
    `${PROGRAM} tls prod --domain sourcegraph.example.com --tls acme --acme-email admin@example.com --i-know-port-80-is-public`,
    `${PROGRAM} tls prod --domain sourcegraph.example.com --tls acme --acme-email admin@example.com --acme-challenge dns-01 --yes`,
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
from the data disk over SSH (the boot service then has nothing to serve again); after --tls acme also
Traefik's HelmChartConfig (Traefik returns to k3s's defaults), the Let's Encrypt storage on the data
disk, and the port-80 rule tls opened (only that rule); and the DNS record
tls set (as recorded on this machine) only while it still points at the deployment's address; the
value it replaced is named, not restored. Asks first (--yes). Never your certificate files on this
machine nor the zone. \`destroy\` deletes that DNS record too (only while it still points there).
Sourcegraph's externalURL is in its site configuration, not in the Helm values: set it yourself
(Site admin > Site configuration, "externalURL": "https://<domain>"); the command says so.
--tls managed (AWS, GCE and Azure): no SSH; on AWS and GCE no certificate files, on Azure yours.
On AWS it prints what it creates and the monthly cost it adds (an estimate from presets/aws-prices.json:
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
http://<address> no longer answers from outside: \`status\`, \`list\`, \`prune\`, \`config\`'s check and
the readiness wait of upgrade, rollback and restore ask https://<domain>/healthz (verified) instead,
and upgrade, rollback and a same-name restore make their new instance the target group's only target
(a journaled step, move-balancer-target, before the wait). DNS: an alias A record
to the load balancer in the zone, else the CNAME to create is printed. \`status\` shows the URL and
the certificate's state, expiry and renewal as ACM reports them, and probes https://<domain>/healthz. --remove (and \`destroy\`) deletes
the alias record (only while it still points at the load balancer), the listeners, the load
balancer, the target group, its security group, a subnet it created, the certificate and its
validation record, and restores the instance's rules.
On GCE: a Google-managed certificate and a global external Application Load Balancer. The cost it
prints (presets/gcp-prices.json): two global forwarding rules, 100 GiB processed a month, the global
static address (about $22.70/month); it says when the load balancer answers more addresses than
443 is open to now (no Cloud Armor). Google issues the certificate once the load balancer serves it
and the domain's A record points at its address, so the steps are: the certificate, an instance
group holding the instance (named port https:443), a firewall rule for Google's ranges
35.191.0.0/16 and 130.211.0.0/22 to 80/443, an HTTPS health check on /healthz and a backend service
(HTTPS to the instance's 443), a global address and URL map, a target HTTPS proxy with the
certificate and a forwarding rule on 443, a redirecting URL map, target HTTP proxy and forwarding
rule on 80; the instance's 80/443 rules then allow only Google's ranges (restored by --remove); the
A record in the project's Cloud DNS zone, else printed; last the wait for ACTIVE (--timeout, exit 4;
--no-wait stops before it). --remove (and \`destroy\`) deletes all of it in dependency order.
--tls managed on Azure: an Application Gateway (Standard_v2) in front of the VM, with your
certificate: --tls-cert and --tls-key are required and checked as above (exit 2, nothing created;
--key-vault-secret-id is not offered yet: exit 2). No SSH. It prints what it creates and the monthly
cost it adds (an estimate from presets/azure-prices.json: the gateway's fixed hours, 1 capacity
unit, its public IP) and asks (--yes). Then, each step journaled on this machine so a re-run goes on
where one stopped: a subnet of the gateway's own in the VM's virtual network (a free /24, else /26,
named sourcegraph-launch-appgw-<name>; created only when no subnet dedicated to application gateways
is there), a Standard static public IP, and the gateway (autoscaling 0-2) with your certificate
uploaded as a password-protected PFX, HTTPS on 443 (TLS 1.2/1.3) for --domain, 80 redirecting
(301) to 443, the VM's private address as backend over HTTP on port 80 inside the network (a v2
gateway verifies a backend's HTTPS certificate, and Traefik's self-signed one changes at every
start), health-checked on /healthz; waiting until it is provisioned (--timeout, exit 4, re-run to
keep waiting). The VM's 80/443 rules then allow only the gateway's subnet (the sources replaced are
kept and restored by --remove). DNS: the A record <domain> -> the gateway's address in the Azure DNS
zone when the subscription holds it, else printed. --no-wait changes nothing here. --remove (and
\`destroy\`) deletes the A record (only while it still points at the gateway), the gateway, its public
IP and a subnet it created, and restores the VM's rules. Renewing: --remove, then run it again with
the new files. upgrade, rollback and a same-name restore make their new VM's private address the
gateway's only backend (move-balancer-target) before the wait, which asks https://<domain>/healthz.
--tls acme --acme-email E: instead of your files, k3s's Traefik
obtains a Let's Encrypt certificate for the domain on the instance and renews it itself (HTTP-01:
Let's Encrypt fetches http://<domain>/.well-known/acme-challenge/… from anywhere). So port 80 is
opened to 0.0.0.0/0, as a rule marked as tls's (AWS: in the deployment's security group, described
as tls's; GCE: a firewall rule <tag>-80-acme for the deployment's network tag; Azure: the NSG rule
sourcegraph-launch-world-acme-http-01-80), which a launch --update and doctor leave alone and
tls --remove closes alone; a rule of yours already open to the world is left as yours:
asked at a terminal, else --i-know-port-80-is-public is required (exit 2, nothing changed; --yes is
not consent). It stays open for renewals. --acme-email is required (exit 2): Let's Encrypt's account,
for expiry notices. --acme-staging uses the staging CA (certificates browsers do not trust: for
trials, its rate limits are looser). Over SSH the settings go to /mnt/data/.sourcegraph-launch/acme
(root only) and provision/apply-acme.sh writes a HelmChartConfig for Traefik
(/var/lib/rancher/k3s/server/manifests/sourcegraph-acme-traefik.yaml: the "letsencrypt" resolver,
its storage in /mnt/data/.sourcegraph-launch/acme/store/acme.json, 0600, kept through upgrades) and
the same redirect and ingresses as above, using the resolver (your own certificate, if tls installed
one, is removed). The DNS record is set or printed as above. Then, unless --no-wait, it waits (within
--timeout) until the name resolves and https://<domain> serves a certificate that verifies (with
--acme-staging: a staging certificate for the domain); exit 4 otherwise, naming what to check (DNS,
port 80, Traefik's log), everything staying in place: run the same command again to wait again.
status and doctor read the expiry of the certificate served. tls with --tls-cert/--tls-key afterwards
replaces it (Traefik's ACME configuration removed, the port-80 rule closed).
--acme-challenge dns-01|http-01 (with --tls acme): the default is dns-01 when the cloud offers it
(AWS: Route 53) and a public zone of this account holds the domain (and the instance runs as no
instance profile of another's), else http-01 as above. dns-01 opens no port: Traefik's ACME client
(lego, provider route53) writes the TXT record _acme-challenge.<domain> in the zone with the
instance's own credentials, never your keys. After asking (--yes; --i-know-port-80-is-public is not
needed), each step journaled so a re-run goes on: the IAM role sourcegraph-launch-acme-<region>-<name>
(tagged; trusted by EC2; its one inline policy allows route53:ChangeResourceRecordSets on that hosted
zone for TXT records _acme-challenge.<domain> only, ListResourceRecordSets on it, GetChange and
ListHostedZonesByName), its instance profile (same name), put on the instance. The settings gain
challenge=dns-01, dns_provider=route53 and the zone and region, and apply-acme.sh renders the
resolver's dnsChallenge with them. A port-80 rule of an earlier HTTP-01 run is closed (and HTTP-01
deletes the role). --acme-challenge dns-01 exits 2 before anything changes without such a zone,
with --no-dns, when the instance has another instance profile, and on GCE and Azure (not offered
yet). tls --remove and tls with your own files take the profile off and delete it and the role;
destroy deletes them when this machine recorded them. Never the zone.
Exit codes: 0 served (and resolving, unless --no-wait), 1 failed, 2 bad input, a certificate
that does not fit, or a DNS change or removal without --yes (or --tls acme without
--i-know-port-80-is-public) when not interactive (nothing changed), 3 credentials or permissions,
4 the name did not resolve, or (--tls acme) no verified certificate was served, within --timeout.
`,
  run: async (deps, name, flags): Promise<unknown> => (await import('../../commands/tls.js')).runTls(deps, name, flags),
});

export type TlsCommandFlags = CommandFlags<typeof tlsCommand.flags>;
