// The dependency rules of DESIGN.md, checked by reading the imports: core is pure, each SDK is
// imported by exactly one adapter file, and the built --help path loads no cloud SDK.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BIN, DEAD_ENDPOINT, cliEnv } from './support/cli.js';

const root = resolve(import.meta.dirname, '..');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g)) out.push(m[1]!);
  for (const m of text.matchAll(/import\(\s*['"]([^'"]+)['"]/g)) out.push(m[1]!);
  return out;
}

const src = files(join(root, 'src'));

/** A file's code without its comments (a comment may explain a cloud; code may not name one). */
function code(file: string): string {
  return readFileSync(file, 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ''))
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

describe('architecture', () => {
  it('src/core imports nothing but src/core (and JSON data from presets/)', () => {
    const offenders: string[] = [];
    for (const f of src.filter((f) => f.includes('/src/core/'))) {
      for (const spec of imports(f)) {
        if (!spec.startsWith('.')) offenders.push(`${relative(root, f)} → ${spec}`);
        else {
          const target = resolve(dirname(f), spec);
          const ok = target.startsWith(join(root, 'src/core')) || (target.startsWith(join(root, 'presets')) && spec.endsWith('.json'));
          if (!ok) offenders.push(`${relative(root, f)} → ${spec}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it('each SDK is imported by a single adapter file', () => {
    const importers = (prefix: string) =>
      src.filter((f) => imports(f).some((s) => s.startsWith(prefix))).map((f) => relative(root, f));
    // Route 53 has a file (and so a chunk) of its own: only DNS records (tls --domain) load it.
    // So have ACM and ELBv2 (tls --tls managed loads them, nothing else does), and Systems Manager (the run-command channel).
    // And IAM (tls --tls acme's DNS-01: the instance's role), with the EC2 calls of its profile association.
    expect(importers('@aws-sdk/')).toEqual(['src/cloud/aws/acm-sdk.ts', 'src/cloud/aws/iam-sdk.ts', 'src/cloud/aws/load-balancer-sdk.ts', 'src/cloud/aws/route53-sdk.ts', 'src/cloud/aws/sdk.ts', 'src/cloud/aws/ssm-sdk.ts']);
    expect(importers('@aws-sdk/client-acm')).toEqual(['src/cloud/aws/acm-sdk.ts']);
    expect(importers('@aws-sdk/client-elastic-load-balancing-v2')).toEqual(['src/cloud/aws/load-balancer-sdk.ts']);
    expect(importers('@aws-sdk/client-route-53')).toEqual(['src/cloud/aws/route53-sdk.ts']);
    expect(importers('@aws-sdk/client-iam')).toEqual(['src/cloud/aws/iam-sdk.ts']);
    // Systems Manager too: only the run-command channel and doctor's "managed" check load it.
    expect(importers('@aws-sdk/client-ssm')).toEqual(['src/cloud/aws/ssm-sdk.ts']);
    expect(importers('ssh2')).toEqual(['src/remote/ssh2-remote.ts']);
  });

  it('commands, workflows, the engine and the CLI import no adapter: only the registry knows the clouds\' folders', () => {
    const adapterDir = /\/src\/cloud\/(?!port\.ts|provider\.ts|providers\.ts)[^/]+\//;
    const offenders: string[] = [];
    for (const f of src.filter((f) => /\/src\/(commands|workflows|engine|cli|core|ui|state|remote)\//.test(f) || f.endsWith('/src/cli.ts'))) {
      for (const spec of imports(f)) {
        if (spec.startsWith('.') && adapterDir.test(resolve(dirname(f), spec))) offenders.push(`${relative(root, f)} → ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
    // The registry imports each cloud's descriptor, and nothing else of its folder.
    const registry = join(root, 'src/cloud/providers.ts');
    expect(imports(registry).filter((s) => /^\.\/[^/]+\//.test(s)).every((s) => /^\.\/[^/]+\/provider\.js$/.test(s))).toBe(true);
  });

  it('only src/cloud/<provider>/ imports its SDK', () => {
    const sdks: Record<string, RegExp> = { aws: /^@aws-sdk\//, gcp: /^@google-cloud\/|^@googleapis\/|^google-auth-library/, azure: /^@azure\// };
    const offenders: string[] = [];
    for (const f of src) {
      for (const spec of imports(f)) {
        for (const [provider, re] of Object.entries(sdks)) {
          if (re.test(spec) && !f.includes(`/src/cloud/${provider}/`)) offenders.push(`${relative(root, f)} → ${spec}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it('core names no provider or provider concept (comments aside)', () => {
    const words = /\b(aws|amazon|ec2|ebs|ami|eipalloc|dlm|kms|vpc|gcp|gce|google|azure)\b|ec2-user|\/dev\/(sd|xvd)/i;
    const offenders: string[] = [];
    for (const f of src.filter((f) => f.includes('/src/core/'))) {
      code(f).split('\n').forEach((line, i) => {
        if (words.test(line)) offenders.push(`${relative(root, f)}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  it('commands, workflows and the engine hold no AWS identifiers, devices or variables (the descriptor has them)', () => {
    const literals = /['"`](ami-|vol-|eipalloc-|sg-|subnet-|snap-)|\/dev\/(sd|xvd)|ec2-user|AWS_REGION|AWS_PROFILE|Elastic IP|Data Lifecycle|['"`]aws['"`]/;
    const offenders: string[] = [];
    for (const f of src.filter((f) => /\/src\/(commands|workflows|engine)\//.test(f))) {
      code(f).split('\n').forEach((line, i) => {
        if (literals.test(line)) offenders.push(`${relative(root, f)}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  it('no production file reads a test-only environment variable (the tests give those seams as dependencies)', () => {
    const offenders = src.filter((f) => /SOURCEGRAPH_LAUNCH_(FAULT|POLL_MS|NO_IP_LOOKUP|PROVISION_DIR)|SGL_TEST_/.test(readFileSync(f, 'utf8'))).map((f) => relative(root, f));
    expect(offenders).toEqual([]);
  });

  it('no production file formats with Intl (its locale data costs ~10 ms at start-up; core/format.ts instead)', () => {
    const offenders = src.filter((f) => /\.toLocaleString\(|\bIntl\./.test(readFileSync(f, 'utf8'))).map((f) => relative(root, f));
    expect(offenders).toEqual([]);
  });

  it('the built CLI entry loads no SDK, prompt library or catalog before a command runs', () => {
    const entry = join(root, 'dist/cli.js');
    expect(existsSync(entry), 'run `npm run build` first (npm test does)').toBe(true);
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      // Static imports only: dynamic import() chunks load when a command needs them.
      for (const m of text.matchAll(/(?:^|[;\n}])\s*import\s*(?:[\w*{}\s,$]+from\s*)?["'](\.[^"']+)["']/g)) visit(resolve(dirname(file), m[1]!));
    };
    visit(entry);
    // Chunk file names inside import("…") are fine: they are loaded only when called.
    const eager = [...seen].map((f) => readFileSync(f, 'utf8').replace(/import\("[^"]+"\)/g, 'import()')).join('\n');
    expect(eager).not.toMatch(/client-ec2|EC2Client|STSClient|@smithy/);
    expect(eager).not.toMatch(/SSH-2\.0|@inquirer|node_modules\/ssh2/);
    expect(eager).not.toContain('ami-0d5604b984e5bd659');
    // Credential code (token signing, key files) loads with its cloud's adapter, not with the help.
    expect(eager).not.toMatch(/from\s*"node:crypto"|require\("node:crypto"\)/);
  });

  it('an offline launch --dry-run --json loads no SDK, config library, prompt library or SSH', () => {
    // The real process with an import recorder: what it loads is the built graph of this path.
    const loaded = (env: Record<string, string | undefined>) => {
      const dir = mkdtempSync(join(tmpdir(), 'sgl-imports-'));
      const log = join(dir, 'imports.log');
      const run = spawnSync(
        process.execPath,
        ['--import', join(root, 'test/support/import-log/register.mjs'), BIN, 'launch', '--region', 'us-east-1', '--allow-cidr', '203.0.113.0/24', '--dry-run', '--json'],
        { env: cliEnv({ home: dir, env: { SGL_IMPORT_LOG: log, ...env } }), encoding: 'utf8' },
      );
      const files = [...new Set(readFileSync(log, 'utf8').trim().split('\n'))].filter((u) => u.startsWith('file:')).map((u) => fileURLToPath(u));
      return { run, files, text: files.map((f) => readFileSync(f, 'utf8')).join('\n') };
    };
    const offline = loaded({ AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined });
    expect(offline.run.status, offline.run.stderr).toBe(0);
    expect(JSON.parse(offline.run.stdout).requests.map((r: { operation: string }) => r.operation)).toContain('RunInstances');
    // Besides dist/: the bin shim and, in a clone only, its check that dist/ is built.
    const shim = [BIN, join(root, 'scripts', 'ensure-built.mjs')];
    expect(offline.files.filter((f) => !f.startsWith(join(root, 'dist')) && !shim.includes(f))).toEqual([]);
    expect(offline.text).not.toMatch(/client-ec2|EC2Client|STSClient|@smithy/);
    expect(offline.text).not.toMatch(/ajv|when-exit|signal-exit/);
    expect(offline.text).not.toMatch(/SSH-2\.0|@inquirer|node_modules\/ssh2/);

    // The same recorder sees the SDK when credentials exist (they are checked with STS, here a dead endpoint).
    const online = loaded({ AWS_ENDPOINT_URL: DEAD_ENDPOINT });
    expect(online.run.status).not.toBe(0);
    expect(online.text).toMatch(/STSClient/);
  });
});

