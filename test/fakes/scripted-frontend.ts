// A real HTTP server on loopback standing in for the instance's Traefik + Sourcegraph frontend.
// Its answers follow a script of (virtual) time: 404 while not routed, then the version on /healthz.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HttpAnswer {
  status: number;
  body: string;
}

export interface FrontendScript {
  healthz(t: number): HttpAnswer;
  signIn?(t: number): HttpAnswer;
}

export class ScriptedFrontend {
  readonly requests: { path: string; t: number }[] = [];
  script: FrontendScript = { healthz: () => ({ status: 404, body: '404 page not found\n' }) };
  elapsed: () => number = () => 0;

  private constructor(private readonly server: http.Server) {}

  static async start(): Promise<ScriptedFrontend> {
    const server = http.createServer();
    const frontend = new ScriptedFrontend(server);
    server.on('request', (req, res) => frontend.answer(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    return frontend;
  }

  /** "127.0.0.1:<port>", the form the wait takes as its host. */
  get host(): string {
    const { address, port } = this.server.address() as AddressInfo;
    return `${address}:${port}`;
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const t = this.elapsed();
    this.requests.push({ path, t });
    let answer: HttpAnswer;
    if (path === '/healthz') answer = this.script.healthz(t);
    else if (path === '/sign-in' && this.script.signIn) answer = this.script.signIn(t);
    else answer = { status: 404, body: '404 page not found\n' };
    res.writeHead(answer.status, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(answer.body);
  }

  count(path: string): number {
    return this.requests.filter((r) => r.path === path).length;
  }

  reset(): void {
    this.requests.length = 0;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A sign-in page as the frontend renders it: the client context embedded in a script tag. */
export function signInPage(needsSiteInit: boolean | undefined, padding = 0): string {
  const context: Record<string, unknown> = {
    externalURL: 'http://127.0.0.1',
    filler: 'x'.repeat(padding),
    version: '6.12.5040',
  };
  if (needsSiteInit !== undefined) context.needsSiteInit = needsSiteInit;
  return `<!DOCTYPE html><html><head><script>window.context = ${JSON.stringify(context)}</script></head><body></body></html>`;
}
