// The contract, part 8: the run-command channel (config, executors enable and disk grow without
// SSH). A cloud that offers one names it and its limits, and runs a script as root on a running
// instance, answering what it printed on stdout and stderr. A cloud whose adapter has none yet
// declares it (notYet, with the reason) and the suite checks it indeed has none; one whose emulator
// cannot run scripts declares that (cannotEmulate) and the suite checks the channel is offered.
import { describe, expect, it } from 'vitest';
import { launch, uniqueName, type CloudContractOptions, type ContractEnvironment } from './contract-env.js';

export function runCommandContract(opts: CloudContractOptions, env: () => ContractEnvironment): void {
  describe('the run-command channel', () => {
    const notYet = opts.notYet?.['run-command'];
    if (notYet !== undefined) {
      it(`declares no run-command channel yet, and has none: ${notYet}`, () => {
        expect(notYet.length).toBeGreaterThan(10);
        expect(env().cloud.runCommandLimits).toBeUndefined();
      });
      return;
    }
    const notEmulated = opts.cannotEmulate?.['run-command'];
    if (notEmulated !== undefined) {
      it(`offers a run-command channel, which its emulator cannot run: ${notEmulated}`, () => {
        const { cloud } = env();
        expect(typeof cloud.runCommand).toBe('function');
        expect(cloud.runCommandLimits).toMatchObject({ name: expect.stringMatching(/\S/), maxScriptBytes: expect.any(Number), maxOutputBytes: expect.any(Number) });
      });
      return;
    }

    it('runs a script as root on a running instance and answers its stdout and stderr', async () => {
      const { cloud } = env();
      expect(cloud.runCommandLimits!.maxOutputBytes).toBeGreaterThanOrEqual(4096);
      expect(cloud.runCommandLimits!.maxScriptBytes).toBeGreaterThanOrEqual(16 * 1024);
      const { instance } = await launch(env(), uniqueName('runcmd'));
      const out = await cloud.runCommand!(instance.id, 'echo "contract $((6 * 7))"\necho warning >&2', 60_000);
      expect(out.stdout).toContain('contract 42');
      expect(out.stderr).toContain('warning');
    });
  });
}
