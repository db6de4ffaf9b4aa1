// status in-process against moto, for what moto cannot show: a snapshot-made data volume still
// loading its blocks. moto's instance addresses are never contacted (the probe is replaced).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cloud, DeploymentResources } from '../../src/cloud/cloud.js';
import { runLaunch } from '../../src/commands/launch.js';
import { runList, runStatus } from '../../src/commands/status.js';
import { makeDeps, ScriptedIo, tempHome } from '../support/deps.js';
import { startMoto, type MotoServer } from '../support/moto.js';

let moto: MotoServer;
beforeAll(async () => {
  moto = await startMoto({ images: [{ id: 'ami-0a1b2c3d4e5f6071c', name: 'Sourcegraph v6.12.5040', ownerId: '840044800169' }] });
});
afterAll(async () => moto?.stop());

describe('status', () => {
  it('says when the data volume is still loading its blocks from a snapshot', async () => {
    const home = tempHome();
    const flags = { cloud: 'aws', region: 'us-east-1', size: 'S', version: '6.12.5040', allowCidr: ['198.51.100.0/24'], sshCidr: ['none'], yes: true, wait: false, name: 'warm' };
    await runLaunch(makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false), home }), flags);
    const asked: string[] = [];
    const clonedVolume = (cloud: Cloud): Cloud =>
      Object.assign(Object.create(cloud) as Cloud, {
        findDeployment: async (name: string): Promise<DeploymentResources> => {
          const d = await cloud.findDeployment(name);
          return { ...d, volumes: d.volumes.map((v) => (v.tags['sourcegraph-launch:role'] === 'data-volume' ? { ...v, snapshotId: 'snap-0123456789abcdef0' } : v)) };
        },
        describeVolumeInitialization: async (volumeId: string) => {
          asked.push(volumeId);
          return { state: 'initializing' as const, type: 'provisioned-rate', progressPercent: 40, etaSeconds: 600 };
        },
      });
    const io = new ScriptedIo([], false);
    const deps = makeDeps({ endpoint: moto.endpoint, io, home, wrapCloud: clonedVolume, httpGet: async () => ({ status: 200, body: '6.12.5040' }) });
    const status = await runStatus(deps, 'warm', { region: 'us-east-1' });
    expect(asked).toEqual([status.dataVolumes[0]!.id]);
    expect(status.dataVolumeInitialization).toEqual({ volumeId: asked[0], state: 'initializing', progressPercent: 40, etaSeconds: 600 });
    expect(status.servingVersion).toBe('6.12.5040');
    expect(io.text()).toMatch(/still loading its blocks from the snapshot \(40%\)/);
  });
});

describe('list', () => {
  // One deployment tagged 6.12.5040; what its /healthz answers is up to each case. moto's public
  // addresses are never contacted: the probe is replaced and records which URLs it was asked.
  let home: string;
  beforeAll(async () => {
    await moto.reset();
    home = tempHome();
    const flags = { cloud: 'aws', region: 'us-east-1', size: 'S', version: '6.12.5040', allowCidr: ['198.51.100.0/24'], sshCidr: ['none'], yes: true, wait: false, name: 'listed' };
    await runLaunch(makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false), home }), flags);
  });

  async function list(answer: { status: number; body: string } | Error, probe = true) {
    const asked: string[] = [];
    const io = new ScriptedIo([], false);
    const httpGet = async (url: string) => {
      asked.push(url);
      if (answer instanceof Error) throw answer;
      return answer;
    };
    const out = await runList(makeDeps({ endpoint: moto.endpoint, io, home, httpGet }), { region: 'us-east-1', probe });
    const lines = io.text().split('\n').filter((l) => l.trim());
    const header = lines.findIndex((l) => l.startsWith('NAME'));
    const columns = (line: string) => line.split(/\s{2,}/);
    const row = Object.fromEntries(columns(lines[header]!).map((h, i) => [h, columns(lines[header + 1]!)[i]]));
    return { out: out.find((d) => d.name === 'listed')!, row, asked };
  }

  it('shows the version /healthz serves, with a health column', async () => {
    const { out, row, asked } = await list({ status: 200, body: '6.12.5041' });
    expect(asked).toEqual([`${out.url}/healthz`]);
    expect(row).toMatchObject({ NAME: 'listed', STATE: 'running', VERSION: '6.12.5041', HEALTH: 'healthy', SIZE: 'S' });
    expect(out).toMatchObject({ version: '6.12.5041', versionSource: 'healthz', health: 'healthy', versionTag: '6.12.5040', servingVersion: '6.12.5041' });
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
});
