// The control API over HTTP, under /emulator/ (see README.md), plus a stand-in for Google's OAuth
// token endpoint (POST /token) so a client refreshing credentials never reaches Google.
import type { GceEmulatorControl, ResourceKind } from './control.js';
import type { FaultSpec } from './faults.js';
import type { ProjectMetric, RegionMetric } from './quotas.js';
import type { Json } from './validate.js';

export interface ControlResponse {
  status: number;
  body: unknown;
}

const ok = (body: unknown = { ok: true }): ControlResponse => ({ status: 200, body });
const bad = (message: string, status = 400): ControlResponse => ({ status, body: { error: message } });

function object(body: unknown): Json {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('the body must be a JSON object');
  return body as Json;
}

const KINDS: ResourceKind[] = ['instances', 'disks', 'snapshots', 'images', 'addresses', 'firewalls', 'resourcePolicies'];

export function handleControl(control: GceEmulatorControl, method: string, path: string, body: unknown): ControlResponse {
  try {
    const parts = path.replace(/^\/emulator\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
    const [first, second, third, fourth] = parts;
    const route = `${method} ${first ?? ''}`;
    switch (route) {
      case 'POST reset':
        control.reset();
        return ok();
      case 'GET state':
        return ok(control.state());
      case 'GET requests':
        return ok(control.requests());
      case 'DELETE requests':
        control.clearRequests();
        return ok();
      case 'GET faults':
        return ok(control.state().faults);
      case 'POST faults':
        return ok(control.injectFault(object(body) as unknown as FaultSpec));
      case 'DELETE faults':
        control.clearFaults();
        return ok();
      case 'POST operations':
        if (second === 'settle') control.settleOperations();
        else if (second === 'advance') control.advanceOperations(Number(object(body ?? {}).steps ?? 1));
        else return bad(`unknown operations action ${second}`, 404);
        return ok();
      case 'POST settings':
        control.configure(object(body));
        return ok();
      case 'POST quotas': {
        const { metric, limit } = object(body);
        control.setQuota(metric as RegionMetric | ProjectMetric, Number(limit));
        return ok();
      }
      case 'POST ssl-certificates': {
        const b = object(body);
        return ok(control.setCertificateStatus(second ?? '', String(b.status ?? ''), b.domainStatus as string | undefined));
      }
      case 'POST project-metadata':
        control.setProjectMetadata((object(body).items as { key: string; value: string }[]) ?? []);
        return ok();
      case 'POST instances': {
        // /emulator/instances/{zone}/{name}/serial | /guest-attributes
        if (!second || !third) return bad('use /emulator/instances/{zone}/{name}/serial or /guest-attributes', 404);
        const b = object(body);
        if (fourth === 'serial') {
          control.setSerialOutput(second, third, String(b.text ?? ''), { port: b.port as number | undefined, append: b.append === true });
          return ok();
        }
        if (fourth === 'guest-attributes') {
          control.setGuestAttributes(second, third, (b.values as Record<string, string>) ?? {}, { merge: b.merge === true });
          return ok();
        }
        return bad(`unknown instance action ${fourth}`, 404);
      }
      case 'PATCH resources': {
        // /emulator/resources/{kind}/{zone|region|global}/{name}
        if (!second || !KINDS.includes(second as ResourceKind) || !third || !fourth) return bad('use /emulator/resources/{kind}/{location|global}/{name}', 404);
        return ok(control.patchResource(second as ResourceKind, third === 'global' ? undefined : third, fourth, object(body)));
      }
      default:
        return bad(`no control endpoint ${method} ${path}`, 404);
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return bad(message, /was not found/.test(message) ? 404 : 400);
  }
}

/**
 * Google's token endpoint, enough for google-auth-library: any refresh-token or JWT-bearer grant
 * gets a fresh opaque access token. Point a client at it through its token URL setting.
 */
export function handleToken(control: GceEmulatorControl, rawBody: string): ControlResponse {
  const form = new URLSearchParams(rawBody);
  const grant = form.get('grant_type');
  if (grant !== 'refresh_token' && grant !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
    return { status: 400, body: { error: 'unsupported_grant_type', error_description: `grant_type ${grant ?? '(none)'}` } };
  }
  const token = `ya29.emulator-${control.tokensIssued.length + 1}`;
  control.tokensIssued.push(token);
  return { status: 200, body: { access_token: token, expires_in: 3599, token_type: 'Bearer', scope: 'https://www.googleapis.com/auth/compute' } };
}
