// Promise: a private key sourcegraph-launch generated is never overwritten. A missing `.pub` beside
// it is derived from the private key again, so a re-run keeps the key the instance trusts.
import { readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runLaunch } from '../../src/commands/launch.js';
import { makeDeps, ScriptedIo, tempHome } from '../support/deps.js';
import { deploymentResources, motoEc2Client, startMoto, type MotoServer } from '../support/moto.js';

let moto: MotoServer;
beforeAll(async () => {
  moto = await startMoto({ images: [{ id: 'ami-0a1b2c3d4e5f60721', name: 'Sourcegraph v6.12.5040', ownerId: '840044800169' }] });
});
afterAll(async () => moto?.stop());

it('a re-run with the .pub missing derives it from the private key and changes nothing', async () => {
  const home = tempHome();
  const flags = { region: 'us-east-1', version: '6.12.5040', allowCidr: ['203.0.113.0/24'], sshCidr: ['203.0.113.7/32'], name: 'keys', wait: false, yes: true };
  const deps = () => makeDeps({ endpoint: moto.endpoint, io: new ScriptedIo([], false), home });
  await runLaunch(deps(), flags);
  const privateKeyPath = `${deps().state.keysDir}/aws-us-east-1-keys`;
  const privateBefore = readFileSync(privateKeyPath, 'utf8');
  const publicBefore = readFileSync(`${privateKeyPath}.pub`, 'utf8').trim();

  rmSync(`${privateKeyPath}.pub`);
  await runLaunch(deps(), flags);

  expect(readFileSync(privateKeyPath, 'utf8')).toBe(privateBefore);
  const publicAfter = readFileSync(`${privateKeyPath}.pub`, 'utf8').trim();
  // Same key material (the comment may differ).
  expect(publicAfter.split(' ').slice(0, 2)).toEqual(publicBefore.split(' ').slice(0, 2));
  const keyPairs = await deploymentResources(motoEc2Client(moto)).keyPairs('keys');
  expect(keyPairs).toHaveLength(1);
});
