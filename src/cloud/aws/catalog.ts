// The shipped offline image catalog (presets/aws-published-amis.json), read as JSON when a command
// needs it. Not bundled as a module: V8 compiles 280 KB of object literal in ~10 ms, JSON.parse
// reads the same text in ~2, and an offline dry run is otherwise only a few milliseconds of work.
// The package ships presets/ beside dist/, as the repository has it beside src/.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { ImageCatalog } from '../../core/catalog.js';
import { CloudError } from '../../core/errors.js';

const CATALOG = 'presets/aws-published-amis.json';

let cached: Promise<ImageCatalog> | undefined;

/** The package root seen from this module: three levels up from src/cloud/aws, two from dist/chunks, one from dist. */
function candidates(): string[] {
  return ['../../../', '../../', '../'].map((up) => fileURLToPath(new URL(`${up}${CATALOG}`, import.meta.url)));
}

async function readCatalog(): Promise<ImageCatalog> {
  for (const path of candidates()) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      continue;
    }
    return JSON.parse(text) as ImageCatalog;
  }
  throw new CloudError('catalog-missing', `The image catalog ${CATALOG} is not where sourcegraph-launch expects it (beside dist/ in the package)`, {
    remediation: 'Reinstall sourcegraph-launch, or run it from a complete clone of the repository.',
  });
}

export function loadAwsCatalog(): Promise<ImageCatalog> {
  cached ??= readCatalog();
  return cached;
}
