// The clouds the tool knows, by id. A cloud is added by writing its folder (src/cloud/<id>/ with a
// provider.ts descriptor and its adapter) and registering the descriptor here; nothing else in the
// tool changes. Descriptors are light (no SDK): `--help` and offline dry runs read them freely.
import { UsageError } from '../core/errors.js';
import { awsProvider } from './aws/provider.js';
import { azureProvider } from './azure/provider.js';
import { gcpProvider } from './gcp/provider.js';
import type { ProviderId } from './port.js';
import type { ProviderDescriptor } from './provider.js';

/** A cloud the tool will support but does not yet: listed in the wizard and refused with a clear message. */
interface ComingProvider {
  id: ProviderId;
  displayName: string;
  available: false;
}

const REGISTERED: readonly (ProviderDescriptor | ComingProvider)[] = [
  awsProvider,
  gcpProvider,
  azureProvider,
];

/** Other names users type for a cloud. */
const ALIASES: Record<string, ProviderId> = { gce: 'gcp', google: 'gcp', 'google-cloud': 'gcp', amazon: 'aws' };

export const PROVIDER_IDS: readonly ProviderId[] = REGISTERED.map((p) => p.id);

export function isAvailable(p: ProviderDescriptor | ComingProvider): p is ProviderDescriptor {
  return p.available;
}

/** Every cloud, available or coming, in the order the wizard lists them. */
export function allProviders(): readonly (ProviderDescriptor | ComingProvider)[] {
  return REGISTERED;
}

export function availableProviders(): ProviderDescriptor[] {
  return REGISTERED.filter(isAvailable);
}

function choicesText(): string {
  const available = availableProviders().map((p) => p.id);
  const coming = REGISTERED.filter((p) => !p.available).map((p) => p.id);
  return `${available.join(', ')}${coming.length ? ` (${coming.join(' and ')} ${coming.length > 1 ? 'are' : 'is'} coming)` : ''}`;
}

/** --cloud: the descriptor of an available cloud, or bad input naming the choices. */
export function validateCloud(value: string): ProviderDescriptor {
  const v = value.trim().toLowerCase();
  const id = ALIASES[v] ?? v;
  const found = REGISTERED.find((p) => p.id === id);
  if (!found) throw new UsageError(`--cloud: unknown cloud "${value}". Valid choices: ${choicesText()}`);
  if (!isAvailable(found)) {
    const others = availableProviders().map((p) => `--cloud ${p.id}`).join(' or ');
    throw new UsageError(`--cloud ${found.id} is not available yet: ${found.displayName} support is coming. Use ${others}`, { code: 'cloud-not-available' });
  }
  return found;
}

/** The descriptor of a cloud by id (a deployment record's, a validated flag's). */
export function providerFor(id: string): ProviderDescriptor {
  return validateCloud(id);
}

/** The cloud when --cloud is not given: the only available one. */
export function defaultProvider(): ProviderDescriptor {
  return availableProviders()[0]!;
}
