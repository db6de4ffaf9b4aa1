import { bool, list, negatable, str } from '../flags.js';
import { defineCommand, type CommandFlags, PROGRAM, YES } from '../command.js';
import { cloudIds, comingClouds, perCloud, regionVariables } from '../cloud-text.js';

export const launchFlags = {
  cloud: str('--cloud <cloud>', `cloud provider: ${cloudIds()} (default: aws${comingClouds()})`),
  region: str('--region <region>', `cloud region (default in CI: ${regionVariables()})`),
  size: str('--size <size>', 'business-size preset XS|S|M|L|XL (see `presets`; default: XS)'),
  version: str('--version <version>', 'Sourcegraph version x.y.z, or latest (default: latest)'),
  image: str('--image <image>', `image to launch, skipping discovery (${perCloud((p) => p.imageIdExample)})`),
  imageSource: str('--image-source <source>', 'published (default), build (use or build our own image), base (plain OS provisioned at first boot)'),
  schedule: str('--schedule <daily>', `also snapshot the data volume daily with the cloud's snapshot schedule (${perCloud((p) => p.terms.snapshotSchedules)})`),
  retain: str('--retain <N>', 'with --schedule: how many daily snapshots to keep (default: 7)'),
  allowCidr: list('--allow-cidr <cidr>', 'who may reach HTTP/HTTPS; repeat or comma-separate (required in CI)'),
  sshCidr: list('--ssh-cidr <cidr>', 'who may reach SSH; repeat or comma-separate, or "none" (default: same as --allow-cidr; a world-open value needs --i-know-ssh-is-public)'),
  iKnowSshIsPublic: bool('--i-know-ssh-is-public', 'allow --ssh-cidr 0.0.0.0/0'),
  sshKey: str('--ssh-key <path>', 'import this OpenSSH public key (.pub) instead of creating a new key'),
  identityFile: str('--identity-file <path>', 'private key for SSH when using a key the cloud already has (--key-name)'),
  name: str('--name <name>', 'deployment name, used in tags and resource names; the same as the [name] argument (default: sourcegraph)'),
  instanceType: str('--instance-type <type>', 'override the preset instance type'),
  dataSize: str('--data-size <GiB>', 'data volume size (at least the preset minimum, 500)'),
  subnet: str('--subnet <subnet-id>', `subnet to launch into (default: the ${perCloud((p) => p.terms.defaultSubnet)})`),
  sshUser: str('--ssh-user <user>', `SSH login user on the image (default: ${perCloud((p) => p.loginUser)}; Azure refuses root, admin and its other reserved names)`),
  dataVolume: str(
    '--data-volume <new|id>',
    `after a destroy kept the data: launch on that volume (${perCloud((p) => p.diskIdExample)}; attached before the first boot), or new for an empty one (required in CI when kept data exists)`,
  ),
  update: bool('--update', 'the deployment exists: apply changed --allow-cidr/--ssh-cidr rules to it (the only change a re-run makes)'),
  dryRun: bool('--dry-run', 'make no change: show the plan and every mutating request in order'),
  wait: negatable('--no-wait', 'return as soon as the instance runs'),
  timeout: str('--timeout <minutes>', 'bound the whole readiness wait (default: 45)'),
  holdSeconds: str('--hold-seconds <seconds>', 'how long /healthz must keep serving the version (default: 90)'),
  domain: str('--domain <name>', 'once ready, serve HTTPS on this name with --tls-cert/--tls-key (the steps of `tls`; not with --no-wait or --ssh-cidr none: installed over SSH), --tls acme or --tls managed'),
  tlsCert: str('--tls-cert <file>', 'with --domain: your certificate, PEM (certificate first, then its chain); checked before anything is created'),
  tlsKey: str('--tls-key <file>', 'with --domain: its private key, PEM, without a passphrase'),
  tls: str('--tls <way>', 'with --domain: acme (a Let\'s Encrypt certificate obtained on the instance, the steps of `tls --tls acme`; AWS, GCE and Azure) instead of --tls-cert/--tls-key; managed: the cloud\'s certificate and load balancer, the steps of `tls --tls managed` (AWS and GCE; on Azure exit 2: run `tls --tls managed --tls-cert … --tls-key …` after the launch)'),
  acmeEmail: str('--acme-email <address>', 'with --tls acme: Let\'s Encrypt\'s account e-mail, for expiry notices (required)'),
  acmeStaging: bool('--acme-staging', 'with --tls acme: Let\'s Encrypt\'s staging CA (certificates browsers do not trust: for trials)'),
  acmeChallenge: str('--acme-challenge <type>', 'with --tls acme: dns-01 (a TXT record in the zone, through an IAM role of the instance\'s own; no port opened; AWS only so far) or http-01 (port 80 opened to the world); default: dns-01 when the domain\'s zone is in this account, else http-01'),
  iKnowPort80IsPublic: bool('--i-know-port-80-is-public', 'with --tls acme: accept opening port 80 to 0.0.0.0/0 for Let\'s Encrypt\'s validation (required when not interactive)'),
  dns: negatable('--no-dns', 'with --domain: never look at or change DNS zones in the cloud account; print the record(s) to create'),
};

export const launchCommand = defineCommand({
  name: 'launch',
  args: '[name]',
  isDefault: true,
  description: 'create a Sourcegraph deployment and wait until it serves the requested version (default command)',
  yes: YES.launch,
  flags: launchFlags,
  cloud: true,
  examples: [
    `${PROGRAM}                              # interactive wizard`,
    `${PROGRAM} launch --cloud aws --region us-east-1 --size M --version 6.12.5040 \\\n      --allow-cidr 198.51.100.0/24 --ssh-cidr 198.51.100.7/32 --yes`,
    `${PROGRAM} launch --region eu-west-1 --allow-cidr 203.0.113.7/32 --dry-run --json   # requests only`,
    `${PROGRAM} launch --region us-east-1 --allow-cidr 10.0.0.0/8 --ssh-cidr none --subnet subnet-0abc… --elastic-ip none`,
  ],
  helpAfter:
    `\nRe-running the same command resumes an interrupted launch: nothing is created twice.\n` +
    `A deployment of that name that exists (from any machine) is never rewritten: if this run differs from it,\n` +
    `launch exits 1 listing each difference and how to change it; --update applies changed access rules only.\n` +
    `After a destroy kept the data, a relaunch of the name asks (CI: --data-volume <id>|new) whether to launch on it.\n` +
    `The data volume is encrypted, kept on termination, and holds all Sourcegraph state.\n` +
    `--domain D --tls-cert F --tls-key K: the files are checked as \`tls\` checks them before anything is created\n` +
    `(exit 2, nothing made); after the readiness wait succeeds, launch runs the steps of \`tls\` (certificate\n` +
    `served over SSH, HTTP redirected; the A record set in a public DNS zone of the account, else printed;\n` +
    `then it waits up to 30 min for the name to resolve). Not on a terminal or with CI set it needs --yes or --no-dns.\n` +
    `If that step fails, the instance stays and launch exits 1 naming the \`tls\` command that finishes it.\n` +
    `--domain with --no-wait exits 2 (but with --tls managed): launch, then run \`tls\`.\n` +
    `--domain D --tls acme --acme-email E: the steps of \`tls --tls acme\` once ready (port 80 opened to 0.0.0.0/0 as a\n` +
    `marked rule, Traefik configured for Let's Encrypt over SSH, then the wait for a certificate that verifies);\n` +
    `checked first: --acme-email (exit 2), and not on a terminal or with CI set --i-know-port-80-is-public (exit 2).\n` +
    `--domain D --tls managed (AWS and GCE; on Azure exit 2 before anything is created: run \`tls --tls managed\n` +
    `--tls-cert … --tls-key …\` after the launch): the steps of \`tls --tls managed\` (no SSH): the plan shows the\n` +
    `monthly cost it adds; not on a terminal or with CI set it needs --yes (exit 2, the cost printed); --tls-cert/\n` +
    `--tls-key or --acme-* with it exit 2. Once ready: on AWS the ACM certificate (validated through DNS, record set in\n` +
    `the account's zone or printed; up to 30 min until issued), the load balancer and the domain's alias record; on GCE\n` +
    `the global external load balancer and the domain's A record (set in the project's Cloud DNS zone or printed), then\n` +
    `the wait (up to 30 min) until the Google-managed certificate is ACTIVE; then https://<domain>/healthz probed with\n` +
    `the certificate verified (--json: tls, https). With --no-wait it stops once the certificate is requested (AWS: its\n` +
    `validation record set or printed; GCE: the balancer built, the A record set or printed); the same command again\n` +
    `goes on, as does a re-run after an interruption (the steps are journaled; nothing is created twice). Once the\n` +
    `instance's 80/443 are open only to the load balancer, the same launch again skips the launch's own steps and\n` +
    `changes nothing.\n`,
  run: async (deps, name, flags): Promise<unknown> => (await import('../../commands/launch.js')).runLaunch(deps, { ...flags, ...(name !== undefined ? { name } : {}) }),
});

export type LaunchFlags = CommandFlags<typeof launchCommand.flags>;
