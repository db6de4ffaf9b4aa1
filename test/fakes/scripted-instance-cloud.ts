// The three Cloud calls the readiness wait makes, answered from a script of virtual time.
// Everything else a Cloud can do is deliberately absent: the wait must not need it.
import type { Instance, InstanceHealth, InstanceState } from '../../src/cloud/port.js';
import type { WaitCloud } from '../../src/engine/wait.js';

export interface InstanceScript {
  /** State at `t` virtual ms after the script started; undefined = not visible yet. */
  state(t: number): InstanceState | undefined;
  statusChecks(t: number): InstanceHealth;
  console(t: number): string;
  publicIp?: (t: number) => string | undefined;
  privateIp?: (t: number) => string | undefined;
}

export class ScriptedInstanceCloud implements WaitCloud {
  readonly calls: { op: 'describeInstance' | 'instanceHealth' | 'consoleOutput'; id: string; t: number }[] = [];

  constructor(
    private readonly instanceId: string,
    private readonly elapsed: () => number,
    private readonly script: InstanceScript,
  ) {}

  private record(op: ScriptedInstanceCloud['calls'][number]['op'], id: string): number {
    const t = this.elapsed();
    this.calls.push({ op, id, t });
    if (id !== this.instanceId) throw new Error(`unexpected instance ${id}`);
    return t;
  }

  describeInstance(id: string): Promise<Instance | undefined> {
    const t = this.record('describeInstance', id);
    const state = this.script.state(t);
    if (state === undefined) return Promise.resolve(undefined);
    return Promise.resolve({
      id,
      state,
      machineType: 'm6a.2xlarge',
      imageId: 'ami-0123456789abcdef0',
      zone: 'us-east-1a',
      ...(this.script.publicIp?.(t) ? { publicIp: this.script.publicIp(t) } : {}),
      ...(this.script.privateIp?.(t) ? { privateIp: this.script.privateIp(t) } : {}),
      accessPolicyIds: ['sg-1'],
      disks: [],
      labels: {},
      foreignLabels: {},
    });
  }

  instanceHealth(id: string): Promise<InstanceHealth> {
    const t = this.record('instanceHealth', id);
    return Promise.resolve(this.script.statusChecks(t));
  }

  consoleOutput(id: string): Promise<string> {
    const t = this.record('consoleOutput', id);
    return Promise.resolve(this.script.console(t));
  }

  count(op: ScriptedInstanceCloud['calls'][number]['op']): number {
    return this.calls.filter((c) => c.op === op).length;
  }
}

/** A console as an Amazon Linux instance prints it, with cloud-init's host key block. */
export function cloudInitConsole(fingerprints: string[], extraLines: string[] = []): string {
  return [
    '[    0.000000] Linux version 6.1.0-amzn2023 (mockbuild@localhost)',
    '[    2.513000] systemd[1]: Starting cloud-init.service',
    'ec2: #############################################################',
    'ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----',
    ...fingerprints.map((f, i) => `ec2: ${i === 0 ? 256 : 3072} ${f} root@ip-10-0-0-12 (${i === 0 ? 'ED25519' : 'RSA'})`),
    'ec2: -----END SSH HOST KEY FINGERPRINTS-----',
    'ec2: #############################################################',
    ...extraLines,
    'cloud-init[1680]: Cloud-init v. 22.2.2 finished at Thu, 19 Feb 2026 12:03:00 +0000. Up 41.20 seconds',
  ].join('\n');
}
