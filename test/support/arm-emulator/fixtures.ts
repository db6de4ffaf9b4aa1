// Request bodies for the emulator's own tests: one VM deployment as the Azure adapter will make it
// (issue 12): tagged resource group, VNet + subnet, NSG (80/443 and 22), static Standard public IP,
// NIC, a Premium data disk in zone 1 at LUN 0 with deleteOption Detach, and the VM from Ubuntu
// 24.04 with an SSH key, boot diagnostics and an OS disk deleted with it.
import { generateKeyPairSync } from 'node:crypto';
import type { ArmClient } from './client.js';

/** An OpenSSH `ssh-rsa` public key line of a fresh key with `bits` bits. */
export function sshRsaPublicKey(bits = 2048): string {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const jwk = publicKey.export({ format: 'jwk' }) as { n: string; e: string };
  const field = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const mpint = (b64url: string) => {
    const raw = Buffer.from(b64url, 'base64url');
    return field(raw[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), raw]) : raw);
  };
  return `ssh-rsa ${Buffer.concat([field(Buffer.from('ssh-rsa')), mpint(jwk.e), mpint(jwk.n)]).toString('base64')} test@arm-emulator`;
}

export const LOCATION = 'eastus';

export function tagsFor(deployment: string, role: string): Record<string, string> {
  return { 'sourcegraph-launch:deployment': deployment, 'sourcegraph-launch:role': role, 'sourcegraph-launch:version': '6.0.0' };
}

export const providers = (client: ArmClient, rg: string) => ({
  vnet: (name: string) => client.path(rg, `/providers/Microsoft.Network/virtualNetworks/${name}`),
  nsg: (name: string) => client.path(rg, `/providers/Microsoft.Network/networkSecurityGroups/${name}`),
  pip: (name: string) => client.path(rg, `/providers/Microsoft.Network/publicIPAddresses/${name}`),
  nic: (name: string) => client.path(rg, `/providers/Microsoft.Network/networkInterfaces/${name}`),
  vm: (name: string) => client.path(rg, `/providers/Microsoft.Compute/virtualMachines/${name}`),
  disk: (name: string) => client.path(rg, `/providers/Microsoft.Compute/disks/${name}`),
  snapshot: (name: string) => client.path(rg, `/providers/Microsoft.Compute/snapshots/${name}`),
  gallery: (...names: string[]) => client.path(rg, `/providers/Microsoft.Compute/galleries/${names[0]}${names[1] ? `/images/${names[1]}` : ''}${names[2] ? `/versions/${names[2]}` : ''}`),
});

export const bodies = {
  group: (tags: Record<string, string> = {}) => ({ location: LOCATION, tags }),
  vnet: (tags: Record<string, string> = {}) => ({
    location: LOCATION,
    tags,
    properties: { addressSpace: { addressPrefixes: ['10.20.0.0/16'] }, subnets: [{ name: 'default', properties: { addressPrefix: '10.20.0.0/24' } }] },
  }),
  nsg: (tags: Record<string, string> = {}) => ({
    location: LOCATION,
    tags,
    properties: {
      securityRules: [
        { name: 'web', properties: { protocol: 'Tcp', access: 'Allow', direction: 'Inbound', priority: 100, sourceAddressPrefix: '203.0.113.0/24', sourcePortRange: '*', destinationAddressPrefix: '*', destinationPortRanges: ['80', '443'] } },
        { name: 'ssh', properties: { protocol: 'Tcp', access: 'Allow', direction: 'Inbound', priority: 110, sourceAddressPrefix: '198.51.100.7/32', sourcePortRange: '*', destinationAddressPrefix: '*', destinationPortRange: '22' } },
      ],
    },
  }),
  pip: (tags: Record<string, string> = {}, zones?: string[]) => ({
    location: LOCATION,
    tags,
    ...(zones ? { zones } : {}),
    sku: { name: 'Standard', tier: 'Regional' },
    properties: { publicIPAllocationMethod: 'Static', publicIPAddressVersion: 'IPv4' },
  }),
  nic: (subnetId: string, pipId: string | undefined, nsgId: string, tags: Record<string, string> = {}) => ({
    location: LOCATION,
    tags,
    properties: {
      networkSecurityGroup: { id: nsgId },
      ipConfigurations: [{ name: 'primary', properties: { subnet: { id: subnetId }, privateIPAllocationMethod: 'Dynamic', ...(pipId ? { publicIPAddress: { id: pipId } } : {}) } }],
    },
  }),
  dataDisk: (zone: string | undefined, sizeGB = 500, tags: Record<string, string> = {}, sku = 'Premium_LRS') => ({
    location: LOCATION,
    tags,
    ...(zone ? { zones: [zone] } : {}),
    sku: { name: sku },
    properties: { creationData: { createOption: 'Empty' }, diskSizeGB: sizeGB },
  }),
  vm: (opts: { nicId: string; dataDiskId?: string; zone?: string; sshKey: string; tags?: Record<string, string>; imageReference?: Record<string, string>; vmSize?: string }) => ({
    location: LOCATION,
    tags: opts.tags ?? {},
    ...(opts.zone ? { zones: [opts.zone] } : {}),
    properties: {
      hardwareProfile: { vmSize: opts.vmSize ?? 'Standard_D8as_v5' },
      storageProfile: {
        imageReference: opts.imageReference ?? { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' },
        osDisk: { createOption: 'FromImage', diskSizeGB: 50, deleteOption: 'Delete', managedDisk: { storageAccountType: 'Premium_LRS' } },
        dataDisks: opts.dataDiskId ? [{ lun: 0, createOption: 'Attach', caching: 'ReadOnly', deleteOption: 'Detach', managedDisk: { id: opts.dataDiskId } }] : [],
      },
      osProfile: {
        computerName: 'sourcegraph',
        adminUsername: 'sourcegraph',
        linuxConfiguration: { disablePasswordAuthentication: true, ssh: { publicKeys: [{ path: '/home/sourcegraph/.ssh/authorized_keys', keyData: opts.sshKey }] } },
      },
      networkProfile: { networkInterfaces: [{ id: opts.nicId, properties: { primary: true, deleteOption: 'Detach' } }] },
      diagnosticsProfile: { bootDiagnostics: { enabled: true } },
      securityProfile: { securityType: 'TrustedLaunch', uefiSettings: { secureBootEnabled: true, vTpmEnabled: true } },
    },
  }),
};

/** Creates the network part of a deployment in `rg` (which must exist); returns the ids. */
export async function createNetwork(client: ArmClient, rg: string, name: string, tags: Record<string, string> = {}) {
  const p = providers(client, rg);
  const vnet = (await client.put(p.vnet(`${name}-vnet`), bodies.vnet(tags))).body;
  const nsg = (await client.put(p.nsg(`${name}-nsg`), bodies.nsg(tags))).body;
  const pip = (await client.put(p.pip(`${name}-ip`), bodies.pip(tags))).body;
  const subnetId = `${vnet.id}/subnets/default`;
  const nic = (await client.put(p.nic(`${name}-nic`), bodies.nic(subnetId, pip.id, nsg.id, tags))).body;
  return { vnetId: vnet.id as string, subnetId, nsgId: nsg.id as string, pipId: pip.id as string, nicId: nic.id as string, ipAddress: pip.properties.ipAddress as string };
}
