// zoneOperations / regionOperations / globalOperations: get (one poll), wait (`waitSteps` polls,
// then the Operation in whatever state it is), list.
import { listBody } from '../filter.js';
import type { ScopeKind } from '../links.js';
import type { Call, Handler, World } from '../world.js';

function where(call: Call, world: World): { scope: ScopeKind; location?: string } {
  if (call.params.zone) {
    world.checkZone(call.project, call.params.zone);
    return { scope: 'zones', location: call.params.zone };
  }
  if (call.params.region) {
    world.checkRegion(call.project, call.params.region);
    return { scope: 'regions', location: call.params.region };
  }
  return { scope: 'global' };
}

function handlers(prefix: string): Record<string, Handler> {
  return {
    [`${prefix}.get`]: (call, world) => {
      const { scope, location } = where(call, world);
      return { json: world.ops.poll(call.project, scope, location, call.params.operation!) };
    },
    [`${prefix}.wait`]: (call, world) => {
      const { scope, location } = where(call, world);
      return { json: world.ops.wait(call.project, scope, location, call.params.operation!, world.waitSteps) };
    },
    [`${prefix}.list`]: (call, world) => {
      const { scope, location } = where(call, world);
      const path = scope === 'global' ? 'global' : `${scope}/${location}`;
      return {
        json: listBody('compute#operationList', `projects/${call.project}/${path}/operations`, world.links.collection(call.project, scope, location, 'operations'), world.ops.list(call.project, scope, location), call.query),
      };
    },
  };
}

export const operations: Record<string, Handler> = {
  ...handlers('zoneOperations'),
  ...handlers('regionOperations'),
  ...handlers('globalOperations'),
};
