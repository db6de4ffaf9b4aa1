// status in-process against moto, for what moto cannot show: a snapshot-made data volume still
// loading its blocks. moto's instance addresses are never contacted (the probe is replaced).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cloud, DeploymentResources } from '../../src/cloud/cloud.js';
import { runLaunch } from '../../src/commands/launch.js';
import { runStatus } from '../../src/commands/status.js';
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
