// The real CLI process on bad or missing input: exit 2 naming the flag, before any cloud call.
// These runs point the SDK at a dead endpoint: had the CLI called the cloud, it would have failed
// with a network error (exit 1) instead of the usage error (exit 2) asserted here.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const home = mkdtempSync(join(tmpdir(), 'sgl-input-'));
const base = ['launch', '--region', 'us-east-1', '--allow-cidr', '203.0.113.7/32'];

describe('CLI: help and version', () => {
  it('--help teaches: commands, examples, exit codes', async () => {
    const r = await runCli(['--help'], { home });
    expect(r.code).toBe(0);
    for (const cmd of ['launch', 'presets', 'status', 'list', 'destroy', 'upgrade', 'rollback', 'backup', 'backups', 'restore', 'prune', 'build-image']) expect(r.stdout).toContain(cmd);
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toMatch(/Exit codes:\n  0 +ok/);
  });

  it('lists -V, --version with the other options, aligned like them', async () => {
    const r = await runCli(['--help'], { home });
    const options = r.stdout.slice(r.stdout.indexOf('Options:'), r.stdout.indexOf('Commands:'));
    const column = (flag: string) => {
      const line = options.split('\n').find((l) => l.trimStart().startsWith(flag));
      expect(line, `${flag} in\n${options}`).toBeDefined();
      const start = line!.search(/\S/);
      return [start, start + flag.length + line!.slice(start + flag.length).search(/\S/)];
    };
    expect(column('-V, --version')).toEqual(column('-h, --help'));
    expect(options).toMatch(/-V, --version +print the version of sourcegraph-launch/);
    // Nowhere else: not dangling after the command list.
    expect(r.stdout.split('-V, --version')).toHaveLength(2);
  });

  it.each([
    ['launch', /-y, --yes +launch without confirming the plan\. Not on a terminal or with CI set, launch never asks/],
    ['destroy', /-y, --yes +delete without asking you to type the name\. Required when not on a terminal or when CI is set/],
    ['upgrade', /-y, --yes +upgrade without asking for confirmation\. Required when not on a terminal/],
    ['rollback', /-y, --yes +roll back without asking for confirmation\. Required when not on a terminal/],
    ['restore', /-y, --yes +restore without asking for confirmation\. Required when not on a terminal/],
    ['prune', /-y, --yes +remove without asking for confirmation\. Required when not on a terminal/],
    ['status', /-y, --yes +accepted and ignored: status never asks anything/],
    ['list', /-y, --yes +accepted and ignored: list never asks anything/],
    ['presets', /-y, --yes +accepted and ignored: presets never asks anything/],
    ['backup', /-y, --yes +accepted and ignored: backup never asks anything/],
    ['backups', /-y, --yes +accepted and ignored: backups never asks anything/],
    ['build-image', /-y, --yes +accepted and ignored: build-image never asks anything/],
  ])('%s --help says what -y does there', async (cmd, yes) => {
    const r = await runCli([cmd, '--help'], { home });
    // Help text wraps: compare with the wrapping undone.
    expect(r.stdout.replace(/\n {10,}/g, ' ')).toMatch(yes);
    expect(r.stdout).not.toMatch(/implied when not on a TTY/);
  });

  it.each(['launch', 'status', 'list', 'ssh', 'logs', 'destroy', 'presets', 'upgrade', 'rollback', 'backup', 'backups', 'restore', 'prune', 'build-image'])('%s --help has examples', async (cmd) => {
    const r = await runCli([cmd, '--help'], { home });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: sourcegraph-launch ${cmd}`);
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toContain('--json');
  });

  it('--version prints the tool version; launch --version is the Sourcegraph version', async () => {
    const r = await runCli(['--version'], { home });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const j = await runCli(['--version', '--json'], { home });
    expect(j.json()).toEqual({ version: r.stdout.trim() });
  });

  it('a mistyped command is refused with a suggestion, exit 2, before anything runs', async () => {
    for (const args of [['lanch'], ['lanch', '--region', 'us-east-1'], ['--yes', 'lanch'], ['--profile', 'x', 'lanch'], ['--region', 'us-east-1', 'lanch'], ['help', 'lanch']]) {
      const r = await runCli(args, { home });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain("unknown command 'lanch' — did you mean 'launch'?");
      expect(r.stderr).not.toMatch(/too many arguments/);
    }
    const far = await runCli(['kubernetes'], { home });
    expect(far.code).toBe(2);
    expect(far.stderr).toMatch(/unknown command 'kubernetes'\n/);
    const json = await runCli(['stauts', '--json'], { home });
    expect(json.code).toBe(2);
    expect(json.json()).toMatchObject({ error: { code: 'unknown-command', exitCode: 2, message: "unknown command 'stauts' — did you mean 'status'?" } });
  });

  it('no arguments, or flags only, is still launch', async () => {
    const none = await runCli([], { home });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--allow-cidr is required when not running interactively/);
    const flags = await runCli(['--region', 'us-east-1', '--allow-cidr', '203.0.113.7/32', '--dry-run', '--json'], { home, env: { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined } });
    expect(flags.code, flags.stderr).toBe(0);
    expect(flags.json<{ plan: { name: { value: string } } }>().plan.name.value).toBe('sourcegraph');
  });

  it('an unknown option exits 2', async () => {
    const r = await runCli(['launch', '--colour', 'blue'], { home });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--colour'/);
  });
});

describe('CLI: bad input exits 2 naming the flag, before any cloud call', () => {
  it.each([
    [['--size', 'XXL'], /--size: unknown size "XXL". Valid choices: XS, S, M, L, XL/],
    [['--region', 'mars-north-1'], /--region: "mars-north-1" is not a valid choice.*us-east-1/],
    [['--version', '6.12'], /--version: "6.12" is not a Sourcegraph version/],
    [['--allow-cidr', '10.0.0.1/8'], /--allow-cidr: "10.0.0.1\/8" is not a valid CIDR \(host bits are set/],
    [['--ssh-cidr', '0.0.0.0/0'], /--ssh-cidr 0.0.0.0\/0 opens SSH to the whole internet/],
    [['--data-size', '100'], /--data-size 100 is below the preset minimum of 500 GiB/],
    [['--cloud', 'gcp'], /--region: "us-east-1" is not a valid choice\. Valid choices: us-central1, /],
    [['--cloud', 'gcp', '--project', 'Bad_Project'], /--project: "Bad_Project" is not valid\. Expected something like my-project-123/],
    [['--cloud', 'azure', '--subscription', 'mine'], /--subscription: "mine" is not valid/],
    [['--cloud', 'azure', '--public-ip', 'eipalloc-0123456789abcdef0'], /--public-ip: "eipalloc-0123456789abcdef0" is not valid/],
    [['--elastic-ip', 'yes'], /--elastic-ip: "yes" is not valid/],
    [['--image', 'ubuntu'], /--image: "ubuntu" is not valid/],
    [['--ssh-key', '/nonexistent/id.pub'], /--ssh-key: cannot read \/nonexistent\/id.pub/],
    [['--timeout', 'soon'], /--timeout: "soon" must be a number of minutes/],
    [['--name', 'Prod_1'], /--name: "Prod_1" must be 1–40 lowercase letters/],
    [['--schedule', 'weekly'], /--schedule must be daily, not "weekly"/],
    [['--schedule', 'daily', '--retain', '0'], /--retain: "0" must be a whole number/],
    [['--image-source', 'docker'], /--image-source: "docker" is not valid/],
  ])('%j', async (extra, message) => {
    const r = await runCli([...base, ...extra, '--yes'], { home });
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
  });

  it('CI without --allow-cidr exits 2 naming it (no silent default)', async () => {
    const r = await runCli(['launch', '--region', 'us-east-1'], { home });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--allow-cidr is required when not running interactively/);
  });

  it('CI without a region (and no AWS_REGION) exits 2 naming --region', async () => {
    const r = await runCli(['launch', '--allow-cidr', '203.0.113.7/32'], { home, env: { AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--region is required when not running interactively/);
  });

  it('--json errors are one JSON object on stdout', async () => {
    const r = await runCli([...base, '--size', 'huge', '--json'], { home });
    expect(r.code).toBe(2);
    expect(r.json()).toMatchObject({ error: { code: 'bad-input', exitCode: 2, message: expect.stringMatching(/^--size/) } });
  });

  it('destroy in CI without --yes exits 2 naming --yes', async () => {
    // destroy checks credentials and finds resources first; with a dead endpoint that fails, so
    // this case is covered against moto in launch-lifecycle.e2e.test.ts. Here: status without a
    // region and no record names --region.
    const r = await runCli(['status', 'ghost'], { home, env: { AWS_REGION: undefined } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--region is required to find deployment ghost/);
  });
});

describe('CLI: one deployment name, given as [name] or --name', () => {
  const snapshot = ['--snapshot', 'snap-0123456789abcdef0'];
  it.each([
    ['launch', ['launch', 'a', '--name', 'b', '--region', 'us-east-1', '--allow-cidr', '203.0.113.7/32']],
    ['status', ['status', 'a', '--name', 'b']],
    ['destroy', ['destroy', 'a', '--name', 'b']],
    ['upgrade', ['upgrade', 'a', '--name', 'b']],
    ['rollback', ['rollback', 'a', '--name', 'b']],
    ['backup', ['backup', 'a', '--name', 'b']],
    ['backups', ['backups', 'a', '--name', 'b']],
    ['restore', ['restore', 'a', '--name', 'b', ...snapshot]],
    ['prune', ['prune', 'a', '--name', 'b']],
    ['ssh', ['ssh', 'a', '--name', 'b']],
    ['logs', ['logs', 'a', '--name', 'b']],
  ])('%s: two different names exit 2 before any cloud call', async (_cmd, args) => {
    const r = await runCli([...args, '--yes'], { home });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/The deployment name was given twice, differently: "a" and --name b/);
  });

  // status, destroy, backups and restore act on the named deployment in cli-contract.e2e.test.ts (moto).
  it.each([
    ['upgrade', ['upgrade', 'a', '--name', 'a']],
    ['rollback', ['rollback', '--name', 'a']],
    ['backup', ['backup', '--name', 'a']],
    ['prune', ['prune', 'a', '--name', 'a']],
  ])('%s: --name (alone or with the same [name]) is accepted: the run gets as far as the cloud', async (_cmd, args) => {
    // The endpoint is dead, so the first cloud call fails: exit 1, not the usage error exit 2.
    const r = await runCli([...args, '--region', 'us-east-1', '--yes'], { home });
    expect(r.stderr).not.toMatch(/unknown option|given twice/);
    expect(r.code, r.stderr).toBe(1);
  });
});

describe('CLI: ssh takes what follows -- as the remote command', () => {
  it('options after -- are the command\'s, not ours; nothing after -- is bad input', async () => {
    // The endpoint is dead: a run that gets past the options fails at its first cloud call (exit 1).
    const passed = await runCli(['ssh', 'a', '--region', 'us-east-1', '--', 'ls', '--name', 'b', '--json'], { home });
    expect(passed.stderr).not.toMatch(/unknown option|given twice/);
    expect(passed.code, passed.stderr).toBe(1);
    const empty = await runCli(['ssh', 'a', '--region', 'us-east-1', '--json', '--'], { home });
    expect(empty.code).toBe(2);
    expect(empty.json()).toMatchObject({ error: { code: 'no-command' } });
    const extra = await runCli(['ssh', 'a', 'ls'], { home });
    expect(extra.code).toBe(2);
  });
});

describe('CLI: credentials', () => {
  it('no credentials exits 3 naming the profile it tried and how to fix it', async () => {
    const r = await runCli([...base, '--yes', '--profile', 'ghost'], {
      home,
      env: { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined },
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/ghost/);
    expect(r.stderr).toMatch(/aws (sso login|configure)/);
  });
});

describe('CLI: presets and offline dry run', () => {
  it('presets lists sizes with guidance and cost', async () => {
    const r = await runCli(['presets'], { home });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/XS\s+≤ 500\s+≤ 1,000\s+5 GB\s+8\/32 GiB\s+m6a.2xlarge\s+500 GiB gp3\s+\$\d+/);
    expect(r.stdout).toMatch(/XL .*m6a.24xlarge\s+500 GiB io2 16000 IOPS/);
    const j = await runCli(['presets', '--versions', '--json'], { home });
    const body = j.json<{ sizes: { size: string }[]; versions: { version: string }[] }>();
    expect(body.sizes.map((s) => s.size)).toEqual(['XS', 'S', 'M', 'L', 'XL']);
    expect(body.versions[0]!.version).toBe('6.12.5040');
  });

  it('the cost estimate prices what will really be launched, in --json too, and says when a price is unknown', async () => {
    const offline = { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined };
    const r = await runCli([...base, '--size', 'M', '--instance-type', 'm6a.48xlarge', '--data-size', '4000', '--dry-run', '--json'], { home, env: offline });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/monthly cost\s+≈ \$6,383\/month \(instance \$6055 \+ root volume \$4 \+ data volume \$320 \+ public IPv4 address \$4, on-demand\)/);
    const cost = r.json<{ plan: { monthlyCost: { totalUsd: number; priceDate: string; parts: { item: string; monthlyUsd: number }[] } } }>().plan.monthlyCost;
    expect(cost.totalUsd).toBe(6382.56);
    expect(cost.priceDate).toMatch(/^\d{4}-\d\d-\d\d$/);
    expect(cost.parts.map((p) => p.item)).toEqual(['instance', 'root volume', 'data volume', 'public IPv4 address']);
    const unknown = await runCli(['launch', '--region', 'eu-south-1', '--allow-cidr', '203.0.113.7/32', '--version', '6.12.5040', '--dry-run', '--yes'], { home, env: offline });
    expect(unknown.stdout + unknown.stderr).toMatch(/monthly cost\s+price unknown \(no instance m6a\.2xlarge/);
    const presets = await runCli(['presets', '--region', 'eu-south-1'], { home });
    expect(presets.stdout).toMatch(/XS .* price unknown/);
  });

  it('--dry-run --json without credentials works offline from the catalog and lists every request', async () => {
    const r = await runCli([...base, '--size', 'L', '--version', '6.12.5040', '--name', 'prod', '--kms-key', 'alias/sg', '--schedule', 'daily', '--retain', '14', '--dry-run', '--json'], {
      home,
      env: { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/works offline/);
    const out = r.json<{ plan: Record<string, { value: unknown; source: string }>; requests: { service: string; operation: string; input: Record<string, any> }[] }>();
    expect(out.plan.region).toEqual({ value: 'us-east-1', source: 'flag' });
    expect(out.plan.instanceType).toEqual({ value: 'm6a.12xlarge', source: 'preset' });
    expect(out.plan.image).toMatchObject({ value: { id: 'ami-0d5604b984e5bd659' }, source: 'catalog' });
    expect(out.requests.map((q) => q.operation)).toEqual([
      'ImportKeyPair',
      'CreateSecurityGroup',
      'AuthorizeSecurityGroupIngress',
      'RunInstances',
      'CreateTags',
      'CreateTags',
      'AllocateAddress',
      'AssociateAddress',
      'CreateLifecyclePolicy',
    ]);
    const dlm = out.requests.at(-1)!.input;
    expect(dlm.PolicyDetails.TargetTags).toEqual([{ Key: 'Name', Value: 'prod-data' }]);
    expect(dlm.PolicyDetails.Schedules[0].RetainRule).toEqual({ Count: 14 });
    expect(out.plan.schedule).toEqual({ value: { schedule: 'daily', retain: 14 }, source: 'flag' });
    const run = out.requests.find((q) => q.operation === 'RunInstances')!.input;
    expect(run.ImageId).toBe('ami-0d5604b984e5bd659');
    expect(run.InstanceType).toBe('m6a.12xlarge');
    expect(run.MetadataOptions).toMatchObject({ HttpTokens: 'required', HttpPutResponseHopLimit: 2 });
    expect(run.ClientToken).toMatch(/^sgl-prod-/);
    const data = run.BlockDeviceMappings.find((b: any) => b.DeviceName === '/dev/sdb').Ebs;
    expect(data).toMatchObject({ VolumeSize: 500, VolumeType: 'io2', Iops: 16000, DeleteOnTermination: false, Encrypted: true, KmsKeyId: 'alias/sg' });
    const root = run.BlockDeviceMappings.find((b: any) => b.DeviceName === '/dev/xvda').Ebs;
    expect(root).toMatchObject({ VolumeSize: 50, VolumeType: 'gp3', DeleteOnTermination: true, Encrypted: true });
    const ingress = out.requests.find((q) => q.operation === 'AuthorizeSecurityGroupIngress')!.input;
    const ports = ingress.IpPermissions.map((p: any) => [p.FromPort, p.IpRanges.map((x: any) => x.CidrIp)]);
    expect(ports).toEqual([
      [80, ['203.0.113.7/32']],
      [443, ['203.0.113.7/32']],
      [22, ['203.0.113.7/32']],
    ]);
  });
});

describe('CLI: a version without a published image', () => {
  it('names complete commands: launch --image-source build, build-image and base, with every flag they require', async () => {
    const r = await runCli(['launch', 'prod', '--region', 'us-east-1', '--size', 'S', '--version', '6.13.100', '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', '203.0.113.7/32', '--dry-run', '--yes'], {
      home,
      env: { AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('launch prod --region us-east-1 --size S --version 6.13.100 --allow-cidr 203.0.113.0/24 --ssh-cidr 203.0.113.7/32 --image-source build');
    expect(r.stderr).toContain('build-image --region us-east-1 --version 6.13.100 --size S --ssh-cidr 203.0.113.7/32');
    expect(r.stderr).toContain('--image-source base');
  });
});
