// A new data disk is made in the instance's zone, so the zone must offer its type as well as the
// machine type. Only clouds whose disk types may be offered in fewer zones than their machine types
// answer diskTypeZones (Azure: Premium SSD v2, the L/XL data disk); elsewhere this changes nothing.
import type { Cloud } from '../cloud/port.js';
import type { ProviderDescriptor } from '../cloud/provider.js';
import { UsageError } from '../core/errors.js';
import type { LaunchPlan } from '../core/launch-plan.js';
import type { SizeName } from '../core/presets.js';

/**
 * The zones among `offered` (those offering the machine type) that also offer the new data disk's
 * type; exit 2 before anything is created when none does. A kept data volume exists already: its
 * zone was checked against the machine type, and its type is not asked about.
 */
export async function zonesOfferingDataDisk(cloud: Cloud, provider: ProviderDescriptor, plan: LaunchPlan, offered: string[]): Promise<string[]> {
  if (!cloud.diskTypeZones || plan.dataVolume?.value.mode === 'existing') return offered;
  const type = provider.sizes[plan.size.value].dataDisk.type;
  const diskZones = await cloud.diskTypeZones(type);
  const both = offered.filter((z) => diskZones.includes(z));
  if (both.length) return both;
  const region = plan.region.value;
  const where = diskZones.length
    ? `offered in zone${diskZones.length > 1 ? 's' : ''} ${diskZones.join(', ')} of ${region}, and ${plan.instanceType.value} only in ${offered.join(', ')}: no zone offers both`
    : `not offered in ${region}`;
  const others = (Object.entries(provider.sizes) as [SizeName, (typeof provider.sizes)[SizeName]][]).filter(([, s]) => s.dataDisk.type !== type).map(([name, s]) => `${name} (${s.dataDisk.type})`);
  throw new UsageError(`The ${plan.size.value} preset's data disk type ${type} is ${where}`, {
    code: 'disk-type-not-offered',
    remediation: `Pick another --region that offers ${type}${others.length ? `, or a --size whose data disk is another type: ${others.join(', ')}` : ''}. Nothing was created.`,
  });
}
