// Module resolution hook (runs in Node's loader thread), see register.mjs.
import { appendFileSync } from 'node:fs';

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  if (process.env.SGL_IMPORT_LOG) appendFileSync(process.env.SGL_IMPORT_LOG, `${resolved.url}\n`);
  return resolved;
}
