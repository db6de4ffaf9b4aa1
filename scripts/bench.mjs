// `npm run bench`: what a user waits for, measured on the packed package installed as `npx` would.
//   - start-up: `--help` and an offline `launch --dry-run --json` (no credentials; on AWS, and on GCE and
//     Azure with --image-source base) against the
//     Node floor (`node -e 0`), runs interleaved so a busy machine slows all three alike.
//     Targets: --help ≤ 1.2× the floor, the offline dry run ≤ 2.5×. All three run in the caller's
//     environment minus AWS credentials; variables that slow every Node start (NODE_OPTIONS,
//     NODE_EXTRA_CA_CERTS) are listed in the result, since they raise the floor too.
//   - readiness: three launches on the EC2 emulator (moto) with --hold-seconds 0, each against a
//     stand-in server whose /healthz starts serving the version at a random moment; the time from
//     that moment to the CLI reporting readiness. Target: median ≤ 1 s. Runs in its own network
//     namespace (nothing leaves the machine; the stand-in listens on port 80 of a loopback address).
//   - installed size: at most 60 MB (everything is bundled into dist/, no runtime dependencies).
// BENCH_RUNS sets the start-up runs per command (default 21).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const VERSION = '6.12.5040';
const TARGETS = { helpRatio: 1.2, dryRunRatio: 2.5, readinessMedianMs: 1000, installedMB: 60 };

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function dirSize(dir) {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? dirSize(p) : statSync(p).size;
  }
  return total;
}

/** Variables that change what every Node start costs (they apply to the floor as much as to us). */
const NODE_STARTUP_VARS = ['NODE_OPTIONS', 'NODE_EXTRA_CA_CERTS', 'NODE_COMPILE_CACHE'];

/**
 * The caller's environment (a user's Node starts as theirs does) without any AWS or Google
 * credential source and with both metadata services off: the offline case, with no traffic at all.
 */
function offlineEnv(home) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(AWS_|GOOGLE_|CLOUDSDK_|GCLOUD_|AZURE_|ARM_|IDENTITY_|MSI_)/.test(k)));
  return {
    ...env,
    CI: 'true',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(home, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-aws-credentials'),
    METADATA_SERVER_DETECTION: 'none',
    CLOUDSDK_CONFIG: join(home, 'no-gcloud'),
    // No Azure CLI login to ask: its configuration directory is empty.
    AZURE_CONFIG_DIR: join(home, 'no-azure'),
    SOURCEGRAPH_LAUNCH_HOME: join(home, 'state'),
    SOURCEGRAPH_LAUNCH_NO_IP_LOOKUP: '1',
  };
}

function startup(bin, work) {
  const runs = Number(process.env.BENCH_RUNS ?? 21);
  const env = offlineEnv(work);
  const commands = {
    floor: [process.execPath, ['-e', '0']],
    help: [process.execPath, [bin, '--help']],
    dryRun: [process.execPath, [bin, 'launch', '--region', 'us-east-1', '--allow-cidr', '203.0.113.0/24', '--dry-run', '--json']],
    // The same on Compute Engine: no credentials (the metadata server ruled out), Ubuntu's image family.
    dryRunGcp: [process.execPath, [bin, 'launch', '--cloud', 'gcp', '--project', 'bench-project', '--region', 'us-central1', '--version', VERSION, '--image-source', 'base', '--allow-cidr', '203.0.113.0/24', '--dry-run', '--json']],
    // And on Azure: no credentials, no subscription (offline), Canonical's image resolved by ARM.
    dryRunAzure: [process.execPath, [bin, 'launch', '--cloud', 'azure', '--region', 'eastus', '--version', VERSION, '--image-source', 'base', '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', 'none', '--dry-run', '--json']],
  };
  const times = { floor: [], help: [], dryRun: [], dryRunGcp: [], dryRunAzure: [] };
  for (let i = 0; i < runs; i++) {
    for (const [name, [cmd, args]] of Object.entries(commands)) {
      const t = process.hrtime.bigint();
      const r = spawnSync(cmd, args, { cwd: work, env, stdio: 'ignore' });
      if (r.status !== 0) throw new Error(`${name}: ${cmd} ${args.join(' ')} exited ${r.status}`);
      times[name].push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  }
  const floor = median(times.floor);
  return {
    runs,
    nodeFloorMs: round(floor),
    helpMs: round(median(times.help)),
    helpToFloorRatio: round(median(times.help) / floor, 2),
    dryRunMs: round(median(times.dryRun)),
    dryRunToFloorRatio: round(median(times.dryRun) / floor, 2),
    dryRunGcpMs: round(median(times.dryRunGcp)),
    dryRunGcpToFloorRatio: round(median(times.dryRunGcp) / floor, 2),
    dryRunAzureMs: round(median(times.dryRunAzure)),
    dryRunAzureToFloorRatio: round(median(times.dryRunAzure) / floor, 2),
    nodeStartupVars: NODE_STARTUP_VARS.filter((k) => process.env[k]),
  };
}

function round(n, digits = 1) {
  return Number(n.toFixed(digits));
}

// ---- readiness (inside a network namespace) ------------------------------------------------

const STAND_IN = '127.0.0.2';

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startMoto(work) {
  const port = await freePort();
  const amis = join(work, 'amis.json');
  writeFileSync(
    amis,
    JSON.stringify([
      {
        ami_id: 'ami-0a1b2c3d4e5f60718',
        name: `Sourcegraph v${VERSION}`,
        owner_id: '840044800169',
        state: 'available',
        public: true,
        image_type: 'machine',
        root_device_type: 'ebs',
        root_device_name: '/dev/xvda',
        architecture: 'x86_64',
        virtualization_type: 'hvm',
        hypervisor: 'xen',
        description: 'bench',
      },
    ]),
  );
  const child = spawn('python3', ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    env: { ...process.env, MOTO_AMIS_PATH: amis },
    stdio: 'ignore',
  });
  const endpoint = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${endpoint}/moto-api/`)).ok) return { endpoint, stop: () => child.kill('SIGTERM') };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error('moto did not start (python3 -m moto.server)');
}

/** /healthz: 404 until `flipAt` (set when the first probe arrives), then the version. */
async function startStandIn() {
  const state = { flipAt: undefined, firstProbeAt: undefined };
  const server = createServer((req, res) => {
    const now = performance.now();
    if (req.url === '/healthz') {
      if (state.firstProbeAt === undefined) {
        state.firstProbeAt = now;
        // A random phase against the prober's schedule, a few probes in.
        state.flipAt = now + 2000 + Math.random() * 1000;
      }
      if (now < state.flipAt) res.writeHead(404).end('404 page not found\n');
      else res.writeHead(200).end(`${VERSION}\n`);
      return;
    }
    if (req.url === '/sign-in') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<script>window.context = {"needsSiteInit":true}</script>');
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise((resolve) => server.listen(80, STAND_IN, resolve));
  return { state, close: () => new Promise((r) => server.close(r)) };
}

async function readinessRun(bin, moto, work, i) {
  const { EC2Client, AllocateAddressCommand } = await import('@aws-sdk/client-ec2');
  await fetch(`${moto.endpoint}/moto-api/reset`, { method: 'POST' });
  const name = `bench${i}`;
  const ec2 = new EC2Client({ region: 'us-east-1', endpoint: moto.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  // The address the launch adopts ("--elastic-ip new" finds it by its tags) is the stand-in's.
  await ec2.send(
    new AllocateAddressCommand({
      Domain: 'vpc',
      Address: STAND_IN,
      TagSpecifications: [
        {
          ResourceType: 'elastic-ip',
          Tags: [
            { Key: 'sourcegraph-launch:deployment', Value: name },
            { Key: 'sourcegraph-launch:role', Value: 'address' },
            { Key: 'sourcegraph-launch:managed', Value: 'true' },
          ],
        },
      ],
    }),
  );
  ec2.destroy();
  const standIn = await startStandIn();
  const env = {
    ...offlineEnv(work),
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_ENDPOINT_URL: moto.endpoint,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const args = ['launch', '--region', 'us-east-1', '--version', VERSION, '--allow-cidr', '203.0.113.0/24', '--ssh-cidr', 'none', '--name', name, '--hold-seconds', '0', '--yes'];
  let readyAt;
  let output = '';
  const code = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const watch = (chunk) => {
      output += chunk;
      if (readyAt === undefined && /\/healthz reports [^\n]*: serving [^\n]*site admin/.test(output)) readyAt = performance.now();
    };
    child.stdout.setEncoding('utf8').on('data', watch);
    child.stderr.setEncoding('utf8').on('data', watch);
    child.on('error', reject);
    child.on('close', resolve);
  });
  await standIn.close();
  if (code !== 0 || readyAt === undefined) throw new Error(`launch ${name} exited ${code}:\n${output}`);
  return round(readyAt - standIn.state.flipAt, 0);
}

async function readiness(bin) {
  const work = mkdtempSync(join(tmpdir(), 'sgl-bench-ready-'));
  const moto = await startMoto(work);
  try {
    const latencies = [];
    for (let i = 1; i <= 3; i++) latencies.push(await readinessRun(bin, moto, work, i));
    return { readinessAfterHealthzMs: latencies, readinessMedianMs: median(latencies) };
  } finally {
    moto.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

// ---- main ----------------------------------------------------------------------------------

if (process.argv[2] === '--readiness') {
  // Inside the namespace: bring loopback up, then measure and print one JSON line.
  // (The SDK sets up the emulator here; its notice about future Node versions is noise.)
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  console.log(JSON.stringify(await readiness(process.argv[3])));
} else {
  const work = mkdtempSync(join(tmpdir(), 'sgl-bench-'));
  try {
    // npm pack builds dist/ first (prepack).
    const tgz = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: root, encoding: 'utf8' }).trim().split('\n').pop();
    execFileSync('npm', ['init', '-y'], { cwd: work, stdio: 'ignore' });
    execFileSync('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', join(work, tgz)], { cwd: work, stdio: 'ignore' });
    const installedMB = round(dirSize(join(work, 'node_modules')) / 1e6, 2);
    const bin = join(work, 'node_modules', 'sourcegraph-launch', 'bin', 'sourcegraph-launch.js');

    const start = startup(bin, work);
    const ns = process.getuid?.() === 0 ? ['--net'] : ['--user', '--map-root-user', '--net'];
    const ready = JSON.parse(
      execFileSync('unshare', [...ns, process.execPath, join(root, 'scripts', 'bench.mjs'), '--readiness', bin], { cwd: root, encoding: 'utf8' })
        .trim()
        .split('\n')
        .pop(),
    );

    const result = { ...start, ...ready, installedMB, targets: TARGETS };
    console.log(JSON.stringify(result, null, 2));
    const over = [
      result.helpToFloorRatio > TARGETS.helpRatio && `--help ${result.helpToFloorRatio}× the Node floor (target ≤ ${TARGETS.helpRatio}×)`,
      result.dryRunToFloorRatio > TARGETS.dryRunRatio && `offline dry run ${result.dryRunToFloorRatio}× the Node floor (target ≤ ${TARGETS.dryRunRatio}×)`,
      result.dryRunGcpToFloorRatio > TARGETS.dryRunRatio && `offline GCE dry run ${result.dryRunGcpToFloorRatio}× the Node floor (target ≤ ${TARGETS.dryRunRatio}×)`,
      result.dryRunAzureToFloorRatio > TARGETS.dryRunRatio && `offline Azure dry run ${result.dryRunAzureToFloorRatio}× the Node floor (target ≤ ${TARGETS.dryRunRatio}×)`,
      result.readinessMedianMs > TARGETS.readinessMedianMs && `readiness ${result.readinessMedianMs} ms after /healthz (target ≤ ${TARGETS.readinessMedianMs} ms)`,
      installedMB > TARGETS.installedMB && `installed ${installedMB} MB (budget ${TARGETS.installedMB} MB)`,
    ].filter(Boolean);
    if (over.length) {
      console.error(`bench: over target:\n  ${over.join('\n  ')}`);
      process.exitCode = 1;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
