// A one-shot HTTP(S) GET for readiness probes. Plain node:http/https instead of fetch because
// the instance's Traefik serves a self-signed certificate on 443 and we must accept it for this
// probe only (never process-wide), and because every probe should open a fresh connection: a
// pooled keep-alive socket to a pod that was just recycled would report a stale answer.
import { abortError } from './clock.js';

export interface HttpGetOptions {
  /** Whole-request budget: connect, headers and body. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Bytes of body kept; the rest is discarded. Default 64 KiB. */
  maxBodyBytes?: number;
  /** https: check the certificate against the system's CAs and the host name (for the user's own domain, not the address). */
  verifyCertificate?: boolean;
  /**
   * Dial this host instead of the URL's (as curl --connect-to): the TLS server name, the name the
   * certificate is verified for and the Host header stay the URL's. For a domain whose record is not
   * there yet, asked through the load balancer's own name.
   */
  connectTo?: string;
}

export interface HttpGetResult {
  status: number;
  body: string;
  /** https only: the certificate the server presented (verified or not, as asked), e.g. to read a Let's Encrypt certificate's expiry. */
  certificate?: ServedCertificate;
}

export interface ServedCertificate {
  /** ISO 8601. */
  notAfter: string;
  fingerprint256: string;
  /** The subjectAltName DNS names. */
  dnsNames: string[];
  /** The issuer's organisation and common name, e.g. "Let's Encrypt R11". */
  issuer: string;
}

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

/** A probe that got no HTTP answer. `reason` is short enough for a progress line. */
export class HttpProbeError extends Error {
  readonly url: string;
  readonly reason: string;
  readonly code?: string;
  constructor(url: string, reason: string, code?: string, cause?: unknown) {
    super(`GET ${url}: ${reason}`, cause === undefined ? undefined : { cause });
    this.name = 'HttpProbeError';
    this.url = url;
    this.reason = reason;
    this.code = code;
  }
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'connection closed',
};

function describeSocketError(err: NodeJS.ErrnoException): string {
  const known = err.code === undefined ? undefined : REASONS[err.code];
  return known ? `${known} (${err.code})` : err.message || String(err.code ?? 'request failed');
}

export async function httpGet(url: string, opts: HttpGetOptions): Promise<HttpGetResult> {
  const maxBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (e) {
    throw new HttpProbeError(url, 'not a valid URL', undefined, e);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new HttpProbeError(url, `unsupported protocol ${parsed.protocol}`);
  }
  const secure = parsed.protocol === 'https:';
  // Loaded on the first probe: commands that never probe (a dry run, presets) skip node:http(s).
  const transport = secure ? await import('node:https') : await import('node:http');
  return new Promise<HttpGetResult>((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(abortError(opts.signal));
      return;
    }

    let settled = false;
    const finish = (outcome: { ok: HttpGetResult } | { err: Error }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if ('ok' in outcome) resolve(outcome.ok);
      else reject(outcome.err);
      req.destroy();
    };

    const common = { method: 'GET', agent: false as const, headers: { accept: '*/*', 'user-agent': 'sourcegraph-launch' } };
    // Self-signed on purpose: Traefik's default certificate. This request only.
    const dial = opts.connectTo ? { hostname: opts.connectTo, headers: { ...common.headers, host: parsed.host }, ...(secure ? { servername: parsed.hostname } : {}) } : {};
    const req = transport.request(parsed, secure ? { ...common, ...dial, rejectUnauthorized: opts.verifyCertificate === true } : { ...common, ...dial });

    const timer = setTimeout(() => {
      finish({ err: new HttpProbeError(url, `no answer within ${formatSeconds(opts.timeoutMs)}`, 'ETIMEOUT') });
    }, opts.timeoutMs);
    const onAbort = (): void => finish({ err: abortError(opts.signal) });
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    req.on('error', (err: NodeJS.ErrnoException) => {
      finish({ err: new HttpProbeError(url, describeSocketError(err), err.code, err) });
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      const certificate = secure ? servedCertificate(res.socket) : undefined;
      const done = (): void => {
        finish({ ok: { status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ...(certificate ? { certificate } : {}) } });
      };
      res.on('data', (chunk: Buffer) => {
        if (kept >= maxBytes) return;
        const room = maxBytes - kept;
        const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
        chunks.push(piece);
        kept += piece.length;
        // Enough for a probe: stop downloading rather than read a large page to the end.
        if (kept >= maxBytes) done();
      });
      res.on('end', done);
      res.on('error', (err: NodeJS.ErrnoException) => {
        finish({ err: new HttpProbeError(url, describeSocketError(err), err.code, err) });
      });
    });
    req.end();
  });
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_NODATA', 'EAI_NONAME']);

/**
 * GET `url`; when its name does not resolve and `via` is given, the same request dialled to `via`
 * (connectTo): the domain's own record may not exist yet while the load balancer's name does.
 */
export async function httpGetVia(get: typeof httpGet, url: string, opts: HttpGetOptions, via: string | undefined): Promise<HttpGetResult> {
  try {
    return await get(url, opts);
  } catch (e) {
    if (!via || !(e instanceof HttpProbeError) || !DNS_CODES.has(e.code ?? '')) throw e;
    return get(url, { ...opts, connectTo: via });
  }
}

/** The peer certificate of a TLS socket, read while the connection is open. */
function servedCertificate(socket: unknown): ServedCertificate | undefined {
  const peer = (socket as { getPeerCertificate?: () => { valid_to?: string; fingerprint256?: string; subjectaltname?: string; issuer?: Record<string, string | string[]> } }).getPeerCertificate?.();
  if (!peer?.valid_to) return undefined;
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  return {
    notAfter: new Date(peer.valid_to).toISOString(),
    fingerprint256: peer.fingerprint256 ?? '',
    dnsNames: (peer.subjectaltname ?? '').split(/,\s*/).filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4)),
    issuer: [one(peer.issuer?.O), one(peer.issuer?.CN)].filter(Boolean).join(' '),
  };
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}
