// The SDK loads only when AWS is used: sdk.ts is the one module that imports it at runtime, and
// everything else reaches it through `import type` (erased) or a dynamic import.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = join(import.meta.dirname, '../../../src/cloud/aws');
const sources = readdirSync(dir)
  .filter((f) => f.endsWith('.ts'))
  .map((file) => ({ file, text: readFileSync(join(dir, file), 'utf8') }));

/** Static import/export-from statements (possibly multi-line), with whether they are type-only. */
function staticImports(text: string): { from: string; typeOnly: boolean }[] {
  const found: { from: string; typeOnly: boolean }[] = [];
  for (const m of text.matchAll(/^(import|export)\s+(type\s+)?[\w\s{},*$]*?from\s+'([^']+)'/gm)) {
    found.push({ from: m[3] ?? '', typeOnly: Boolean(m[2]) });
  }
  return found;
}

describe('the AWS SDK boundary', () => {
  it('finds the adapter sources', () => {
    expect(sources.map((s) => s.file).sort()).toEqual(expect.arrayContaining(['adapter.ts', 'errors.ts', 'request-builders.ts', 'provider.ts', 'sdk.ts']));
  });

  it('imports @aws-sdk at runtime only in sdk.ts (and Route 53 only in route53-sdk.ts, Systems Manager only in ssm-sdk.ts, each its own chunk)', () => {
    for (const { file, text } of sources) {
      const runtimeSdk = staticImports(text).filter((i) => i.from.startsWith('@aws-sdk/') && !i.typeOnly);
      if (file === 'sdk.ts') expect(runtimeSdk.length).toBeGreaterThan(0);
      else if (file === 'route53-sdk.ts') expect(runtimeSdk.map((i) => i.from)).toEqual(['@aws-sdk/client-route-53']);
      // tls --tls managed: ACM, and ELBv2 with the few EC2 calls of its second subnet, each its own chunk.
      else if (file === 'acm-sdk.ts') expect(runtimeSdk.map((i) => i.from)).toEqual(['@aws-sdk/client-acm']);
      else if (file === 'load-balancer-sdk.ts') expect(runtimeSdk.map((i) => i.from)).toEqual(['@aws-sdk/client-ec2', '@aws-sdk/client-elastic-load-balancing-v2']);
      else if (file === 'ssm-sdk.ts') expect(runtimeSdk.map((i) => i.from)).toEqual(['@aws-sdk/client-ssm']);
      // tls --tls acme's DNS-01: IAM, with the EC2 calls of the instance profile's association, its own chunk.
      else if (file === 'iam-sdk.ts') expect(runtimeSdk.map((i) => i.from)).toEqual(['@aws-sdk/client-ec2', '@aws-sdk/client-iam']);
      else expect(runtimeSdk, file).toEqual([]);
    }
  });

  it('loads sdk.ts from other modules only dynamically', () => {
    for (const { file, text } of sources.filter((s) => s.file !== 'sdk.ts')) {
      const runtimeSdkModule = staticImports(text).filter((i) => ['./sdk.js', './route53-sdk.js', './acm-sdk.js', './load-balancer-sdk.js', './ssm-sdk.js', './iam-sdk.js'].includes(i.from) && !i.typeOnly);
      expect(runtimeSdkModule, file).toEqual([]);
    }
    expect(sources.find((s) => s.file === 'adapter.ts')?.text).toContain("import('./sdk.js')");
    expect(sources.find((s) => s.file === 'adapter.ts')?.text).toContain("import('./route53-sdk.js')");
    expect(sources.find((s) => s.file === 'adapter.ts')?.text).toContain("import('./acm-sdk.js')");
    expect(sources.find((s) => s.file === 'adapter.ts')?.text).toContain("import('./load-balancer-sdk.js')");
    expect(sources.find((s) => s.file === 'adapter.ts')?.text).toContain("import('./ssm-sdk.js')");
    expect(sources.find((s) => s.file === 'adapter.ts')?.text).toContain("import('./iam-sdk.js')");
  });

  it('keeps the descriptor and what it loads (provider, prices, catalog, errors) free of the SDK, even its types', () => {
    for (const file of ['provider.ts', 'prices.ts', 'catalog.ts', 'errors.ts', 'credential-sources.ts']) {
      const text = sources.find((s) => s.file === file)?.text ?? '';
      expect(staticImports(text).filter((i) => i.from.startsWith('@aws-sdk/') || i.from === './sdk.js'), file).toEqual([]);
    }
  });
});
