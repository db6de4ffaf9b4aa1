// The HTTP side of moto's instances for in-process workflow tests: an `httpGet` that answers as the
// appliance would, without ever contacting the (public, random) addresses moto hands out. The
// instance that holds the dialled address answers /healthz with the version it was labelled with
// at launch (what its image boots) while it runs; anything else refuses the connection, as a
// stopped instance or a moved address does. /sign-in says the site needs no initialisation.
import { DescribeInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import type { Deps } from '../../src/commands/deps.js';
import { HttpProbeError } from '../../src/engine/http-probe.js';
import { tagMap } from './moto.js';

export interface Appliance {
  httpGet: Deps['httpGet'];
  /** Every URL asked for, in order. */
  readonly asked: string[];
}

export function motoAppliance(ec2: EC2Client): Appliance {
  const asked: string[] = [];
  const httpGet: Deps['httpGet'] = async (url) => {
    asked.push(url);
    const { hostname, pathname } = new URL(url);
    const out = await ec2.send(new DescribeInstancesCommand({}));
    const serving = (out.Reservations ?? [])
      .flatMap((r) => r.Instances ?? [])
      .find((i) => i.State?.Name === 'running' && (i.PublicIpAddress === hostname || i.PrivateIpAddress === hostname));
    if (!serving) throw new HttpProbeError(url, 'connection refused (ECONNREFUSED)', 'ECONNREFUSED');
    if (pathname === '/healthz') return { status: 200, body: tagMap(serving.Tags)['sourcegraph-launch:version'] ?? '' };
    if (pathname === '/sign-in') return { status: 200, body: '{"needsSiteInit":false}' };
    return { status: 404, body: '404 page not found' };
  };
  return { httpGet, asked };
}
