// `build-image`: makes our own machine image of a Sourcegraph version (issue 4). Validate → check
// credentials → --dry-run shows the plan and every request → run the build-image workflow
// (src/workflows/build-image.ts) → say how to launch it. Nothing here names a cloud's concepts: the
// provider descriptor has its words and flags.
import type { BuildImageFlags } from '../cli/commands/build-image.js';
import type { Cloud, CloudRequest } from '../cloud/port.js';
import { flagName, flagOfRole, type ProviderDescriptor } from '../cloud/provider.js';
import { defaultProvider, validateCloud } from '../cloud/providers.js';
import { CredentialsError, MissingInputError, UsageError } from '../core/errors.js';
import { validateCidrList, validateRegion, validateSize, validateSshCidrs, validateSshUser, validateTimeoutMinutes, validateVersion } from '../core/validate.js';
import { addressFlagText, buildRequestsFor, machineTypeOf, type BuildImageOptions, type BuildImageResult } from '../workflows/build-image-specs.js';
import type { Deps } from './deps.js';
import { readProviderFlags } from './provider-flags.js';
import { formatRequests } from './requests-text.js';
import { regionFromEnv, scopeOf } from './target.js';

export type { BuildImageOptions, BuildImageResult } from '../workflows/build-image-specs.js';

const DEFAULT_TIMEOUT_MINUTES = 120;

export function validateBuildImageFlags(flags: BuildImageFlags, deps: Pick<Deps, 'env'>): BuildImageOptions {
  const provider = flags.cloud !== undefined ? validateCloud(flags.cloud) : defaultProvider();
  const env = flags.region === undefined ? regionFromEnv(deps, provider) : undefined;
  const region = flags.region !== undefined ? validateRegion(flags.region, provider.regions) : env?.region;
  if (!region) throw new MissingInputError('--region');
  if (flags.version === undefined) {
    throw new MissingInputError('--version', 'for build-image', { remediation: 'Name the Sourcegraph version to build, e.g. --version 6.12.5040.' });
  }
  const version = validateVersion(flags.version);
  if (version === 'latest') {
    throw new UsageError('--version: build-image needs an exact version x.y.z (e.g. 6.12.5040), not latest', { code: 'bad-input' });
  }
  const size = flags.size !== undefined ? validateSize(flags.size) : 'XS';
  if (!flags.sshCidr?.length) {
    throw new MissingInputError('--ssh-cidr', 'for build-image', {
      remediation: 'The builder needs SSH from the machine running the build: pass its address, e.g. --ssh-cidr 203.0.113.7/32. There is no default: port 22 is never opened to the world by accident.',
    });
  }
  const sshCidrs = validateSshCidrs(flags.sshCidr, { iKnowSshIsPublic: Boolean(flags.iKnowSshIsPublic) });
  if (!sshCidrs.length) throw new UsageError('--ssh-cidr: the builder is provisioned over SSH, so "none" is not possible; name the address of this machine');
  validateCidrList(sshCidrs, '--ssh-cidr');
  const cloudFlags = readProviderFlags(provider, flags.providerFlags);
  if (cloudFlags.address && cloudFlags.address.mode !== 'existing') {
    throw new UsageError(`${addressFlagName(provider)}: build-image takes only an address you allocated (${addressExample(provider)})`);
  }
  if (cloudFlags.existingSshKey !== undefined) {
    // The builder is provisioned over SSH with a key whose private half the build holds.
    const flag = flagOfRole(provider, 'existing-ssh-key');
    throw new UsageError(`${flag ? flagName(flag) : 'An existing SSH key'}: build-image makes its own temporary ${provider.terms.sshKey}, removed at the end; it takes no existing one`);
  }
  const options: BuildImageOptions = {
    provider,
    region,
    version,
    size,
    sshCidrs,
    sshUser: flags.sshUser !== undefined ? validateSshUser(flags.sshUser, provider.loginUser, provider.refusedLoginUsers && { ...provider.refusedLoginUsers, cloud: provider.displayName }) : provider.loginUser,
    timeoutMinutes: flags.timeout !== undefined ? validateTimeoutMinutes(flags.timeout) : DEFAULT_TIMEOUT_MINUTES,
  };
  if (flags.instanceType !== undefined) options.machineType = provider.validateMachineType(flags.instanceType);
  if (flags.subnet !== undefined) options.subnet = provider.validateSubnet(flags.subnet);
  if (cloudFlags.encryptionKey !== undefined) options.encryptionKey = cloudFlags.encryptionKey;
  if (cloudFlags.address?.mode === 'existing') options.address = cloudFlags.address.id;
  return options;
}

function addressFlagName(provider: ProviderDescriptor): string {
  const flag = flagOfRole(provider, 'address');
  return flag ? flagName(flag) : '--address';
}

/** "eipalloc-…" on AWS, from the flag's own spec. */
function addressExample(provider: ProviderDescriptor): string {
  return addressFlagText(provider)?.split(' ')[1] ?? provider.terms.address;
}

export async function runBuildImage(deps: Deps, flags: BuildImageFlags): Promise<BuildImageResult | { plan: unknown; requests: CloudRequest[] }> {
  const { io } = deps;
  const opts = validateBuildImageFlags(flags, deps);
  const { provider } = opts;
  const cloud = await deps.connect(provider, scopeOf(deps, provider, opts.region, flags.providerFlags));
  // Credentials first: a clear exit 3 before anything else. A dry run without credentials still
  // shows every request, with a placeholder for the base image it cannot look up.
  let online = true;
  try {
    await cloud.whoAmI();
  } catch (e) {
    if (!(flags.dryRun && e instanceof CredentialsError && e.code !== 'permission-denied')) throw e;
    io.warn(`${e.message.split('\n')[0]}: the dry run shows the requests offline, without looking up the newest ${provider.terms.baseImage} image.`);
    online = false;
  }
  if (flags.dryRun) return dryRun(deps, cloud, opts, online);

  const { buildImage } = await import('../workflows/build-image.js');
  const result = await buildImage(deps, cloud, opts);
  if (io.json) io.result(result);
  else {
    // --cloud only where the default cloud would not find it.
    const cloudFlag = provider.id === defaultProvider().id ? '' : ` --cloud ${provider.id}`;
    io.success(`${result.alreadyBuilt ? 'Already built' : 'Built'}: image ${result.imageId} (${result.imageName}) runs Sourcegraph ${result.version}.`);
    io.info(`Launch it with \`${deps.program} launch${cloudFlag} --region ${result.region} --version ${result.version} --image ${result.imageId} …\`,`);
    io.info(`or simply \`${deps.program} launch${cloudFlag} --region ${result.region} --version ${result.version}\` / \`upgrade --to ${result.version}\`: built images are found by their tags.`);
  }
  return result;
}

async function dryRun(deps: Deps, cloud: Cloud, opts: BuildImageOptions, online: boolean): Promise<{ plan: unknown; requests: CloudRequest[] }> {
  const { io } = deps;
  const { provider } = opts;
  const base = online ? await cloud.findBaseImage() : undefined;
  const { specs, requests, sourceCommit, buildName } = buildRequestsFor(deps, cloud, opts, base);
  const address = flagOfRole(provider, 'address');
  const plan = {
    cloud: provider.id,
    region: opts.region,
    version: opts.version,
    size: opts.size,
    buildName,
    baseImage: base ? { id: base.id, name: base.name } : { id: specs.builder.imageId },
    instanceType: machineTypeOf(opts),
    sshCidrs: opts.sshCidrs,
    imageName: specs.image.name,
    sourceCommit,
    // Under the name of the cloud's flag, as the plan has always shown it (elasticIp on AWS).
    ...(opts.address ? { [address?.key ?? 'address']: opts.address } : {}),
  };
  const out = { plan, requests };
  if (io.json) io.result(out);
  else {
    io.info(`Would build Sourcegraph ${opts.version} (${opts.size}) in ${opts.region} from ${base ? `${base.name} (${base.id})` : `the newest ${provider.terms.baseImage} image`}.`);
    io.info('Dry run: these mutating requests would be sent, in order:');
    io.info(formatRequests(requests));
    io.info('Nothing was changed.');
  }
  return out;
}
