// fetch that trusts one CA (a test server's self-signed certificate), for in-process callers of an
// HTTPS emulator: Node's own fetch reads extra CAs only at start-up (NODE_EXTRA_CA_CERTS).
import { request as httpsRequest } from 'node:https';

export function fetchTrusting(ca: string): typeof fetch {
  return ((input: string | URL, init?: RequestInit) =>
    new Promise<Response>((resolve, reject) => {
      const req = httpsRequest(new URL(String(input)), { method: init?.method ?? 'GET', headers: init?.headers as Record<string, string>, ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
          const status = res.statusCode ?? 0;
          resolve(new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), { status, headers }));
        });
      });
      req.on('error', reject);
      req.end(init?.body === undefined || init.body === null ? undefined : String(init.body));
    })) as typeof fetch;
}
