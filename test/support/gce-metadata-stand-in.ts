// A stand-in for one instance's GCE metadata server, for end-to-end tests of the real run agent
// (provision/gce-run-agent.sh) on a test host: an HTTP server on an address of the test's own
// namespace (never 169.254.169.254; port 80 unless told) that answers the two paths the agent uses, backed by the GCE
// emulator, so what the CLI sets with instances.setMetadata is what the agent reads, and what the
// agent writes is what instances.getGuestAttributes answers:
//   GET    /computeMetadata/v1/instance/attributes/<key>            the instance's metadata value, 404 when absent
//   PUT    /computeMetadata/v1/instance/guest-attributes/<ns>/<key> a guest attribute (control.setGuestAttributes)
//   DELETE /computeMetadata/v1/instance/guest-attributes/<ns>/<key> (control.deleteGuestAttributes)
// Like the real server: every request needs `Metadata-Flavor: Google` (else 403), and guest
// attributes answer 403 while the instance's metadata lacks enable-guest-attributes=TRUE.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GceEmulator } from './gce-emulator/index.js';
import { GceTestClient } from './gce-emulator/client.js';

export interface GceMetadataStandIn {
  /** The base the agent takes as SG_METADATA_URL. */
  url: string;
  /** Every request, "METHOD path". */
  requests: string[];
  stop(): Promise<void>;
}

export async function startGceMetadataStandIn(
  gce: GceEmulator,
  address: string,
  instance: () => { zone: string; name: string } | undefined,
  port = 80,
): Promise<GceMetadataStandIn> {
  const client = new GceTestClient(gce.endpoint, gce.project);
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        requests.push(`${req.method} ${path}`);
        const answer = (status: number, body = '') => {
          res.writeHead(status, { 'content-type': 'application/text', 'Metadata-Flavor': 'Google' });
          res.end(body);
        };
        if (req.headers['metadata-flavor'] !== 'Google') return answer(403, 'Missing Metadata-Flavor:Google header.');
        const which = instance();
        if (!which) return answer(503, 'no instance behind this stand-in yet');
        const raw = await client.get<{ metadata?: { items?: { key: string; value?: string }[] } }>(`zones/${which.zone}/instances/${which.name}`);
        if (raw.status !== 200) return answer(503, `the emulator has no instance ${which.name}`);
        const items = raw.body.metadata?.items ?? [];
        const attr = /^\/computeMetadata\/v1\/instance\/attributes\/([A-Za-z0-9_-]+)$/.exec(path);
        if (attr && req.method === 'GET') {
          const item = items.find((i) => i.key === attr[1]);
          return item ? answer(200, item.value ?? '') : answer(404, 'Not Found');
        }
        const guest = /^\/computeMetadata\/v1\/instance\/guest-attributes\/([A-Za-z0-9_-]+\/[A-Za-z0-9_-]+)$/.exec(path);
        if (guest) {
          if (!items.some((i) => i.key === 'enable-guest-attributes' && i.value?.toUpperCase() === 'TRUE')) return answer(403, 'Guest attributes endpoint access is disabled.');
          if (req.method === 'PUT') {
            gce.control.setGuestAttributes(which.zone, which.name, { [guest[1]!]: Buffer.concat(chunks).toString('utf8') }, { merge: true });
            return answer(200);
          }
          if (req.method === 'DELETE') {
            gce.control.deleteGuestAttributes(which.zone, which.name, [guest[1]!]);
            return answer(200);
          }
        }
        return answer(404, 'Not Found');
      })().catch((e: unknown) => {
        res.writeHead(500);
        res.end(String(e));
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => resolve());
  });
  return {
    url: `http://${address}:${(server.address() as AddressInfo).port}/computeMetadata/v1`,
    requests,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
