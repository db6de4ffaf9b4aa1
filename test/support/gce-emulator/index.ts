// A local emulator of the part of the Compute Engine v1 REST API the GCE adapter uses (README.md
// beside this file). One per test file:
//
//   const gce = await startGceEmulator();          // beforeAll: http://127.0.0.1:<port>
//   // a client's API endpoint / rootUrl = `${gce.endpoint}/` (paths are /compute/v1/projects/...)
//   gce.reset();                                    // beforeEach
//   gce.control.injectFault({ method: 'instances.insert', error: { kind: 'zoneResourcePoolExhausted' } });
//   await gce.stop();                               // afterAll
//
// It listens on loopback only and never contacts Google.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GceEmulatorControl } from './control.js';
import { handleControl, handleToken } from './control-http.js';
import { Router } from './router.js';
import { GceDnsEmulator } from './dns.js';
import { World, type WorldOptions } from './world.js';

export type { EmulatorState, ResourceKind } from './control.js';
export type { FaultError, FaultSpec } from './faults.js';
export type { RequestRecord } from './router.js';
export type { ZoneSpec } from './catalog.js';
export { GceEmulatorControl } from './control.js';
export { DEFAULT_ZONES, PUBLIC_IMAGE_PROJECT } from './catalog.js';
export { FEDERATION_AUDIENCE, type FederationSettings } from './federation.js';

export interface GceEmulatorOptions extends Partial<WorldOptions> {
  /** The test project (default `sgl-test-project`). */
  project?: string;
  /**
   * Advance every unfinished operation one poll each this many milliseconds as well, for tests of
   * code that waits by the clock. Off by default: operations move per poll only.
   */
  advanceEveryMs?: number;
  /** Check every answer against the response schema (default true; a mismatch is an HTTP 500). */
  checkResponses?: boolean;
}

export interface GceEmulator {
  /** `http://127.0.0.1:<port>`; the API is under `${endpoint}/compute/v1/`. */
  endpoint: string;
  project: string;
  reset(): void;
  stop(): Promise<void>;
  control: GceEmulatorControl;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export async function startGceEmulator(opts: GceEmulatorOptions = {}): Promise<GceEmulator> {
  const project = opts.project ?? 'sgl-test-project';
  let router: Router | undefined;
  const world = new World({ ...opts, project }, (method) => router?.mutating(method));
  router = new Router(world, opts.checkResponses ?? true);
  const control = new GceEmulatorControl(world, router);
  const api = router;
  // Cloud DNS (/dns/v1/) beside Compute, for tls --domain (dns.ts).
  const dns = new GceDnsEmulator(project);
  control.resetHooks.push(() => dns.reset());
  // Google-managed certificates are provisioned once the domain resolves to the load balancer.
  world.resolveA = (name) => dns.resolveA(name);

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://emulator.invalid');
      const body = await readBody(req);
      if (url.pathname.startsWith('/emulator/') || url.pathname === '/emulator') {
        let parsed: unknown;
        try {
          parsed = body.trim() === '' ? undefined : JSON.parse(body);
        } catch {
          send(res, 400, { error: 'the body is not JSON' });
          return;
        }
        const answer = handleControl(control, req.method ?? 'GET', url.pathname, parsed);
        send(res, answer.status, answer.body);
        return;
      }
      if (req.method === 'POST' && url.pathname === '/token') {
        const answer = handleToken(control, body);
        send(res, answer.status, answer.body);
        return;
      }
      const federated = control.federation.handle(req.method ?? 'GET', url.pathname, req.headers['content-type'], req.headers.authorization, body);
      if (federated) {
        send(res, federated.status, federated.body);
        return;
      }
      const dnsAnswer = dns.handle(req.method ?? 'GET', url, req.headers.authorization, body);
      if (dnsAnswer) {
        send(res, dnsAnswer.status, dnsAnswer.body);
        return;
      }
      const answer = api.handle(req.method ?? 'GET', url, req.headers.authorization, body);
      send(res, answer.status, answer.body, answer.headers);
    })().catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { error: String(err) });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;

  const timer = opts.advanceEveryMs ? setInterval(() => world.ops.advanceAll(1), opts.advanceEveryMs) : undefined;
  timer?.unref();

  return {
    endpoint: `http://127.0.0.1:${port}`,
    project,
    reset: () => control.reset(),
    control,
    stop: async () => {
      if (timer) clearInterval(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
