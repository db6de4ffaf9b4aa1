// status and list in-process against moto: the JSON fields scripts rely on, the human text in the
// cloud's words, and what moto cannot show (a snapshot-made data disk still loading its blocks).
// moto's instance addresses are never contacted: the probe is replaced.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ListFlags, StatusFlags } from '../../src/cli/commands/status.js';
import { awsProvider } from '../../src/cloud/aws/provider.js';
import type { Cloud, Deployment } from '../../src/cloud/port.js';
import { runLaunch, type LaunchResult } from '../../src/commands/launch.js';
import { runList, runStatus } from '../../src/commands/status.js';
import type { TargetFlags } from '../../src/commands/target.js';
import { LaunchError } from '../../src/core/errors.js';
import { makeDeps, ScriptedIo, tempHome } from '../support/deps.js';
import { startMoto, type MotoServer } from '../support/moto.js';

let moto: MotoServer;
beforeAll(async () => {
  moto = await startMoto({ images: [{ id: 'ami-0a1b2c3d4e5f6071c', name: 'Sourcegraph v6.12.5040', ownerId: '840044800169' }] });
});
afterAll(async () => moto?.stop());

const statusFlags = (extra: Partial<StatusFlags & TargetFlags> = {}): StatusFlags & TargetFlags => ({ region: 'us-east-1', providerFlags: {}, ...extra });
const ci = () => new ScriptedIo([], false);

async function launch(name: string, home: string): Promise<LaunchResult> {
  const flags = { cloud: 'aws', region: 'us-east-1', size: 'S', version: '6.12.5040', allowCidr: ['198.51.100.0/24'], sshCidr: ['none'], yes: true, wait: false, name, providerFlags: {} };
  return (await runLaunch(makeDeps({ endpoint: moto.endpoint, io: ci(), home }), flags)) as LaunchResult;
}

describe('status', () => {
  it('keeps every JSON field scripts read, and shows the deployment in the cloud\'s words', async () => {
    const home = tempHome();
    const launched = await launch('shown', home);
    const asked: string[] = [];
    const httpGet = async (url: string) => {
      asked.push(url);
      return { status: 200, body: '6.12.5040' };
    };
    // A backup of the data disk, taken through the port, is the "last backup".
    const cloud = await makeDeps({ endpoint: moto.endpoint, io: ci() }).connect(awsProvider, { provider: 'aws', region: 'us-east-1', params: {} });
    const backup = await cloud.createSnapshot({ deployment: 'shown', diskId: launched.resources.dataVolumeId!, labels: { deployment: 'shown', purpose: 'backup' }, description: 'test', operation: 'status-test' });
    const io = ci();
    const status = await runStatus(makeDeps({ endpoint: moto.endpoint, io, home, httpGet }), 'shown', statusFlags());
    expect(status.lastBackup).toMatchObject({ snapshotId: backup.id, age: expect.stringMatching(/^\d+ min$/) });
    expect(status).toMatchObject({
      name: 'shown',
      cloud: 'aws',
      region: 'us-east-1',
      state: 'running',
      instanceId: launched.instanceId,
      instanceType: 'm6a.4xlarge',
      machineType: 'm6a.4xlarge',
      imageId: 'ami-0a1b2c3d4e5f6071c',
      size: 'S',
      versionTag: '6.12.5040',
      servingVersion: '6.12.5040',
      version: '6.12.5040',
      versionSource: 'healthz',
      health: 'healthy',
      publicIp: launched.publicIp,
      url: `http://${launched.publicIp}`,
      addresses: [{ allocationId: launched.resources.allocationId, publicIp: launched.publicIp, id: launched.resources.allocationId, ip: launched.publicIp, managed: true }],
      securityGroups: [launched.resources.securityGroupId],
      keyPairs: [launched.resources.keyName],
      dataVolumes: [{ id: launched.resources.dataVolumeId, sizeGiB: 500, type: 'gp3', state: 'in-use', attachedTo: launched.instanceId }],
      otherInstances: [],
      notes: [],
    });
    expect(asked).toEqual([`http://${launched.publicIp}/healthz`]);
    const lines = io.text().split('\n');
    expect(lines).toContain('shown (aws us-east-1)');
    expect(lines).toContain(`  instance        ${launched.instanceId} (m6a.4xlarge)`);
    expect(lines).toContain(`  data volume     ${launched.resources.dataVolumeId} 500 GiB gp3 attached to ${launched.instanceId}`);
    expect(lines).toContain(`  address         ${launched.publicIp} (${launched.resources.allocationId})`);
    expect(lines).toContain(`  security group  ${launched.resources.securityGroupId}`);
    expect(lines).toContain(`  key pair        ${launched.resources.keyName}`);
    expect(lines).toContain('  serving         6.12.5040');
    expect(lines).toContain(`  last backup     ${backup.id}, ${status.lastBackup!.age} ago`);
  });

  it('says when the data disk is still loading its blocks from a snapshot', async () => {
    const home = tempHome();
    await launch('warm', home);
    const asked: string[] = [];
    const clonedDisk = (cloud: Cloud): Cloud =>
      Object.assign(Object.create(cloud) as Cloud, {
        findDeployment: async (name: string): Promise<Deployment> => {
          const d = await cloud.findDeployment(name);
          return { ...d, disks: d.disks.map((v) => (v.labels.role === 'data-volume' ? { ...v, sourceSnapshotId: 'snap-0123456789abcdef0' } : v)) };
        },
        diskInitialization: async (diskId: string) => {
          asked.push(diskId);
          return { state: 'initializing' as const, type: 'provisioned-rate', progressPercent: 40, etaSeconds: 600 };
        },
      });
    const io = ci();
    const deps = makeDeps({ endpoint: moto.endpoint, io, home, wrapCloud: clonedDisk, httpGet: async () => ({ status: 200, body: '6.12.5040' }) });
    const status = await runStatus(deps, 'warm', statusFlags());
    expect(asked).toEqual([status.dataVolumes[0]!.id]);
    expect(status.dataVolumeInitialization).toEqual({ volumeId: asked[0], state: 'initializing', progressPercent: 40, etaSeconds: 600 });
    expect(status.servingVersion).toBe('6.12.5040');
    expect(io.text()).toMatch(/Data volume vol-\w+ is still loading its blocks from the snapshot \(40%\)/);
  });

  it('a deployment that does not exist exits 1 naming the cloud and region', async () => {
    const missing = runStatus(makeDeps({ endpoint: moto.endpoint, io: ci(), home: tempHome() }), 'ghost', statusFlags());
    await expect(missing).rejects.toBeInstanceOf(LaunchError);
    await expect(missing).rejects.toMatchObject({ code: 'deployment-not-found', exitCode: 1, message: 'No deployment named ghost in aws us-east-1' });
  });
});

describe('list', () => {
  // One deployment tagged 6.12.5040; what its /healthz answers is up to each case. moto's public
  // addresses are never contacted: the probe is replaced and records which URLs it was asked.
  let home: string;
  beforeAll(async () => {
    await moto.reset();
    home = tempHome();
    await launch('listed', home);
  });

  async function list(answer: { status: number; body: string } | Error, probe = true) {
    const asked: string[] = [];
    const io = ci();
    const httpGet = async (url: string) => {
      asked.push(url);
      if (answer instanceof Error) throw answer;
      return answer;
    };
    const flags: ListFlags & TargetFlags = { region: 'us-east-1', probe, providerFlags: {} };
    const out = await runList(makeDeps({ endpoint: moto.endpoint, io, home, httpGet }), flags);
    const lines = io.text().split('\n').filter((l) => l.trim());
    const header = lines.findIndex((l) => l.startsWith('NAME'));
    const columns = (line: string) => line.split(/\s{2,}/);
    const row = Object.fromEntries(columns(lines[header]!).map((h, i) => [h, columns(lines[header + 1]!)[i]]));
    return { out: out.find((d) => d.name === 'listed')!, row, asked };
  }

  it('shows the version /healthz serves, with a health column', async () => {
    const { out, row, asked } = await list({ status: 200, body: '6.12.5041' });
    expect(asked).toEqual([`${out.url}/healthz`]);
    expect(row).toMatchObject({ NAME: 'listed', REGION: 'us-east-1', STATE: 'running', VERSION: '6.12.5041', HEALTH: 'healthy', SIZE: 'S' });
    expect(out).toMatchObject({ cloud: 'aws', version: '6.12.5041', versionSource: 'healthz', health: 'healthy', versionTag: '6.12.5040', servingVersion: '6.12.5041' });
  });

  it('when /healthz does not report a version, the column shows the tag, marked as such, and the health says why', async () => {
    const notFound = await list({ status: 404, body: '404 page not found' });
    expect(notFound.row).toMatchObject({ VERSION: '6.12.5040 (tag)', HEALTH: 'HTTP 404' });
    expect(notFound.out).toMatchObject({ version: '6.12.5040', versionSource: 'tag', health: 'unhealthy', healthz: { status: 404 } });
    const down = await list(new Error('connect ECONNREFUSED'));
    expect(down.row).toMatchObject({ VERSION: '6.12.5040 (tag)', HEALTH: 'unreachable' });
    expect(down.out).toMatchObject({ versionSource: 'tag', health: 'unreachable' });
  });

  it('--no-probe sends no request and shows the tag, marked as such', async () => {
    const { out, row, asked } = await list({ status: 200, body: '6.12.5041' }, false);
    expect(asked).toEqual([]);
    expect(row).toMatchObject({ VERSION: '6.12.5040 (tag)', HEALTH: 'not probed' });
    expect(out).toMatchObject({ version: '6.12.5040', versionSource: 'tag', health: 'not-probed' });
    expect(out.servingVersion).toBeUndefined();
  });

  it('without --region takes the regions of the local records, and lists a recorded deployment the cloud no longer has as missing', async () => {
    const records = tempHome();
    const deps = makeDeps({ endpoint: moto.endpoint, io: ci(), home: records, env: {} });
    const at = new Date().toISOString();
    deps.state.putDeployment({ name: 'gone', cloud: 'aws', region: 'us-east-1', createdAt: at, updatedAt: at, instanceId: 'i-0123456789abcdef0' });
    const out = await runList(deps, { probe: false, providerFlags: {} });
    expect(out.map((d) => [d.name, d.state])).toEqual([
      ['listed', 'running'],
      ['gone', 'missing'],
    ]);
    expect(out[1]!.notes.join(' ')).toMatch(/i-0123456789abcdef0 recorded locally no longer exists/);
    // No region anywhere: bad input naming --region.
    await expect(runList(makeDeps({ endpoint: moto.endpoint, io: ci(), home: tempHome(), env: {} }), { providerFlags: {} })).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringMatching(/--region is required/),
    });
  });
});
