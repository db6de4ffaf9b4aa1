// Microsoft.Network application security groups: a named group of NIC ip configurations that NSG
// rules name as their source or destination (instead of an address prefix). The group itself holds
// nothing: its members are the ip configurations that list it (`applicationSecurityGroups`), and the
// rules that name it are found in the NSGs. A group that a member or a rule still names cannot be
// deleted (NRP: "cannot be deleted because it is referenced by IpConfiguration(s) …").
import { badRequest } from '../errors.js';
import { deleteResource, getResource, putResource, type ResourceType } from '../resource-kit.js';
import type { RequestContext, Router } from '../router.js';
import type { StoredResource } from '../state.js';
import { NSG, allIpConfigurations, findReferenced, ipConfigId, renderNetwork, sameId } from './network-common.js';

export const ASG = 'Microsoft.Network/applicationSecurityGroups';

type Ref = { id?: string } | undefined;
const names = (refs: unknown) => ((refs as Ref[] | undefined) ?? []).map((r) => r?.id);

/** The ip configurations that are members of the group, and the NSG rules that name it. */
export function asgUsers(ctx: RequestContext, asgId: string): { ipConfigurations: string[]; rules: string[] } {
  const ipConfigurations = allIpConfigurations(ctx.core.state)
    .filter(({ config }) => names(config.properties?.applicationSecurityGroups).some((id) => sameId(id, asgId)))
    .map(({ nic, config }) => ipConfigId(nic, config));
  const rules = ctx.core.state.ofType(NSG).flatMap((nsg) =>
    ((nsg.properties.securityRules as { name: string; properties: Record<string, unknown> }[] | undefined) ?? [])
      .filter((r) => [...names(r.properties.sourceApplicationSecurityGroups), ...names(r.properties.destinationApplicationSecurityGroups)].some((id) => sameId(id, asgId)))
      .map((r) => `${nsg.id}/securityRules/${r.name}`),
  );
  return { ipConfigurations, rules };
}

/**
 * The application security groups a NIC ip configuration or an NSG rule names: each must exist in
 * the same location (InvalidResourceReference otherwise); answered with their stored ids.
 */
export function checkAsgReferences(ctx: RequestContext, refs: unknown, location: string, referencedBy: string): { id: string }[] | undefined {
  if (refs === undefined) return undefined;
  return names(refs).map((id) => ({ id: findReferenced(ctx, String(id ?? ''), ASG, referencedBy, location).id }));
}

export const asgKind: ResourceType = {
  type: ASG,
  family: 'network',
  plan(ctx, input) {
    const props = { ...(input.body.properties ?? {}) } as Record<string, unknown>;
    return {
      resource: {
        id: input.id,
        type: ASG,
        name: input.name,
        resourceGroup: input.resourceGroup,
        location: input.location,
        tags: input.tags,
        properties: props,
        top: {},
        provisioningState: 'Creating',
        internal: { resourceGuid: input.existing?.internal.resourceGuid ?? ctx.core.state.newUuid(), etag: ctx.core.state.newUuid() },
      },
    };
  },
  planDelete(ctx, existing: StoredResource) {
    const users = asgUsers(ctx, existing.id);
    if (users.ipConfigurations.length || users.rules.length) {
      const by = [
        ...(users.ipConfigurations.length ? [`IpConfiguration(s) ${users.ipConfigurations.join(', ')}`] : []),
        ...(users.rules.length ? [`security rule(s) ${users.rules.join(', ')}`] : []),
      ].join(' and ');
      throw badRequest('InUseApplicationSecurityGroupCannotBeDeleted', `Application Security Group ${existing.name} cannot be deleted because it is referenced by ${by}.`);
    }
    return {};
  },
  render(_ctx, r) {
    return renderNetwork(r);
  },
};

export function registerAsgs(router: Router): void {
  const rg = (ctx: RequestContext) => ctx.params.resourceGroupName!;
  router.operation('ApplicationSecurityGroups_CreateOrUpdate', (ctx) => putResource(ctx, asgKind, rg(ctx), ctx.params.applicationSecurityGroupName!));
  router.operation('ApplicationSecurityGroups_Get', (ctx) => getResource(ctx, asgKind, rg(ctx), ctx.params.applicationSecurityGroupName!));
  router.operation('ApplicationSecurityGroups_Delete', (ctx) => deleteResource(ctx, asgKind, rg(ctx), ctx.params.applicationSecurityGroupName!));
}
