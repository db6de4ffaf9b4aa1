// Help text that depends on the clouds: each available cloud's own word or example, from its
// descriptor, so the CLI's help names no cloud's concepts itself ("ami-…" with AWS alone,
// "aws: ami-… · gcp: projects/…" once there are more).
import { allProviders, availableProviders } from '../cloud/providers.js';
import type { ProviderDescriptor } from '../cloud/provider.js';

export function perCloud(text: (p: ProviderDescriptor) => string): string {
  const providers = availableProviders();
  if (providers.length === 1) return text(providers[0]!);
  return providers.map((p) => `${p.id}: ${text(p)}`).join(' · ');
}

export const cloudIds = (): string => availableProviders().map((p) => p.id).join('|');
/** "; azure is coming" while some cloud is not available yet, from the registry. */
export const comingClouds = (): string => {
  const coming = allProviders().filter((p) => !p.available).map((p) => p.id);
  return coming.length ? `; ${coming.join(' and ')} ${coming.length > 1 ? 'are' : 'is'} coming` : '';
};
export const regionVariables = (): string => perCloud((p) => p.regionVariables[0] ?? 'none');
