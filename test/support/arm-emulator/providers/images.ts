// Marketplace image lookup (VirtualMachineImages_List/ListSkus/ListOffers/Get), preloaded with
// Canonical's Ubuntu 24.04 LTS offer in every location, and the one place that resolves an
// imageReference (marketplace URN, platform image id, gallery image or image version id) to what
// a VM or disk created from it gets: OS type, generation, OS disk size and data disk images.
import { ArmError, invalidParameter } from '../errors.js';
import type { RequestContext, Router } from '../router.js';
import { normalizeLocation, type StoredResource } from '../state.js';

export const GALLERY_IMAGE = 'Microsoft.Compute/galleries/images';
export const GALLERY_IMAGE_VERSION = 'Microsoft.Compute/galleries/images/versions';

interface MarketplaceSku {
  publisher: string;
  offer: string;
  sku: string;
  versions: string[];
  hyperVGeneration: 'V1' | 'V2';
  architecture: 'x64' | 'Arm64';
  features: { name: string; value: string }[];
}

/** Canonical's Ubuntu 24.04 LTS (URN Canonical:ubuntu-24_04-lts:server:latest, az alias Ubuntu2404). */
const UBUNTU_VERSIONS = ['24.04.202409120', '24.04.202410020', '24.04.202411030'];
const GEN2_FEATURES = [
  { name: 'SecurityType', value: 'TrustedLaunchAndConfidentialVmSupported' },
  { name: 'IsAcceleratedNetworkSupported', value: 'True' },
  { name: 'DiskControllerTypes', value: 'SCSI, NVMe' },
  { name: 'IsHibernateSupported', value: 'True' },
];

export const MARKETPLACE: MarketplaceSku[] = [
  { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', versions: UBUNTU_VERSIONS, hyperVGeneration: 'V2', architecture: 'x64', features: GEN2_FEATURES },
  { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server-gen1', versions: UBUNTU_VERSIONS, hyperVGeneration: 'V1', architecture: 'x64', features: [{ name: 'IsAcceleratedNetworkSupported', value: 'True' }] },
  { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server-arm64', versions: UBUNTU_VERSIONS, hyperVGeneration: 'V2', architecture: 'Arm64', features: [{ name: 'DiskControllerTypes', value: 'SCSI, NVMe' }] },
];

/** OS disk size of the Ubuntu images (GiB). */
const MARKETPLACE_OS_DISK_GB = 30;

export interface ResolvedImage {
  /** The platform image id or the gallery image version id. */
  id: string;
  source: 'marketplace' | 'gallery';
  exactVersion?: string;
  osType: 'Linux' | 'Windows';
  hyperVGeneration: 'V1' | 'V2';
  architecture: 'x64' | 'Arm64';
  osState: 'Generalized' | 'Specialized';
  osDiskSizeGB: number;
  dataDisks: { lun: number; sizeGB: number }[];
  /** Security types the image supports (from its features), e.g. TrustedLaunch. */
  trustedLaunch: boolean;
  /** From the image's DiskControllerTypes feature; SCSI only when it has none. */
  diskControllerTypes: string[];
}

const controllers = (features: { name: string; value: string }[]) =>
  features.find((f) => eq(f.name, 'DiskControllerTypes'))?.value.split(',').map((v) => v.trim()) ?? ['SCSI'];

const eq = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
/** Marketplace versions sort numerically part by part. */
const byVersion = (a: string, b: string) => {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
};

function platformImageId(sub: string, location: string, s: MarketplaceSku, version: string): string {
  return `/Subscriptions/${sub}/Providers/Microsoft.Compute/Locations/${location}/Publishers/${s.publisher}/ArtifactTypes/VMImage/Offers/${s.offer}/Skus/${s.sku}/Versions/${version}`;
}

function platformImageNotFound(what: string, target?: string): ArmError {
  return new ArmError(404, 'PlatformImageNotFound', `The platform image '${what}' is not available. Verify that all fields in the storage profile are correct.`, target);
}

function resolveMarketplace(ctx: RequestContext, publisher: string, offer: string, skuName: string, version: string, location: string, target?: string): ResolvedImage {
  const sku = MARKETPLACE.find((s) => eq(s.publisher, publisher) && eq(s.offer, offer) && eq(s.sku, skuName));
  const exact = !sku ? undefined : eq(version, 'latest') ? [...sku.versions].sort(byVersion).at(-1) : sku.versions.find((v) => v === version);
  if (!sku || !exact) throw platformImageNotFound(`${publisher}:${offer}:${skuName}:${version}`, target);
  return {
    id: platformImageId(ctx.core.state.subscriptionId, location, sku, exact),
    source: 'marketplace',
    exactVersion: exact,
    osType: 'Linux',
    hyperVGeneration: sku.hyperVGeneration,
    architecture: sku.architecture,
    osState: 'Generalized',
    osDiskSizeGB: MARKETPLACE_OS_DISK_GB,
    dataDisks: [],
    trustedLaunch: sku.features.some((f) => f.name === 'SecurityType'),
    diskControllerTypes: controllers(sku.features),
  };
}

/** The newest version of a gallery image definition that is not excluded from latest. */
function latestVersion(ctx: RequestContext, image: StoredResource): StoredResource | undefined {
  const prefix = `${image.id.toLowerCase()}/versions/`;
  return ctx.core.state
    .ofType(GALLERY_IMAGE_VERSION)
    .filter((v) => v.id.toLowerCase().startsWith(prefix) && v.provisioningState === 'Succeeded')
    .filter((v) => (v.properties.publishingProfile as { excludeFromLatest?: boolean } | undefined)?.excludeFromLatest !== true)
    .sort((a, b) => byVersion(a.name, b.name))
    .at(-1);
}

function resolveGallery(ctx: RequestContext, id: string, target?: string): ResolvedImage {
  const found = ctx.core.state.get(id);
  let version: StoredResource | undefined;
  if (found?.type === GALLERY_IMAGE_VERSION) version = found;
  else if (found?.type === GALLERY_IMAGE) version = latestVersion(ctx, found);
  if (!version || version.provisioningState !== 'Succeeded') {
    throw new ArmError(404, 'GalleryImageNotFound', `The gallery image ${id} is not available (no such image or version, or it has no finished version).`, target);
  }
  const image = ctx.core.state.get(version.id.replace(/\/versions\/[^/]+$/i, ''))!;
  const storage = version.properties.storageProfile as { osDiskImage: { sizeInGB: number }; dataDiskImages?: { lun: number; sizeInGB: number }[] };
  const features = (image.properties.features as { name: string; value: string }[] | undefined) ?? [];
  return {
    id: version.id,
    source: 'gallery',
    osType: image.properties.osType as 'Linux' | 'Windows',
    hyperVGeneration: (image.properties.hyperVGeneration as 'V1' | 'V2' | undefined) ?? 'V1',
    architecture: (image.properties.architecture as 'x64' | 'Arm64' | undefined) ?? 'x64',
    osState: image.properties.osState as 'Generalized' | 'Specialized',
    osDiskSizeGB: storage.osDiskImage.sizeInGB,
    dataDisks: (storage.dataDiskImages ?? []).map((d) => ({ lun: d.lun, sizeGB: d.sizeInGB })),
    trustedLaunch: features.some((f) => eq(f.name, 'SecurityType') && /TrustedLaunch/i.test(f.value)),
    diskControllerTypes: controllers(features),
  };
}

const PLATFORM_ID = /^\/subscriptions\/[^/]+\/providers\/microsoft\.compute\/locations\/([^/]+)\/publishers\/([^/]+)\/artifacttypes\/vmimage\/offers\/([^/]+)\/skus\/([^/]+)\/versions\/([^/]+)$/i;

/** What a VM or disk created from `ref` gets. `location` is where it is created. */
export function resolveImageReference(ctx: RequestContext, ref: Record<string, any>, location: string, target = 'storageProfile.imageReference'): ResolvedImage {
  if (ref.id) {
    const platform = PLATFORM_ID.exec(`/${String(ref.id).replace(/^\/+/, '')}`);
    if (platform) return resolveMarketplace(ctx, platform[2]!, platform[3]!, platform[4]!, platform[5]!, location, target);
    return resolveGallery(ctx, ref.id, target);
  }
  if (ref.sharedGalleryImageId || ref.communityGalleryImageId) {
    throw invalidParameter('Shared and community gallery images are not modelled by the arm-emulator.', target);
  }
  if (!ref.publisher || !ref.offer || !ref.sku) {
    throw invalidParameter('The image reference needs id, or publisher, offer, sku and version.', target);
  }
  return resolveMarketplace(ctx, ref.publisher, ref.offer, ref.sku, ref.version ?? 'latest', location, target);
}

function listOrNotFound<T>(items: T[], what: string): T[] {
  if (items.length === 0) throw new ArmError(404, 'NotFound', `Artifact: ${what} was not found.`);
  return items;
}

export function registerImages(router: Router): void {
  const loc = (ctx: RequestContext) => {
    const location = normalizeLocation(ctx.params.location!);
    if (!ctx.core.state.config.locations.includes(location)) throw new ArmError(404, 'NoRegisteredProviderFound', `No registered resource provider found for location '${ctx.params.location}'.`);
    return location;
  };
  const skusOf = (ctx: RequestContext) => MARKETPLACE.filter((s) => eq(s.publisher, ctx.params.publisherName!) && eq(s.offer, ctx.params.offer ?? s.offer));
  const resource = (location: string, name: string, id: string) => ({ name, location, id });

  router.operation('VirtualMachineImages_ListOffers', (ctx) => {
    const location = loc(ctx);
    const offers = [...new Set(skusOf(ctx).map((s) => s.offer))];
    const base = `/Subscriptions/${ctx.core.state.subscriptionId}/Providers/Microsoft.Compute/Locations/${location}/Publishers/${ctx.params.publisherName}/ArtifactTypes/VMImage/Offers`;
    return { status: 200, body: listOrNotFound(offers, ctx.params.publisherName!).map((o) => resource(location, o, `${base}/${o}`)) };
  });

  router.operation('VirtualMachineImages_ListSkus', (ctx) => {
    const location = loc(ctx);
    const skus = listOrNotFound(skusOf(ctx), `${ctx.params.publisherName}:${ctx.params.offer}`);
    return { status: 200, body: skus.map((s) => resource(location, s.sku, platformImageId(ctx.core.state.subscriptionId, location, s, '').replace(/\/Versions\/$/, ''))) };
  });

  router.operation('VirtualMachineImages_List', (ctx) => {
    const location = loc(ctx);
    const sku = skusOf(ctx).find((s) => eq(s.sku, ctx.params.skus!));
    let versions = [...(sku?.versions ?? [])].sort(byVersion);
    if (/desc/i.test(ctx.query.get('$orderby') ?? '')) versions.reverse();
    const top = Number(ctx.query.get('$top'));
    if (Number.isInteger(top) && top > 0) versions = versions.slice(0, top);
    if (!sku) throw new ArmError(404, 'NotFound', `Artifact: ${ctx.params.publisherName}:${ctx.params.offer}:${ctx.params.skus} was not found.`);
    return { status: 200, body: versions.map((v) => resource(location, v, platformImageId(ctx.core.state.subscriptionId, location, sku, v))) };
  });

  router.operation('VirtualMachineImages_Get', (ctx) => {
    const location = loc(ctx);
    const sku = skusOf(ctx).find((s) => eq(s.sku, ctx.params.skus!));
    const version = sku?.versions.find((v) => v === ctx.params.version);
    if (!sku || !version) throw new ArmError(404, 'NotFound', `Artifact: VMImage was not found.`);
    return {
      status: 200,
      body: {
        name: version,
        location,
        id: platformImageId(ctx.core.state.subscriptionId, location, sku, version),
        properties: {
          osDiskImage: { operatingSystem: 'Linux' },
          dataDiskImages: [],
          hyperVGeneration: sku.hyperVGeneration,
          architecture: sku.architecture,
          features: sku.features,
          automaticOSUpgradeProperties: { automaticOSUpgradeSupported: false },
          imageDeprecationStatus: { imageState: 'Active' },
        },
      },
    };
  });
}
