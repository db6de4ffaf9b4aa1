// Size presets (XS–XL): who each size is for, the same on every cloud. Data only: the numbers live
// in presets/sizes.json; each cloud's machine type, disks and prices per size live in
// presets/<cloud>.json and are read by src/cloud/<cloud>/provider.ts.
import sizesData from '../../presets/sizes.json' with { type: 'json' };

export const SIZE_NAMES = ['XS', 'S', 'M', 'L', 'XL'] as const;
export type SizeName = (typeof SIZE_NAMES)[number];

export interface SizePreset {
  name: SizeName;
  users: number;
  repos: number;
  largestRepoGB: number;
  concurrentUsers: number;
  vcpu: number;
  memoryGiB: number;
}

interface SizesFile {
  sizes: Record<SizeName, Omit<SizePreset, 'name'>>;
}

const data = sizesData as SizesFile;

export function isSizeName(s: string): s is SizeName {
  return (SIZE_NAMES as readonly string[]).includes(s);
}

export function getPreset(size: SizeName): SizePreset {
  return { name: size, ...data.sizes[size] };
}

export function allPresets(): SizePreset[] {
  return SIZE_NAMES.map(getPreset);
}
