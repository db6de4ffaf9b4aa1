// Ctrl-C with the real CLI process while a cloud request is in flight: moto behind a small proxy
// that holds RunInstances until the test lets it through. One Ctrl-C finishes the request in
// flight, then stops; a second one, however soon after the first, stops at once. Every step is
// driven by an event (the request arriving, the CLI's own words), never by a sleep.
import { request as httpRequest, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { startMoto, type MotoServer } from '../support/moto.js';

const VERSION = '6.12.5040';
let moto: MotoServer;
let proxy: Server;
let endpoint: string;
/** RunInstances requests held by the proxy, each with the function that lets it through. */
let held: (() => void)[] = [];
let onHeld: (() => void) | undefined;

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function forward(req: IncomingMessage, body: Buffer, res: ServerResponse): void {
  const upstream = httpRequest({ host: '127.0.0.1', port: moto.port, method: req.method, path: req.url, headers: req.headers }, (motoRes) => {
    res.writeHead(motoRes.statusCode ?? 502, motoRes.headers);
    motoRes.pipe(res);
  });
  upstream.on('error', () => res.writeHead(502).end());
  upstream.end(body);
}

beforeAll(async () => {
  moto = await startMoto({ images: [{ id: 'ami-0a1b2c3d4e5f60718', name: `Sourcegraph v${VERSION}`, ownerId: '840044800169' }] });
  proxy = createServer(async (req, res) => {
    const body = await readBody(req);
    if (/(?:^|&)Action=RunInstances(?:&|$)/.test(body.toString()) && !/DryRun=true/.test(body.toString())) {
      held.push(() => forward(req, body, res));
      onHeld?.();
      return;
    }
    forward(req, body, res);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address();
  endpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(async () => {
  for (const release of held.splice(0)) release();
  await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
  await moto?.stop();
});

beforeEach(async () => {
  for (const release of held.splice(0)) release();
  onHeld = undefined;
  await moto.reset();
});

function launchArgs(name: string): string[] {
  return ['launch', '--region', 'us-east-1', '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', 'none', '--name', name, '--no-wait'];
}

/** Runs the CLI; `script` gets the child once RunInstances is held, and every output chunk after. */
function launchWhileRunInstancesIsHeld(name: string, home: string, script: { onHeld(child: ChildProcess): void; onOutput(seen: string, child: ChildProcess): void }) {
  let child: ChildProcess | undefined;
  let seen = '';
  onHeld = () => child && script.onHeld(child);
  return runCli(launchArgs(name), {
    endpoint,
    home,
    timeoutMs: 60_000,
    onOutput: (chunk, c) => {
      child = c;
      seen += chunk;
      script.onOutput(seen, c);
    },
  });
}

describe('Ctrl-C with the real CLI while a cloud request is in flight', () => {
  it('a second Ctrl-C right after the first stops at once (exit 130), however soon it comes', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-sigint-'));
    const sent: string[] = [];
    const r = await launchWhileRunInstancesIsHeld('twice', home, {
      onHeld: (child) => {
        sent.push('first');
        child.kill('SIGINT');
      },
      // The second goes out the moment the CLI acknowledged the first: milliseconds later.
      onOutput: (seen, child) => {
        if (sent.length === 1 && /Interrupted: finishing the cloud request in flight/.test(seen)) {
          sent.push('second');
          child.kill('SIGINT');
        }
      },
    });
    expect(sent).toEqual(['first', 'second']);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain('Stopped at once. Re-run the same command to resume');
    // It did not wait for the request in flight: RunInstances is still held.
    expect(held).toHaveLength(1);
    // The state written before the interruption is whole: no temporary files left behind.
    expect(readdirSync(join(home, 'state', 'deployments'))).toEqual(['deployment-aws-us-east-1-twice.json']);
  });

  it('one Ctrl-C finishes the request in flight, then stops with a resume hint, never "Stopped at once"', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sgl-sigint-'));
    let interrupted = false;
    const r = await launchWhileRunInstancesIsHeld('once', home, {
      onHeld: (child) => {
        interrupted = true;
        child.kill('SIGINT');
      },
      // Once the CLI said it is finishing the request, let RunInstances through.
      onOutput: (seen) => {
        if (interrupted && /Interrupted: finishing the cloud request in flight/.test(seen)) held.shift()?.();
      },
    });
    expect(interrupted).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/Interrupted before "Elastic IP"/);
    expect(r.stderr).toContain('Re-run the same command to resume');
    expect(r.stderr).not.toContain('Stopped at once');
  });
});
