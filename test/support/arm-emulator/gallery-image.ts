// A Compute Gallery image version for a Sourcegraph version, made by hand in its own resource group
// (as build-image would leave one, without running a build): for tests about launch and upgrade.
import type { ArmClient } from './client.js';

export async function galleryImageFor(client: ArmClient, version: string, opts: { resourceGroup?: string; location?: string } = {}): Promise<string> {
  const location = opts.location ?? 'eastus';
  const rg = (rest = '') => client.path(opts.resourceGroup ?? 'sl-test-images', rest);
  await client.put(rg(), { location });
  const disk = await client.put(rg(`/providers/Microsoft.Compute/disks/image-os-${version.replace(/\./g, '-')}`), {
    location,
    sku: { name: 'Premium_LRS' },
    properties: { creationData: { createOption: 'Empty' }, diskSizeGB: 30, osType: 'Linux', hyperVGeneration: 'V2' },
  });
  const gallery = rg('/providers/Microsoft.Compute/galleries/sourcegraph_test');
  await client.put(gallery, { location, properties: {} });
  await client.put(`${gallery}/images/sourcegraph`, {
    location,
    properties: {
      osType: 'Linux',
      osState: 'Generalized',
      hyperVGeneration: 'V2',
      features: [{ name: 'SecurityType', value: 'TrustedLaunchSupported' }],
      identifier: { publisher: 'sourcegraph', offer: 'sourcegraph', sku: 'machine-image' },
    },
  });
  const made = await client.put(`${gallery}/images/sourcegraph/versions/${version}`, { location, properties: { storageProfile: { osDiskImage: { source: { id: (disk.body as { id: string }).id } } } } });
  return (made.body as { id: string }).id;
}
