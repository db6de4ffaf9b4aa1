// upgrade, rollback, restore, status and prune of a deployment behind `tls --tls managed`'s load
// balancer, in-process on moto (EC2, ACM, ELBv2): the target group must follow the serving instance,
// and the readiness wait must ask https://<domain>/healthz (verified) because the instance's own
// 80/443 now answer only the balancer. The HTTP side is a model of exactly that: the address refuses
// every probe, and the domain answers what the balancer would: the version of the one running
// instance registered in the target group moto holds, else 503 (no healthy target). So an upgrade
// that left the old instance as the target, or a wait that asked the address, fails here.
import { CreateSnapshotCommand, DescribeInstancesCommand, StopInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { DescribeTargetGroupsCommand, DescribeTargetHealthCommand, ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Deps } from '../../src/commands/deps.js';
import { runLaunch } from '../../src/commands/launch.js';
import { runPrune } from '../../src/commands/prune.js';
import { runRestore } from '../../src/commands/restore.js';
import { runRollback } from '../../src/commands/rollback.js';
import { runStatus } from '../../src/commands/status.js';
import { runTls } from '../../src/commands/tls.js';
import { runUpgrade } from '../../src/commands/upgrade.js';
import { HttpProbeError, type HttpGetOptions } from '../../src/engine/http-probe.js';
import { makeDeps, ScriptedIo, tempHome } from '../support/deps.js';
import { byDeployment, motoEc2Client, startMoto, tagMap, type MotoServer } from '../support/moto.js';

const OLD = '6.11.0';
const NEW = '6.12.5040';
const AMI = { [OLD]: 'ami-0b11000000000611a', [NEW]: 'ami-0c12504000000612b' };
const DOMAIN = 'sourcegraph.example.com';
const REGION = { region: 'us-east-1', providerFlags: {} };

let moto: MotoServer;
let ec2: EC2Client;
let elb: ElasticLoadBalancingV2Client;
beforeAll(async () => {
  moto = await startMoto({ images: Object.entries(AMI).map(([version, id]) => ({ id, name: `Sourcegraph v${version}`, ownerId: '840044800169' })), env: { MOTO_ACM_VALIDATION_WAIT: '0' } });
  ec2 = motoEc2Client(moto);
  elb = new ElasticLoadBalancingV2Client({ region: 'us-east-1', endpoint: moto.endpoint, maxAttempts: 1 });
});
afterAll(async () => {
  elb?.destroy();
  await moto?.stop();
});

async function targets(): Promise<string[]> {
  const tg = (await elb.send(new DescribeTargetGroupsCommand({ Names: ['sgl-web-443'] }))).TargetGroups![0]!;
  const out = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: tg.TargetGroupArn }));
  return (out.TargetHealthDescriptions ?? []).map((t) => t.Target!.Id!).sort();
}

async function instances() {
  const out = await ec2.send(new DescribeInstancesCommand({ Filters: byDeployment('web') }));
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name !== 'terminated');
}

/** The site as users reach it: only through the balancer, to the registered running instance. */
function balancerModel() {
  const asked: { url: string; verify: boolean }[] = [];
  const httpGet: Deps['httpGet'] = async (url: string, o: HttpGetOptions) => {
    asked.push({ url, verify: o.verifyCertificate === true });
    const { hostname, pathname } = new URL(url);
    if (hostname !== DOMAIN || !o.verifyCertificate) throw new HttpProbeError(url, 'connection timed out (ETIMEDOUT)', 'ETIMEDOUT');
    const registered = new Set(await targets());
    const serving = (await instances()).filter((i) => i.State?.Name === 'running' && registered.has(i.InstanceId!));
    if (serving.length !== 1) return { status: 503, body: '503 Service Temporarily Unavailable' };
    if (pathname === '/healthz') return { status: 200, body: tagMap(serving[0]!.Tags)['sourcegraph-launch:version'] ?? '' };
    if (pathname === '/sign-in') return { status: 200, body: '{"needsSiteInit":false}' };
    return { status: 404, body: 'not found' };
  };
  return { httpGet, asked };
}

function jsonIo(): ScriptedIo {
  return Object.defineProperty(new ScriptedIo([], false), 'json', { value: true });
}

describe('behind tls --tls managed\'s load balancer', () => {
  const home = tempHome();
  const site = balancerModel();
  const faults: { after?: string } = {};
  const deps = (io = new ScriptedIo([], false)) =>
    makeDeps({
      endpoint: moto.endpoint,
      io,
      home,
      httpGet: site.httpGet,
      afterStep: (id) => {
        if (id === faults.after) throw Object.assign(new Error(`killed after ${id}`), { code: 'test-fault' });
      },
    });
  let first: string;

  beforeAll(async () => {
    await runLaunch(deps(), { ...REGION, size: 'S', version: OLD, allowCidr: ['203.0.113.0/24'], sshCidr: ['none'], name: 'web', wait: false, yes: true });
    await runTls(deps(jsonIo()), 'web', { ...REGION, domain: DOMAIN, tls: 'managed', yes: true });
    first = (await instances())[0]!.InstanceId!;
  });

  it('the dry run plans the target move per hop, after the instance runs and before the wait', async () => {
    expect(await targets()).toEqual([first]);
    const dry = (await runUpgrade(deps(jsonIo()), 'web', { ...REGION, to: NEW, dryRun: true, holdSeconds: '0' })) as { plan: { id: string; title: string }[] };
    const ids = dry.plan.map((s) => s.id);
    const move = ids.indexOf(`${NEW}:move-balancer-target`);
    expect(move).toBeGreaterThan(ids.indexOf(`${NEW}:launch-new-instance`));
    expect(move).toBe(ids.indexOf(`${NEW}:wait-for-version`) - 1);
    expect(dry.plan[move]!.title).toContain('sgl-web-443');
  });

  it('upgrade: interrupted right after the move, the re-run resumes; the target group then holds only the new instance, and every probe went to the domain, verified', async () => {
    faults.after = `${NEW}:move-balancer-target`;
    await expect(runUpgrade(deps(), 'web', { ...REGION, to: NEW, yes: true, holdSeconds: '0' })).rejects.toThrow(/killed after/);
    faults.after = undefined;
    const upgraded = (await instances()).find((i) => i.State?.Name === 'running')!.InstanceId!;
    expect(upgraded).not.toBe(first);
    expect(await targets()).toEqual([upgraded]);

    const io = jsonIo();
    const up = (await runUpgrade(deps(io), 'web', { ...REGION, to: NEW, yes: true, holdSeconds: '0' })) as Record<string, any>;
    expect(up).toMatchObject({ to: NEW, instanceId: upgraded, url: `https://${DOMAIN}` });
    const steps = up.steps.map((s: { id: string; resumed?: boolean }) => s.id);
    expect(steps).toContain(`${NEW}:move-balancer-target`);
    expect(await targets()).toEqual([upgraded]);
    expect(site.asked.length).toBeGreaterThan(0);
    expect(site.asked.every((a) => a.url.startsWith(`https://${DOMAIN}/`) && a.verify)).toBe(true);
  });

  it('status judges the health by the domain (the address answers only the balancer)', async () => {
    const s = (await runStatus(deps(jsonIo()), 'web', { ...REGION })) as Record<string, any>;
    expect(s).toMatchObject({ health: 'healthy', servingVersion: NEW, managedHttps: { probe: { status: 200 } } });
  });

  it('rollback: the target goes back to the rollback point, the upgraded instance is taken out', async () => {
    const upgraded = (await targets())[0]!;
    const back = (await runRollback(deps(jsonIo()), 'web', { ...REGION, yes: true, holdSeconds: '0' })) as Record<string, any>;
    expect(back).toMatchObject({ version: OLD, instanceId: first, upgradedInstanceId: upgraded, url: `https://${DOMAIN}` });
    expect(back.steps.map((s: { id: string }) => s.id)).toEqual(expect.arrayContaining(['move-balancer-target', 'wait-for-version']));
    expect(await targets()).toEqual([first]);
  });

  it('prune confirms what serves through the domain, then removes the leftovers', async () => {
    const r = (await runPrune(deps(jsonIo()), 'web', { ...REGION, yes: true })) as Record<string, any>;
    expect(JSON.stringify(r)).not.toContain('deployment-not-serving');
    expect((await instances()).map((i) => i.InstanceId)).toEqual([first]);
  });

  it('same-name restore: the restored instance becomes the only target', async () => {
    const data = (await instances())[0]!.BlockDeviceMappings!.find((m) => m.DeviceName === '/dev/sdb')!.Ebs!.VolumeId!;
    const snap = await ec2.send(
      new CreateSnapshotCommand({ VolumeId: data, TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'sourcegraph-launch:deployment', Value: 'web' }, { Key: 'sourcegraph-launch:version', Value: OLD }, { Key: 'sourcegraph-launch:managed', Value: 'true' }] }] }),
    );
    await ec2.send(new StopInstancesCommand({ InstanceIds: [first] }));
    const restored = (await runRestore(deps(jsonIo()), 'web', { ...REGION, snapshot: snap.SnapshotId!, yes: true })) as Record<string, any>;
    expect(restored).toMatchObject({ version: OLD, ready: true, url: `https://${DOMAIN}` });
    expect(restored.instanceId).not.toBe(first);
    expect(await targets()).toEqual([restored.instanceId]);
    first = restored.instanceId;
  });

  it('an upgrade that failed after the move is rolled back: the target goes back to the instance it replaced', async () => {
    faults.after = `${NEW}:move-balancer-target`;
    await expect(runUpgrade(deps(), 'web', { ...REGION, to: NEW, yes: true, holdSeconds: '0' })).rejects.toThrow(/killed after/);
    faults.after = undefined;
    const upgraded = (await instances()).find((i) => i.State?.Name === 'running')!.InstanceId!;
    expect(await targets()).toEqual([upgraded]);
    const back = (await runRollback(deps(jsonIo()), 'web', { ...REGION, yes: true, holdSeconds: '0' })) as Record<string, any>;
    expect(back).toMatchObject({ version: OLD, instanceId: first, upgradedInstanceId: upgraded });
    expect(await targets()).toEqual([first]);
  });
});
