// The shipped offline image catalog (presets/aws-published-amis.json). Loaded with a dynamic import
// so the 280 KB of JSON is a separate chunk that `--help` never reads.
import type { ImageCatalog } from '../core/catalog.js';

let cached: Promise<ImageCatalog> | undefined;

export function loadAwsCatalog(): Promise<ImageCatalog> {
  cached ??= import('../../presets/aws-published-amis.json', { with: { type: 'json' } }).then((m) => m.default as ImageCatalog);
  return cached;
}
