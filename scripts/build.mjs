// Bundles the CLI into dist/ with esbuild. Everything (SDKs included) is bundled so the published
// package has no runtime dependencies: the AWS SDK alone installs ~57 MB unbundled, the bundle is
// a few MB. Code splitting keeps each cloud's SDK in its own chunk, loaded only by a dynamic
// import when that cloud is used, so `--help` loads only the small CLI chunk.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;

// commander requires node:child_process at load time, only to spawn executable subcommands, which
// this CLI never uses. Loading child_process (and the net/dgram internals behind it) is the single
// largest cost of `--help` (~8 ms of a ~40 ms Node start), so commander gets a stand-in that loads
// the real module on first use.
const lazyChildProcessForCommander = {
  name: 'lazy-child-process-for-commander',
  setup(b) {
    b.onResolve({ filter: /^node:child_process$/ }, (args) =>
      /[\\/]node_modules[\\/]commander[\\/]/.test(args.importer) ? { path: 'lazy-child-process', namespace: 'sgl-lazy' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'sgl-lazy' }, () => ({
      loader: 'js',
      contents:
        "let real; const load = () => (real ??= require('node:child_process'));\n" +
        'module.exports = { spawn: (...a) => load().spawn(...a) };\n',
    }));
  },
};

rmSync(`${root}dist`, { recursive: true, force: true });

await build({
  absWorkingDir: root,
  entryPoints: { cli: 'src/cli.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: false,
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: 'none',
  chunkNames: 'chunks/[name]-[hash]',
  // ssh2's optional native helpers: it falls back to pure JS when they are absent.
  external: ['cpu-features', '*.node'],
  // Bundled CommonJS (ssh2, parts of the SDK) calls require() for Node built-ins and reads __dirname.
  banner: {
    js: [
      "import { createRequire as __sglCreateRequire } from 'node:module';",
      "import { fileURLToPath as __sglFileURLToPath } from 'node:url';",
      'const require = __sglCreateRequire(import.meta.url);',
      // ssh2's WebAssembly poly1305 loader reads __dirname/__filename.
      'const __filename = __sglFileURLToPath(import.meta.url);',
      "const __dirname = __filename.slice(0, __filename.lastIndexOf('/'));",
    ].join(' '),
  },
  define: { __SGL_VERSION__: JSON.stringify(JSON.parse(readFileSync(`${root}package.json`, 'utf8')).version) },
  plugins: [lazyChildProcessForCommander],
  logLevel: 'warning',
});

// `--help` and `--version` of every command, rendered once here (see scripts/help-cache.mjs) so the
// bin prints them without loading the CLI: a help read from a file costs no more than Node's start.
writeFileSync(
  `${root}dist/help-cache.json`,
  execFileSync(process.execPath, [`${root}scripts/help-cache.mjs`], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NO_COLOR: '1' } }),
);
