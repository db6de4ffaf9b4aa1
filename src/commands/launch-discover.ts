// `launch`, step 3: what the cloud says about the plan before anything is created. Which image
// (--image; else one published or built for the version; else the shipped catalog), whether the
// machine type is offered (and in which zones), whether a destroy kept data to launch on, and
// whether the deployment already exists and differs from this run.
import { existsSync, readFileSync } from 'node:fs';
import type { Cloud, Deployment, Disk, Image, ReplacedAccess } from '../cloud/port.js';
import type { DeploymentRecord } from '../state/store.js';
import type { ProviderDescriptor } from '../cloud/provider.js';
import { defaultProvider } from '../cloud/providers.js';
import { catalogImageId, catalogRegions, catalogVersions, latestCatalogVersion, type ImageCatalog } from '../core/catalog.js';
import { CloudError, CredentialsError, ExitCode, LaunchError, MissingInputError, UsageError } from '../core/errors.js';
import type { DataVolumeChoice, ImageChoice, LaunchPlan, Sourced } from '../core/launch-plan.js';
import { compareVersions, normalizeVersion } from '../core/versions.js';
import { fingerprintOfPublicKeyLine } from '../remote/host-keys.js';
import { dataDisksOf } from '../workflows/shared.js';
import { zonesOfferingDataDisk } from './launch-disk-zones.js';
import type { LaunchFlags } from '../cli/commands/launch.js';
import type { Deps } from './deps.js';
import { describeRuleChanges, diffDeployment, type Drift } from './launch-drift.js';
import { sourced, type PartialPlan, type Validated } from './launch-wizard.js';

/**
 * The complete commands that launch a version without a published image: our own image (built
 * first by launch, or by build-image), each with every flag it requires.
 */
function ownImageRemedy(program: string, provider: ProviderDescriptor, plan: PartialPlan, version: string): string {
  const region = plan.region.value;
  const size = plan.size.value;
  const cloud = provider.id === defaultProvider().id ? '' : ` --cloud ${provider.id}`;
  // The builder is provisioned over SSH from this machine: SSH must reach it.
  const ssh = plan.sshCidrs.value.length ? plan.sshCidrs.value.join(',') : '<this machine\'s address>/32';
  const launch = `${program} launch ${plan.name.value}${cloud} --region ${region} --size ${size} --version ${version} --allow-cidr ${plan.allowCidrs.value.join(',')} --ssh-cidr ${ssh} --image-source build`;
  const build = `${program} build-image${cloud} --region ${region} --version ${version} --size ${size} --ssh-cidr ${ssh}`;
  const base = `${program} launch ${plan.name.value}${cloud} --region ${region} --size ${size} --version ${version} --allow-cidr ${plan.allowCidrs.value.join(',')} --ssh-cidr ${plan.sshCidrs.value.length ? ssh : 'none'} --image-source base`;
  return (
    `Build the image and launch it in one go: \`${launch}\`; or build it first with \`${build}\` and launch with --version ${version}; ` +
    `or provision a plain ${provider.terms.baseImage} at first boot: \`${base}\`.`
  );
}

/** --image wins; then an image published or built for the version; then the shipped catalog. */
/** The image's data-disk template, carried into the plan so the instance (and its dry run) starts from it. */
function template(image: Image | undefined): { dataTemplateId?: string } {
  return image?.dataTemplateId ? { dataTemplateId: image.dataTemplateId } : {};
}

export async function resolveImage(
  cloud: Cloud | undefined,
  provider: ProviderDescriptor,
  catalog: ImageCatalog | undefined,
  plan: PartialPlan,
  program: string,
): Promise<{ image: Sourced<ImageChoice>; version: Sourced<string> }> {
  const region = plan.region.value;
  const size = plan.size.value;
  const wanted = plan.version.value;

  if (plan.imageFlag) {
    const info = cloud ? await cloud.describeImage(plan.imageFlag) : undefined;
    if (cloud && !info) throw new UsageError(`--image ${plan.imageFlag} does not exist in ${region} (or is not shared with this account)`);
    let version = plan.version;
    if (wanted === 'latest') {
      if (!info?.version) throw new UsageError(`--image ${plan.imageFlag}: cannot tell which Sourcegraph version it runs; pass --version x.y.z as well`);
      version = sourced(info.version, 'discovered', `from image ${info.name}`);
    }
    return { image: sourced({ id: plan.imageFlag, ...(info?.name ? { name: info.name } : {}), source: 'flag', ...template(info) }, 'flag'), version };
  }

  let found: Image | undefined;
  if (cloud) found = await cloud.findImage({ version: wanted, size });
  const latestInCatalog = catalog ? latestCatalogVersion(catalog) : undefined;
  if (found && found.version && wanted === 'latest' && latestInCatalog && compareVersions(found.version, latestInCatalog) < 0) {
    // The account sees an older image than the catalog knows of: trust the newer catalog entry.
    found = undefined;
  }
  if (found) {
    const version = wanted === 'latest' && found.version ? sourced(found.version, 'discovered', 'newest published image') : plan.version;
    return {
      image: sourced({ id: found.id, name: found.name, source: found.source, ...template(found) }, 'discovered', found.source === 'built' ? 'built by sourcegraph-launch' : provider.terms.imageDiscovery),
      version,
    };
  }
  if (!catalog || !latestInCatalog) {
    const version = wanted === 'latest' ? undefined : wanted;
    throw new UsageError(`No Sourcegraph image${version ? ` of ${version}` : ''} exists in ${region} yet: ${provider.displayName} has no published images to fall back on`, {
      code: 'no-published-image',
      remediation: version ? ownImageRemedy(program, provider, plan, version) : 'Name the version with --version x.y.z and use --image-source build or base.',
    });
  }

  const version = wanted === 'latest' ? latestInCatalog : wanted;
  const id = catalogImageId(catalog, { version, size, region });
  if (!id) {
    const regions = catalogRegions(catalog, { version, size });
    const known = catalogVersions(catalog);
    if (!known.includes(version)) {
      throw new UsageError(
        `--version ${version}: no published Sourcegraph image exists for this version. Published versions include ${known.slice(-8).reverse().join(', ')} (see \`${program} presets --versions\`)`,
        { code: 'no-published-image', remediation: ownImageRemedy(program, provider, plan, version) },
      );
    }
    throw new UsageError(`--region ${region}: no published image of Sourcegraph ${version} (${size}) in this region. It is available in: ${regions.join(', ')}`, {
      code: 'no-published-image',
      remediation: `Pick one of those regions, or use an image of your own here. ${ownImageRemedy(program, provider, plan, version)}`,
    });
  }
  return {
    image: sourced({ id, name: `Sourcegraph v${version}`, source: 'catalog' }, 'catalog', cloud ? `${provider.terms.imageDiscovery} found none; shipped catalog` : 'offline'),
    version: wanted === 'latest' ? sourced(version, 'catalog', 'newest published') : plan.version,
  };
}

export interface OwnImage {
  image: Sourced<ImageChoice>;
  version: Sourced<string>;
  /** No built image exists yet: build-image runs after the confirmation, then the launch uses it. */
  buildFirst?: boolean;
  /** --image-source base: the provision bundle that runs at first boot. */
  userDataBase64?: string;
}

/**
 * --image-source build: an image we built for the version, else one is built first.
 * --image-source base: the plain OS image, provisioned at first boot by user data.
 */
export async function resolveOwnImage(
  deps: Deps,
  cloud: Cloud | undefined,
  provider: ProviderDescriptor,
  catalog: ImageCatalog | undefined,
  plan: PartialPlan,
  source: 'build' | 'base',
): Promise<OwnImage> {
  // Offline (a dry run without credentials) only a base image the cloud resolves itself will do.
  const offlineBase = !cloud && source === 'base' ? provider.offlineBaseImage : undefined;
  if (!cloud && !offlineBase) throw new CredentialsError(`--image-source ${source} needs ${provider.displayName} credentials, even for a dry run`);
  if (plan.version.value === 'latest' && !catalog) throw new MissingInputError('--version', `with --image-source ${source} on ${provider.displayName} (no published versions to take the newest from)`);
  const version = plan.version.value === 'latest' ? sourced(latestCatalogVersion(catalog!), 'catalog', 'newest published') : plan.version;
  if (!cloud) {
    const userDataBase64 = await baseUserData(deps, provider, version.value, plan.size.value);
    return { image: sourced({ id: offlineBase!.id, name: offlineBase!.name, source: 'published' }, 'default', 'offline: the cloud picks the newest at launch; plain OS, provisioned at first boot'), version, userDataBase64 };
  }
  if (source === 'build') {
    if (!plan.sshCidrs.value.length) {
      throw new UsageError('--image-source build provisions a builder over SSH: --ssh-cidr must name this machine\'s address (not none)');
    }
    const found = await cloud.findImage({ version: version.value, size: plan.size.value });
    if (found?.source === 'built') return { image: sourced({ id: found.id, name: found.name, source: 'built', ...template(found) }, 'discovered', 'built by sourcegraph-launch'), version };
    // The launch after the build makes the data disk from the new image's data snapshot: show where.
    const dataTemplate = provider.builtDataTemplatePlaceholder ? { dataTemplateId: provider.builtDataTemplatePlaceholder } : {};
    return { image: sourced({ id: '<ImageId from build-image>', name: `built for ${version.value}`, source: 'built', ...dataTemplate }, 'default', 'build-image runs first'), version, buildFirst: true };
  }
  const base = await cloud.findBaseImage();
  if (!base) throw new CloudError('base-image-not-found', `No ${provider.terms.baseImage} x86_64 image is visible in ${plan.region.value}`);
  const userDataBase64 = await baseUserData(deps, provider, version.value, plan.size.value);
  return { image: sourced({ id: base.id, name: base.name, source: 'published' }, 'discovered', 'plain OS, provisioned at first boot'), version, userDataBase64 };
}

/** The first-boot user data of --image-source base: the provision bundle for this version and size. */
async function baseUserData(deps: Deps, provider: ProviderDescriptor, version: string, size: PartialPlan['size']['value']): Promise<string> {
  const { firstBootUserData } = await import('./first-boot-user-data.js');
  const { locateProvisionBundle } = await import('./provision-bundle.js');
  // first-boot.sh is told the cloud: the data disk's device and the login user differ per cloud.
  return firstBootUserData(locateProvisionBundle(deps.provisionDir), { version, size, cloud: provider.id, baseImage: provider.terms.baseImage }).base64;
}

/** The machine type exists and is offered here; the zones that offer it (and hold a kept data disk). */
export async function checkMachineType(cloud: Cloud | undefined, provider: ProviderDescriptor, plan: LaunchPlan): Promise<string[] | undefined> {
  const type = plan.instanceType.value;
  const region = plan.region.value;
  const whose = plan.instanceType.source === 'preset' ? `the ${plan.size.value} preset's ${provider.terms.machineType} ${type}` : `--instance-type ${type}`;
  const family = type.split('.')[0]!;
  const siblings = provider.knownMachineTypes().filter((t) => t.startsWith(`${family}.`));
  if (!cloud) {
    if (siblings.length && !siblings.includes(type)) throw new UsageError(`${whose} does not exist. Sizes of ${family}: ${siblings.join(', ')}`, { code: 'instance-type-unknown' });
    return undefined;
  }
  const offered = await cloud.machineTypeZones(type);
  if (!offered.length) {
    const alternatives = provider.alternativeMachineTypes(type);
    throw new UsageError(`${whose} is not offered in ${region}${siblings.length && !siblings.includes(type) ? ` (it does not exist; sizes of ${family}: ${siblings.join(', ')})` : ''}`, {
      code: 'instance-type-not-offered',
      remediation: `Pick one the region offers${alternatives.length ? ` (e.g. ${alternatives.join(', ')})` : ''} and pass it with --instance-type, or another --region.`,
    });
  }
  const kept = plan.dataVolume?.value.mode === 'existing' ? plan.dataVolume.value.zone : undefined;
  if (kept && !offered.includes(kept)) {
    throw new UsageError(`${whose} is not offered in ${kept}, the zone of the kept data volume (offered in ${offered.join(', ')})`, {
      code: 'instance-type-not-offered',
      remediation: 'Pass --instance-type with a type offered in that zone: the volume can only attach there.',
    });
  }
  return kept ? [kept] : zonesOfferingDataDisk(cloud, provider, plan, offered);
}

/** After a destroy kept the data: launch on it (--data-volume <id>), or on a new one (new); asks on a terminal. */
export async function chooseDataVolume(deps: Deps, cloud: Cloud, plan: PartialPlan, v: Validated): Promise<Sourced<DataVolumeChoice> | undefined> {
  const name = plan.name.value;
  const existing = await cloud.findDeployment(name);
  const kept = existing.instance ? [] : dataDisksOf(existing).filter((x) => !x.attachedTo && x.labels.role !== 'rollback-data');
  const version = (x: Disk) => normalizeVersion(x.labels.version ?? '');
  const choice = (x: Disk): DataVolumeChoice => ({ mode: 'existing', volumeId: x.id, zone: x.zone, sizeGiB: x.sizeGiB, ...(version(x) ? { version: version(x)! } : {}) });
  const describe = (x: Disk) => `${x.id}: ${x.sizeGiB} GiB, data of ${x.labels.version ?? 'an unknown version'}, in ${x.zone}`;
  if (v.dataVolume === 'new') return sourced({ mode: 'new' }, 'flag');
  if (v.dataVolume) {
    const found = kept.find((x) => x.id === v.dataVolume) ?? (await cloud.describeDisk(v.dataVolume));
    if (!found || found.labels.deployment !== name) {
      throw new UsageError(`--data-volume ${v.dataVolume} is not a data volume of deployment ${name} in ${plan.region.value}`, {
        code: 'data-volume-not-found',
        remediation: kept.length ? `Its kept data volumes: ${kept.map(describe).join('; ')}.` : `Deployment ${name} has no kept data volume; omit --data-volume.`,
      });
    }
    if (found.attachedTo) throw new UsageError(`--data-volume ${found.id} is attached to ${found.attachedTo}; only a detached volume can be launched on`, { code: 'data-volume-in-use' });
    return sourced(choice(found), 'flag');
  }
  if (!kept.length) return undefined;
  if (!deps.io.interactive) {
    throw new MissingInputError('--data-volume', `because deployment ${name} has kept data (${kept.map(describe).join('; ')})`, {
      remediation: `Launch on it with --data-volume ${kept[0]!.id}, or start empty with --data-volume new (the kept volume is left untouched).`,
    });
  }
  const picked = await deps.io.select<string>({
    message: `Deployment ${name} has data a destroy kept. Launch on it?`,
    choices: [...kept.map((x) => ({ name: `Yes: ${describe(x)}`, value: x.id })), { name: 'No: a new, empty data volume (the kept one stays untouched)', value: 'new' }],
  });
  const hit = kept.find((x) => x.id === picked);
  return hit ? sourced(choice(hit), 'prompt') : sourced({ mode: 'new' }, 'prompt');
}

/** The fingerprint of the public key this run would use; undefined when it would make a new one. */
async function localKeyFingerprint(plan: LaunchPlan): Promise<string | undefined> {
  const key = plan.sshKey.value;
  if (key.mode === 'import') return fingerprintOfPublicKeyLine(readFileSync(key.publicKeyPath, 'utf8'));
  if (key.mode !== 'generate' || !existsSync(key.privateKeyPath)) return undefined;
  if (existsSync(`${key.privateKeyPath}.pub`)) return fingerprintOfPublicKeyLine(readFileSync(`${key.privateKeyPath}.pub`, 'utf8'));
  const { publicKeyOfPrivateKey } = await import('../remote/ssh2-remote.js');
  return fingerprintOfPublicKeyLine(await publicKeyOfPrivateKey(readFileSync(key.privateKeyPath, 'utf8'), ''));
}

/**
 * Compares the deployment as it exists with the plan; throws (exit 1, nothing changed) when they
 * differ in anything this run may not change.
 */
/**
 * `tls --tls managed` replaced the instance's 80/443 rules by "from the load balancer only" (kept in
 * this machine's record): they are still the deployment's as launch sees them, so a re-run of the
 * same launch finds no difference in its access rules. A run killed inside that step may have
 * removed them unrecorded: they were the addresses the load balancer was given (its own step), which
 * the launch's access step then opens again and the HTTPS steps replace again.
 */
export function withRulesBehindBalancer(d: Deployment, record: DeploymentRecord | undefined): Deployment {
  const steps = record?.tlsManaged?.journal.steps;
  const step = steps?.['instance-access'];
  const given = steps?.['balancer-access'];
  let replaced: ReplacedAccess | undefined;
  if (step?.status === 'done' && step.result?.replaced) replaced = JSON.parse(step.result.replaced) as ReplacedAccess;
  else if (given?.status === 'done' && given.result?.cidrs) {
    const policyId = d.instance?.accessPolicyIds.find((id) => d.accessPolicies.some((p) => p.id === id));
    if (policyId) replaced = { policyId, rules: given.result.cidrs.split(',').filter(Boolean).flatMap((cidr) => [443, 80].map((port) => ({ port, cidr }))) };
  }
  if (!replaced) return d;
  const rules = replaced;
  return {
    ...d,
    accessPolicies: d.accessPolicies.map((p) => {
      if (p.id !== rules.policyId) return p;
      // A CIDR rule on 80/443 other than those replaced is the load balancer's own (GCE: Google's
      // load balancer ranges on the instance's rules; AWS keeps none there): not the launch's.
      const keep = new Set(rules.rules.map((r) => `${r.port} ${r.cidr}`));
      const own = p.rules.filter((r) => !((r.port === 80 || r.port === 443) && !r.purpose && !keep.has(`${r.port} ${r.cidr}`)));
      const have = new Set(own.map((r) => `${r.port} ${r.cidr}`));
      return { ...p, rules: [...own, ...rules.rules.filter((r) => !have.has(`${r.port} ${r.cidr}`))] };
    }),
  };
}

export async function reconcile(deps: Deps, cloud: Cloud, provider: ProviderDescriptor, plan: LaunchPlan, flags: LaunchFlags, command: string): Promise<Drift> {
  const name = plan.name.value;
  const existing = withRulesBehindBalancer(await cloud.findDeployment(name), deps.state.getDeployment(provider.id, plan.region.value, name));
  const drift = diffDeployment(plan, existing, { localKeyFingerprint: await localKeyFingerprint(plan), command: command.replace(/ --update$/, ''), provider });
  // A launch this machine started and that stopped before its instance may only be missing rules.
  const previous = deps.state.getDeployment(provider.id, plan.region.value, name)?.journal;
  const resumingHere = previous !== undefined && !previous.finishedAt && previous.command === 'launch' && !existing.instance;
  const halfMadeRules = resumingHere && drift.ruleChanges.every((c) => c.change === 'open');
  const blocking = drift.differences.filter((d) => !(d.access && (flags.update || halfMadeRules)));
  if (blocking.length) {
    const lines = blocking.map((d) => `  ${d.setting}: exists as ${d.exists}, this run asks for ${d.wanted}\n    → ${d.fix}`);
    throw new LaunchError(
      'deployment-differs',
      ExitCode.failed,
      `Deployment ${name} already exists in ${plan.region.value}${drift.instanceId ? ` (instance ${drift.instanceId})` : ''} and differs from this run; nothing was changed:\n${lines.join('\n')}`,
      {
        remediation: blocking.every((d) => d.access)
          ? `Re-run with --update to apply the access-rule changes: ${describeRuleChanges(drift.ruleChanges).join('; ')}.`
          : 'Make the flags match what exists (above), or use the command named for each change. launch never rewrites an existing deployment.',
        details: { differences: blocking, ruleChanges: drift.ruleChanges },
      },
    );
  }
  return drift;
}
