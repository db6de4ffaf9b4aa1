// Test support for the EC2 emulator moto (see TESTING.md, tier 2). One moto server per test file:
//
//   const moto = await startMoto();                 // beforeAll
//   const ec2 = motoEc2Client(moto);                // raw SDK client for setup and assertions
//   await moto.reset();                             // beforeEach: empty account again
//   await moto.stop();                              // afterAll
//
// moto listens on loopback only. Instances get random public IPs (54.214.x.y) that must never be
// contacted: use makeTestHostReachable to give an instance the address of a local test host.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  CreateTagsCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  DescribeVolumesCommand,
  EC2Client,
  RegisterImageCommand,
  type Tag,
} from '@aws-sdk/client-ec2';
import { STSClient } from '@aws-sdk/client-sts';

// The SDK's notice that future releases need Node 22 is noise in test output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** The account moto pretends to be. */
export const MOTO_ACCOUNT_ID = '123456789012';

/** An image moto should know from the start, e.g. one "published" by Sourcegraph's accounts. */
export interface MotoImage {
  /** ami-… (hex after the dash). */
  id: string;
  name: string;
  ownerId: string;
  // No creation date: moto 5.2 parses it in place when loading, and then fails on every reset.
  tags?: Record<string, string>;
  architecture?: string;
}

export interface StartMotoOptions {
  /**
   * Images to preload in every region. Needed for anything not owned by the test account (RegisterImage
   * always creates images owned by it), such as Sourcegraph's published AMIs. When given, moto loads
   * only these instead of its default Amazon Linux / Ubuntu catalogue.
   */
  images?: MotoImage[];
  /** The Python that has moto installed; default $MOTO_PYTHON or python3 from PATH. */
  python?: string;
  /**
   * What GetConsoleOutput answers for an instance (moto always answers one fixed sample with no SSH
   * host key fingerprints). When given, the endpoint is a small proxy in front of moto that answers
   * GetConsoleOutput itself with this text (e.g. a test host's console, listing its real host keys)
   * and passes every other request through. `undefined` falls back to moto's own answer.
   */
  consoleOutput?: (instanceId: string) => string | undefined;
  /** Extra environment for moto itself (e.g. MOTO_ACM_VALIDATION_WAIT: seconds until a requested certificate shows as issued). */
  env?: Record<string, string>;
}

export interface MotoServer {
  /** http://127.0.0.1:<port>, for the SDK's `endpoint` or AWS_ENDPOINT_URL. */
  endpoint: string;
  port: number;
  /** Forget all state (instances, groups, addresses …) but keep the preloaded images. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

// Readiness is an event (moto answers, or its process exits with its log); this bound only catches
// a moto that hangs, and stays under the 60 s hook timeout. Python imports moto slowly on a loaded
// machine, so it is not a guess at how long a healthy start takes.
const READY_TIMEOUT_MS = 45_000;

async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function motoAmisFile(images: MotoImage[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'moto-amis-'));
  const file = join(dir, 'amis.json');
  const amis = images.map((image) => ({
    ami_id: image.id,
    name: image.name,
    owner_id: image.ownerId,
    state: 'available',
    public: true,
    image_type: 'machine',
    root_device_type: 'ebs',
    root_device_name: '/dev/xvda',
    architecture: image.architecture ?? 'x86_64',
    virtualization_type: 'hvm',
    hypervisor: 'xen',
    description: image.name,
    ...(image.tags ? { tags: image.tags } : {}),
  }));
  writeFileSync(file, JSON.stringify(amis));
  return file;
}

async function waitUntilReady(endpoint: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`moto exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output()}`);
    }
    try {
      const response = await fetch(`${endpoint}/moto-api/`);
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`moto did not answer ${endpoint}/moto-api/ within ${READY_TIMEOUT_MS / 1000} s:\n${output()}`);
}

/** Starts `python3 -m moto.server` on a free loopback port and waits until it answers. */
export async function startMoto(opts: StartMotoOptions = {}): Promise<MotoServer> {
  const port = await freeLoopbackPort();
  const endpoint = `http://127.0.0.1:${port}`;
  const amisFile = opts.images ? motoAmisFile(opts.images) : undefined;
  const python = opts.python ?? process.env.MOTO_PYTHON ?? 'python3';
  const child = spawn(python, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    env: { ...process.env, ...(amisFile ? { MOTO_AMIS_PATH: amisFile } : {}), ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Keep the tail of moto's log for error messages; it logs every request.
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-8_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const cleanupFiles = () => {
    if (amisFile) rmSync(join(amisFile, '..'), { recursive: true, force: true });
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(timer);
    }
    cleanupFiles();
  };

  try {
    await waitUntilReady(endpoint, child, () => log);
  } catch (err) {
    await stop();
    throw err;
  }

  let proxy: { endpoint: string; close(): Promise<void> } | undefined;
  if (opts.consoleOutput) proxy = await startConsoleProxy(endpoint, opts.consoleOutput);
  return {
    endpoint: proxy?.endpoint ?? endpoint,
    port,
    async reset() {
      const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!response.ok) throw new Error(`moto reset failed: ${response.status} ${await response.text()}`);
    },
    async stop() {
      await proxy?.close();
      await stop();
    },
  };
}

/** A loopback HTTP proxy to moto that answers EC2 GetConsoleOutput from `consoleOutput`. */
async function startConsoleProxy(target: string, consoleOutput: (instanceId: string) => string | undefined): Promise<{ endpoint: string; close(): Promise<void> }> {
  const server = createHttpServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const params = new URLSearchParams(body.toString('utf8'));
    if (req.method === 'POST' && params.get('Action') === 'GetConsoleOutput') {
      const instanceId = params.get('InstanceId') ?? '';
      const text = consoleOutput(instanceId);
      if (text !== undefined) {
        res.writeHead(200, { 'content-type': 'text/xml' });
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?><GetConsoleOutputResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">` +
            `<requestId>console-proxy</requestId><instanceId>${instanceId}</instanceId><timestamp>${new Date().toISOString()}</timestamp>` +
            `<output>${Buffer.from(text, 'utf8').toString('base64')}</output></GetConsoleOutputResponse>`,
        );
        return;
      }
    }
    const headers = { ...req.headers } as Record<string, string>;
    delete headers.host;
    try {
      const upstream = await fetch(`${target}${req.url ?? '/'}`, { method: req.method, headers, body: req.method === 'GET' || req.method === 'HEAD' ? undefined : body });
      const out = Buffer.from(await upstream.arrayBuffer());
      res.writeHead(upstream.status, Object.fromEntries([...upstream.headers].filter(([k]) => k !== 'content-encoding' && k !== 'content-length' && k !== 'transfer-encoding')));
      res.end(out);
    } catch (e) {
      res.writeHead(502);
      res.end(String(e));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A raw EC2 client pointed at moto, for test setup and for asserting what exists. */
export function motoEc2Client(moto: Pick<MotoServer, 'endpoint'>, region = 'us-east-1'): EC2Client {
  return new EC2Client({ region, endpoint: moto.endpoint, maxAttempts: 1 });
}

export function motoStsClient(moto: Pick<MotoServer, 'endpoint'>, region = 'us-east-1'): STSClient {
  return new STSClient({ region, endpoint: moto.endpoint, maxAttempts: 1 });
}

function toTags(tags: Record<string, string>): Tag[] {
  return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
}

/**
 * Registers an image in the test account. By default it is tagged the way `build-image` tags its
 * images (role image + version, parsed from a "Sourcegraph v<version>" name or given), so the
 * adapter's findImage finds it as a built image. Returns the image id.
 *
 * moto ignores TagSpecifications on RegisterImage, hence the separate CreateTags.
 */
export async function registerTestImage(
  ec2: EC2Client,
  opts: { name: string; version?: string; builtTags?: boolean; tags?: Record<string, string> },
): Promise<string> {
  const out = await ec2.send(
    new RegisterImageCommand({
      Name: opts.name,
      Architecture: 'x86_64',
      RootDeviceName: '/dev/xvda',
      VirtualizationType: 'hvm',
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeSize: 50, VolumeType: 'gp3' } }],
    }),
  );
  const imageId = out.ImageId;
  if (!imageId) throw new Error('moto RegisterImage returned no ImageId');
  const version = opts.version ?? /v(\d+\.\d+\.\d+)/.exec(opts.name)?.[1];
  const tags: Record<string, string> = {
    ...(opts.builtTags !== false && version
      ? { 'sourcegraph-launch:role': 'image', 'sourcegraph-launch:version': version, 'sourcegraph-launch:managed': 'true' }
      : {}),
    ...opts.tags,
  };
  if (Object.keys(tags).length > 0) {
    await ec2.send(new CreateTagsCommand({ Resources: [imageId], Tags: toTags(tags) }));
  }
  return imageId;
}

/**
 * Allocates an Elastic IP with a chosen address (moto accepts any). With `deployment`, it carries
 * the tags the launcher gives the addresses it allocates, so a launch with a new Elastic IP adopts
 * this one instead of allocating a random address. Returns the allocation id.
 */
export async function allocateTestAddress(
  ec2: EC2Client,
  address: string,
  opts: { deployment?: string } = {},
): Promise<string> {
  const tags = opts.deployment
    ? {
        'sourcegraph-launch:deployment': opts.deployment,
        'sourcegraph-launch:role': 'address',
        'sourcegraph-launch:managed': 'true',
      }
    : undefined;
  const out = await ec2.send(
    new AllocateAddressCommand({
      Domain: 'vpc',
      Address: address,
      ...(tags ? { TagSpecifications: [{ ResourceType: 'elastic-ip', Tags: toTags(tags) }] } : {}),
    }),
  );
  if (!out.AllocationId) throw new Error('moto AllocateAddress returned no AllocationId');
  return out.AllocationId;
}

/**
 * Makes an instance's public IP the address of a local test host (TESTING.md): allocates that
 * address as an Elastic IP and associates it, so DescribeInstances reports it as the public IP.
 * The launcher can adopt it with `elasticIp: { mode: 'existing', allocationId }`.
 */
export async function makeTestHostReachable(
  ec2: EC2Client,
  instanceId: string,
  address: string,
  opts: { deployment?: string } = {},
): Promise<{ allocationId: string; associationId: string }> {
  const allocationId = await allocateTestAddress(ec2, address, opts);
  const out = await ec2.send(new AssociateAddressCommand({ AllocationId: allocationId, InstanceId: instanceId }));
  if (!out.AssociationId) throw new Error('moto AssociateAddress returned no AssociationId');
  return { allocationId, associationId: out.AssociationId };
}

/** Filter for everything tagged with a deployment, for assertions on what exists. */
export function byDeployment(name: string): { Name: string; Values: string[] }[] {
  return [{ Name: 'tag:sourcegraph-launch:deployment', Values: [name] }];
}

/** EC2's tag list as a plain object. */
export function tagMap(tags: { Key?: string; Value?: string }[] | undefined): Record<string, string | undefined> {
  return Object.fromEntries((tags ?? []).map((t) => [t.Key, t.Value]));
}

/**
 * What exists in moto for one deployment (everything tagged with it), for assertions: live
 * (non-terminated) instances, security groups, key pairs, addresses and volumes.
 */
export function deploymentResources(ec2: EC2Client) {
  return {
    async liveInstances(name: string) {
      const out = await ec2.send(new DescribeInstancesCommand({ Filters: byDeployment(name) }));
      return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name !== 'terminated');
    },
    async groups(name: string) {
      return (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: byDeployment(name) }))).SecurityGroups ?? [];
    },
    async keyPairs(name: string) {
      return (await ec2.send(new DescribeKeyPairsCommand({ Filters: byDeployment(name) }))).KeyPairs ?? [];
    },
    async addresses(name: string) {
      return (await ec2.send(new DescribeAddressesCommand({ Filters: byDeployment(name) }))).Addresses ?? [];
    },
    async volumes(name: string) {
      return (await ec2.send(new DescribeVolumesCommand({ Filters: byDeployment(name) }))).Volumes ?? [];
    },
  };
}
