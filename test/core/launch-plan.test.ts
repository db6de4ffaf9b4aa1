import { describe, expect, it } from 'vitest';
import { awsProvider } from '../../src/cloud/aws/provider.js';
import { clientTokenFor, dataVolumeFor, equivalentCommand, planToJson, summaryRows, type LaunchPlan } from '../../src/core/launch-plan.js';
import { SIZE_NAMES } from '../../src/core/presets.js';

const aws = awsProvider;
const presetMonthlyCost = (size: (typeof SIZE_NAMES)[number], region: string) =>
  aws.monthlyCost({ region, machineType: aws.sizes[size].machineType, root: aws.rootDisk, data: aws.sizes[size].dataDisk, publicAddress: true });

function plan(overrides: Partial<LaunchPlan> = {}): LaunchPlan {
  return {
    name: { value: 'sourcegraph', source: 'default' },
    cloud: { value: 'aws', source: 'flag' },
    region: { value: 'us-east-1', source: 'flag' },
    size: { value: 'S', source: 'prompt' },
    version: { value: '6.12.5040', source: 'catalog', detail: 'newest published' },
    image: { value: { id: 'ami-0d5604b984e5bd659', name: 'Sourcegraph v6.12.5040', source: 'catalog' }, source: 'catalog' },
    instanceType: { value: 'm6a.4xlarge', source: 'preset' },
    dataSizeGiB: { value: 500, source: 'preset' },
    allowCidrs: { value: ['203.0.113.0/24'], source: 'flag' },
    sshCidrs: { value: ['203.0.113.7/32'], source: 'saved' },
    iKnowSshIsPublic: false,
    sshKey: { value: { mode: 'generate', privateKeyPath: '/h/keys/k' }, source: 'default' },
    sshUser: { value: 'ec2-user', source: 'default' },
    subnet: { value: undefined, source: 'default' },
    encryptionKey: { value: undefined, source: 'default' },
    address: { value: { mode: 'new' }, source: 'default' },
    wait: true,
    timeoutMinutes: { value: 45, source: 'default' },
    holdSeconds: { value: 90, source: 'default' },
    ...overrides,
  };
}

describe('presets', () => {
  it('match the reference sizes and disks', () => {
    expect(SIZE_NAMES.map((n) => [n, aws.sizes[n].machineType, aws.sizes[n].dataDisk.type, aws.sizes[n].dataDisk.iops])).toEqual([
      ['XS', 'm6a.2xlarge', 'gp3', 3000],
      ['S', 'm6a.4xlarge', 'gp3', 3000],
      ['M', 'm6a.8xlarge', 'gp3', 3000],
      ['L', 'm6a.12xlarge', 'io2', 16000],
      ['XL', 'm6a.24xlarge', 'io2', 16000],
    ]);
    expect(SIZE_NAMES.every((n) => aws.sizes[n].dataDisk.sizeGiB === 500)).toBe(true);
  });

  it('prices a preset from instance hours, both volumes and the public IPv4, in its region', () => {
    const xs = presetMonthlyCost('XS', 'us-east-1');
    expect(xs.parts.map((p) => [p.item, p.monthlyUsd])).toEqual([
      ['instance', 252.29], // 0.3456 * 730
      ['root volume', 4], // 50 GiB gp3 at 0.08
      ['data volume', 40], // 500 GiB gp3, 3000 IOPS and 125 MiB/s included
      ['public IPv4 address', 3.65],
    ]);
    expect(xs.totalUsd).toBe(299.94);
    const l = presetMonthlyCost('L', 'us-east-1');
    expect(l.parts[2]!.monthlyUsd).toBe(500 * 0.125 + 16000 * 0.065);
  });
});

describe('launch plan', () => {
  it('data volume follows the preset, size from the plan', () => {
    expect(dataVolumeFor(plan({ size: { value: 'XL', source: 'flag' }, dataSizeGiB: { value: 800, source: 'flag' } }), aws)).toEqual({
      type: 'io2',
      sizeGiB: 800,
      iops: 16000,
    });
  });

  it('summary shows every value with where it came from', () => {
    const rows = Object.fromEntries(summaryRows(plan(), aws).map((r) => [r.setting, r]));
    expect(rows.region).toEqual({ setting: 'region', value: 'us-east-1', source: 'flag' });
    expect(rows.size!.source).toBe('you chose');
    expect(rows.size!.value).toBe('S (up to 1,000 users, 10,000 repos)');
    expect(rows['monthly cost']!.value).toMatch(/^≈ \$\d[\d,]*\/month \(instance \$505 \+ root volume \$4 \+ data volume \$40 \+ public IPv4 address \$4, on-demand\)$/);
    expect(rows['monthly cost']!.source).toMatch(/list prices of \d{4}-\d\d-\d\d, presets\/aws-prices\.json/);
    expect(rows.version!.source).toBe('catalog (newest published)');
    expect(rows['SSH from']!.source).toBe('saved answer');
    expect(rows['instance type']!.source).toBe('preset');
    expect(rows['data volume']!.value).toMatch(/500 GiB gp3, encrypted, kept on destroy/);
    expect(rows['SSH from']!.value).toBe('203.0.113.7/32');
    expect(summaryRows(plan({ sshCidrs: { value: [], source: 'flag' } }), aws).find((r) => r.setting === 'SSH from')!.value).toMatch(/nobody/);
  });

  it('equivalent command replays the plan without prompts', () => {
    expect(equivalentCommand(plan(), aws)).toBe(
      'npx sourcegraph-launch launch --yes --cloud aws --region us-east-1 --size S --version 6.12.5040 --name sourcegraph --allow-cidr 203.0.113.0/24 --ssh-cidr 203.0.113.7/32',
    );
    const custom = equivalentCommand(
      plan({
        sshCidrs: { value: [], source: 'flag' },
        sshKey: { value: { mode: 'existing', keyName: 'team key' }, source: 'flag' },
        instanceType: { value: 'm7a.4xlarge', source: 'flag' },
        address: { value: { mode: 'existing', id: 'eipalloc-0123456789abcdef0' }, source: 'flag' },
        image: { value: { id: 'ami-0123456789abcdef0', source: 'flag' }, source: 'flag' },
        wait: false,
      }),
      aws,
      'sourcegraph-launch',
    );
    expect(custom).toContain("--key-name 'team key'");
    expect(custom).toContain('--ssh-cidr none');
    expect(custom).toContain('--instance-type m7a.4xlarge');
    expect(custom).toContain('--elastic-ip eipalloc-0123456789abcdef0');
    expect(custom).toContain('--image ami-0123456789abcdef0');
    expect(custom).toContain('--no-wait');
    expect(custom.startsWith('sourcegraph-launch launch --yes')).toBe(true);
  });

  it('client tokens are stable per attempt, differ per attempt, and fit EC2 limits', () => {
    const a = clientTokenFor('sourcegraph', 'abc123', 'instance');
    expect(a).toBe(clientTokenFor('sourcegraph', 'abc123', 'instance'));
    expect(a).not.toBe(clientTokenFor('sourcegraph', 'def456', 'instance'));
    expect(clientTokenFor('x'.repeat(40), 'abcdef123456', 'instance').length).toBeLessThanOrEqual(64);
  });

  it('plan JSON carries value and source for every setting', () => {
    const j = planToJson(plan(), aws) as Record<string, { value: unknown; source: string }>;
    expect(j.region).toEqual({ value: 'us-east-1', source: 'flag' });
    expect(j.subnet).toEqual({ value: null, source: 'default' });
    expect(j.version).toEqual({ value: '6.12.5040', source: 'catalog', detail: 'newest published' });
    expect(j.wait).toBe(true);
    // The names AWS users' scripts read, beside the neutral ones.
    expect(j.kmsKey).toEqual({ value: null, source: 'default' });
    expect(j.elasticIp).toEqual({ value: { mode: 'new' }, source: 'default' });
    expect(j.address).toEqual({ value: { mode: 'new' }, source: 'default' });
    const brought = planToJson(plan({ address: { value: { mode: 'existing', id: 'eipalloc-0123456789abcdef0' }, source: 'flag' } }), aws) as Record<string, { value: unknown }>;
    expect(brought.elasticIp!.value).toEqual({ mode: 'existing', allocationId: 'eipalloc-0123456789abcdef0' });
  });
});
