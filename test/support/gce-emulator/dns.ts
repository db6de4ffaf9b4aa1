// Cloud DNS v1 (dns.googleapis.com/dns/v1/), the part the GCE adapter uses for tls --domain, served
// by the same emulator under /dns/v1/: managedZones.create/list/get (a test creates the user's zone
// through the API, the way a user would) and resourceRecordSets list/get/create/patch/delete.
// Errors in Google's JSON error shape; a bearer token is required, as for Compute.
interface RRSet {
  kind: 'dns#resourceRecordSet';
  name: string;
  type: string;
  ttl: number;
  rrdatas: string[];
}
interface Zone {
  kind: 'dns#managedZone';
  id: string;
  name: string;
  dnsName: string;
  description: string;
  visibility: 'public' | 'private';
  nameServers: string[];
  creationTime: string;
  rrsets: Map<string, RRSet>;
}

export interface DnsAnswer {
  status: number;
  body: unknown;
}

const error = (status: number, reason: string, message: string): DnsAnswer => ({
  status,
  body: { error: { code: status, message, errors: [{ domain: 'global', reason, message }], status: status === 404 ? 'NOT_FOUND' : status === 409 ? 'ALREADY_EXISTS' : status === 401 ? 'UNAUTHENTICATED' : 'INVALID_ARGUMENT' } },
});

const fqdn = (name: string) => (name.endsWith('.') ? name.toLowerCase() : `${name.toLowerCase()}.`);
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

export class GceDnsEmulator {
  private zones = new Map<string, Zone>();
  private seq = 0;

  constructor(private readonly project: string) {}

  reset(): void {
    this.zones = new Map();
  }

  /**
   * What a resolver would answer for the A record of `name` from these zones (public ones; the
   * longest zone holding the name): the addresses, or none.
   */
  resolveA(name: string): string[] {
    const wanted = fqdn(name);
    const zone = [...this.zones.values()]
      .filter((z) => z.visibility === 'public' && (wanted === z.dnsName || wanted.endsWith(`.${z.dnsName}`)))
      .sort((a, b) => b.dnsName.length - a.dnsName.length)[0];
    return [...(zone?.rrsets.get(`${wanted}/A`)?.rrdatas ?? [])];
  }

  /** Answers a request under /dns/v1/, or undefined for any other path. */
  handle(method: string, url: URL, authorization: string | undefined, rawBody: string): DnsAnswer | undefined {
    const m = /^\/dns\/v1\/projects\/([^/]+)\/managedZones(?:\/([^/]+)(?:\/rrsets(?:\/([^/]+)\/([^/]+))?)?)?\/?$/.exec(url.pathname);
    if (!url.pathname.startsWith('/dns/v1/')) return undefined;
    if (!authorization || !/^Bearer \S+/.test(authorization)) return error(401, 'required', 'Request is missing required authentication credential.');
    if (!m) return error(404, 'notFound', `No Cloud DNS method at ${url.pathname}`);
    const [, project, zoneName, rrName, rrType] = m;
    if (project !== this.project) return error(404, 'notFound', `The project ${project} does not exist.`);
    let body: Record<string, unknown> = {};
    try {
      body = rawBody.trim() ? (JSON.parse(rawBody) as Record<string, unknown>) : {};
    } catch {
      return error(400, 'parseError', 'The request body is not JSON.');
    }
    const isRrsets = url.pathname.includes('/rrsets');

    if (!zoneName) {
      if (method === 'GET') {
        const dnsName = url.searchParams.get('dnsName');
        const managedZones = [...this.zones.values()].filter((z) => !dnsName || z.dnsName === fqdn(dnsName)).map(render);
        return { status: 200, body: { kind: 'dns#managedZonesListResponse', managedZones } };
      }
      if (method === 'POST') {
        const name = String(body.name ?? '');
        const dnsName = String(body.dnsName ?? '');
        if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(name)) return error(400, 'invalid', `Invalid value for 'entity.managedZone.name': '${name}'`);
        if (!dnsName.endsWith('.')) return error(400, 'invalid', `Invalid value for 'entity.managedZone.dnsName': '${dnsName}'`);
        if (this.zones.has(name)) return error(409, 'alreadyExists', `The resource 'entity.managedZone' named '${name}' already exists`);
        const zone: Zone = {
          kind: 'dns#managedZone',
          id: String(++this.seq),
          name,
          dnsName: dnsName.toLowerCase(),
          description: String(body.description ?? ''),
          visibility: body.visibility === 'private' ? 'private' : 'public',
          nameServers: ['ns-cloud-a1.googledomains.com.', 'ns-cloud-a2.googledomains.com.'],
          creationTime: new Date().toISOString(),
          rrsets: new Map(),
        };
        this.zones.set(name, zone);
        return { status: 200, body: render(zone) };
      }
      return error(405, 'methodNotAllowed', `${method} is not allowed here`);
    }

    const zone = this.zones.get(zoneName);
    if (!zone) return error(404, 'notFound', `The 'parameters.managedZone' resource named '${zoneName}' does not exist.`);
    if (!isRrsets) return method === 'GET' ? { status: 200, body: render(zone) } : error(405, 'methodNotAllowed', `${method} is not allowed here`);

    if (!rrName) {
      if (method === 'GET') {
        const name = url.searchParams.get('name');
        const type = url.searchParams.get('type');
        const rrsets = [...zone.rrsets.values()].filter((r) => (!name || r.name === fqdn(name)) && (!type || r.type === type));
        return { status: 200, body: { kind: 'dns#resourceRecordSetsListResponse', rrsets } };
      }
      if (method === 'POST') {
        const problem = check(zone, body);
        if (problem) return problem;
        const rr = toRRSet(body);
        const key = `${rr.name}/${rr.type}`;
        if (zone.rrsets.has(key)) return error(409, 'alreadyExists', `The resource 'entity.rrset' named '${rr.name} (${rr.type})' already exists`);
        zone.rrsets.set(key, rr);
        return { status: 200, body: rr };
      }
      return error(405, 'methodNotAllowed', `${method} is not allowed here`);
    }

    const key = `${fqdn(decodeURIComponent(rrName))}/${decodeURIComponent(rrType!)}`;
    const existing = zone.rrsets.get(key);
    if (!existing) return error(404, 'notFound', `The 'parameters.name' resource named '${decodeURIComponent(rrName)}' does not exist.`);
    if (method === 'GET') return { status: 200, body: existing };
    if (method === 'DELETE') {
      zone.rrsets.delete(key);
      return { status: 200, body: {} };
    }
    if (method === 'PATCH') {
      const merged = { ...existing, ...body, name: existing.name, type: existing.type };
      const problem = check(zone, merged);
      if (problem) return problem;
      const rr = toRRSet(merged);
      zone.rrsets.set(key, rr);
      return { status: 200, body: rr };
    }
    return error(405, 'methodNotAllowed', `${method} is not allowed here`);
  }
}

function render(z: Zone) {
  const { rrsets: _rrsets, ...rest } = z;
  return rest;
}

function toRRSet(body: Record<string, unknown>): RRSet {
  return { kind: 'dns#resourceRecordSet', name: fqdn(String(body.name)), type: String(body.type), ttl: Number(body.ttl), rrdatas: (body.rrdatas as string[]).map(String) };
}

function check(zone: Zone, body: Record<string, unknown>): DnsAnswer | undefined {
  const name = typeof body.name === 'string' ? fqdn(body.name) : '';
  if (!name || !(name === zone.dnsName || name.endsWith(`.${zone.dnsName}`))) return error(400, 'invalid', `Invalid value for 'entity.change.additions[0].name': '${String(body.name)}'`);
  if (typeof body.ttl !== 'number' || !Number.isInteger(body.ttl) || body.ttl < 0) return error(400, 'invalid', "Invalid value for 'entity.change.additions[0].ttl'");
  const rrdatas = body.rrdatas;
  if (!Array.isArray(rrdatas) || !rrdatas.length) return error(400, 'invalid', "Invalid value for 'entity.change.additions[0].rrdata'");
  if (body.type === 'A' && rrdatas.some((r) => typeof r !== 'string' || !IPV4.test(r))) return error(400, 'invalid', `Invalid value for 'entity.change.additions[0].rrdata[0]': '${String(rrdatas[0])}'`);
  return undefined;
}
