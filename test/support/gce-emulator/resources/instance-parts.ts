// Parts of an instance that several methods check: network interfaces with their access configs
// (NOTES.md §5), metadata (§9) and network tags (§6).
import { invalidField, notFound } from '../errors.js';
import { requireRef } from '../links.js';
import { fingerprint, type AccessConfigBody, type AddressBody, type Entry, type InstanceBody, type NetworkInterfaceBody } from '../state.js';
import type { Json } from '../validate.js';
import type { Call, World } from '../world.js';
import { claimableAddress, ipTaken, releaseAddress } from './addresses.js';
import { isIpv4, pick } from './common.js';

/** An access config as stored; `natIP` is set for a reserved address, later for an ephemeral one. */
export function accessConfig(
  world: World,
  call: Call,
  config: Json,
  region: string,
  user: string,
  field: string,
): { config: AccessConfigBody; address?: Entry<AddressBody> } {
  if (config.type === 'DIRECT_IPV6') throw invalidField(`${field}.type`, 'DIRECT_IPV6', 'The emulator models IPv4 access configs (ONE_TO_ONE_NAT) only.');
  const tier = (config.networkTier as string | undefined) ?? 'PREMIUM';
  const ip = config.natIP as string | undefined;
  if (ip !== undefined && !isIpv4(ip)) throw invalidField(`${field}.natIP`, ip, 'Must be a valid IPv4 address.');
  const address = ip !== undefined ? claimableAddress(world, call.project, region, ip, tier, user, `${field}.natIP`) : undefined;
  return {
    config: {
      ...pick(config, ['setPublicPtr', 'publicPtrDomainName']),
      kind: 'compute#accessConfig',
      type: 'ONE_TO_ONE_NAT',
      name: (config.name as string | undefined) ?? 'External NAT',
      ...(ip !== undefined ? { natIP: ip } : {}),
      networkTier: tier,
    },
    address,
  };
}

/** `networkInterfaces[]` of an insert: the default network's subnetwork in the region, an internal IP, at most one access config each. */
export function buildNetworkInterfaces(world: World, call: Call, region: string, user: string): { interfaces: NetworkInterfaceBody[]; addresses: Entry<AddressBody>[] } {
  const nics = (call.body.networkInterfaces as Json[] | undefined) ?? [];
  if (nics.length === 0) throw invalidField('resource.networkInterfaces', '', 'At least one network interface must be specified.');
  const addresses: Entry<AddressBody>[] = [];
  const interfaces = nics.map((nic, i): NetworkInterfaceBody => {
    const field = `resource.networkInterfaces[${i}]`;
    const network = requireRef((nic.network as string | undefined) ?? 'global/networks/default', call.project, 'networks', `${field}.network`);
    if (network.project !== call.project || network.name !== 'default') throw notFound(`projects/${network.project}/global/networks/${network.name}`);
    if (nic.subnetwork !== undefined) {
      const sub = requireRef(nic.subnetwork as string, call.project, 'subnetworks', `${field}.subnetwork`);
      if (sub.location !== region) throw invalidField(`${field}.subnetwork`, nic.subnetwork, `Subnetwork must be in the instance's region '${region}'.`);
      if (sub.name !== 'default') throw notFound(`projects/${sub.project}/regions/${region}/subnetworks/${sub.name}`);
    }
    const ip = nic.networkIP as string | undefined;
    if (ip !== undefined && !isIpv4(ip)) throw invalidField(`${field}.networkIP`, ip, 'Must be a valid IPv4 address.');
    const configs = (nic.accessConfigs as Json[] | undefined) ?? [];
    if (configs.length > 1) throw invalidField(`${field}.accessConfigs`, '', 'At most one access config currently supported.');
    const built = configs.map((c, j) => accessConfig(world, call, c, region, user, `${field}.accessConfigs[${j}]`));
    for (const b of built) if (b.address) addresses.push(b.address);
    const body: NetworkInterfaceBody = {
      ...pick(nic, ['nicType', 'queueCount', 'aliasIpRanges']),
      kind: 'compute#networkInterface',
      name: `nic${i}`,
      network: `${world.links.project(call.project)}/global/networks/default`,
      subnetwork: `${world.links.region(call.project, region)}/subnetworks/default`,
      networkIP: ip ?? world.state.nextInternalIp(world.catalog.subnetRange(region)),
      fingerprint: fingerprint(`${user}/nic${i}`),
      stackType: 'IPV4_ONLY',
      ...(built.length > 0 ? { accessConfigs: built.map((b) => b.config) } : {}),
    };
    return body;
  });
  return { interfaces, addresses };
}

/** Gives every access config without a natIP an ephemeral external IP (when the instance starts). */
export function ephemeralIps(world: World, instance: InstanceBody): void {
  for (const nic of instance.networkInterfaces) {
    for (const config of nic.accessConfigs ?? []) {
      config.natIP ??= world.state.nextEphemeralIp((ip) => ipTaken(world, ip));
    }
  }
}

/** Releases the reserved addresses an instance holds. */
export function releaseIps(world: World, instance: InstanceBody): void {
  for (const nic of instance.networkInterfaces) for (const config of nic.accessConfigs ?? []) releaseAddress(world, config.natIP, instance.selfLink);
}

const METADATA_VALUE_MAX = 256 * 1024;
const METADATA_TOTAL_MAX = 512 * 1024;

/** Metadata items: unique keys, each value ≤ 256 KiB, all together ≤ 512 KiB. */
export function checkMetadata(items: Json[] | undefined, field: string): { key: string; value?: string }[] {
  const seen = new Set<string>();
  let total = 0;
  return (items ?? []).map((item, i) => {
    const key = item.key as string | undefined;
    if (key === undefined) throw invalidField(`${field}.items[${i}].key`, '', 'A metadata key must be given.');
    if (seen.has(key)) throw invalidField(`${field}.items[${i}].key`, key, `Duplicate metadata key '${key}'.`);
    seen.add(key);
    const value = item.value as string | undefined;
    const size = Buffer.byteLength(value ?? '');
    if (size > METADATA_VALUE_MAX) throw invalidField(`${field}.items[${i}].value`, `${size} bytes`, 'A metadata value must be at most 262144 bytes (256 KiB).');
    total += size + Buffer.byteLength(key);
    if (total > METADATA_TOTAL_MAX) throw invalidField(`${field}.items`, '', 'Metadata keys and values together must be at most 512 KiB.');
    return value === undefined ? { key } : { key, value };
  });
}

/** Network tags, each RFC 1035 (the schema checks the pattern); duplicates collapse. */
export function normalizeTags(items: string[] | undefined): string[] {
  return [...new Set(items ?? [])];
}

/** Whether guest attributes are on (`enable-guest-attributes` = TRUE on the instance or the project). */
export function guestAttributesEnabled(world: World, instance: InstanceBody): boolean {
  const on = (items: { key: string; value?: string }[] | undefined) => items?.find((i) => i.key === 'enable-guest-attributes')?.value?.toUpperCase() === 'TRUE';
  return on(instance.metadata.items) || on(world.projectMetadata);
}
