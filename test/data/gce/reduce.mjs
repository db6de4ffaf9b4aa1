#!/usr/bin/env node
// Cuts the Compute Engine v1 discovery document down to the methods the GCE emulator serves
// (test/support/gce-emulator/) and the schemas they reach, transitively. Everything else in the
// document (top-level metadata, method and schema text) is copied unchanged, so the subset can be
// compared with its source. Deterministic: the same input gives the same bytes.
//
//   node test/data/gce/reduce.mjs [IN] [OUT]
//   IN  default /work/shared/reference/apis/gce/compute-v1-discovery.json
//   OUT default compute-v1-subset.json beside this script
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// resource → methods. Keep in step with the emulator's router (its test checks every route exists here).
export const KEEP = {
  projects: ['get'],
  regions: ['get', 'list'],
  zones: ['get', 'list'],
  machineTypes: ['get', 'list'],
  diskTypes: ['get', 'list'],
  instances: [
    'insert', 'get', 'list', 'aggregatedList', 'delete', 'start', 'stop', 'setLabels', 'setMetadata', 'setTags',
    'attachDisk', 'detachDisk', 'getSerialPortOutput', 'getGuestAttributes', 'addAccessConfig', 'deleteAccessConfig',
  ],
  disks: [
    'insert', 'get', 'list', 'delete', 'setLabels', 'createSnapshot', 'resize', 'addResourcePolicies', 'removeResourcePolicies',
  ],
  snapshots: ['get', 'list', 'delete', 'setLabels'],
  images: ['insert', 'get', 'list', 'delete', 'setLabels', 'getFromFamily'],
  addresses: ['insert', 'get', 'list', 'delete', 'setLabels'],
  firewalls: ['insert', 'get', 'list', 'patch', 'update', 'delete'],
  networks: ['get', 'list'],
  subnetworks: ['get', 'list'],
  resourcePolicies: ['insert', 'get', 'list', 'delete'],
  zoneOperations: ['get', 'wait', 'list'],
  regionOperations: ['get', 'wait', 'list'],
  globalOperations: ['get', 'wait', 'list'],
  // tls --tls managed on GCE: a Google-managed certificate and a global external Application Load Balancer.
  sslCertificates: ['insert', 'get', 'list', 'delete'],
  instanceGroups: ['insert', 'get', 'list', 'delete', 'addInstances', 'listInstances', 'removeInstances', 'setNamedPorts'],
  healthChecks: ['insert', 'get', 'list', 'delete'],
  backendServices: ['insert', 'get', 'list', 'delete'],
  urlMaps: ['insert', 'get', 'list', 'delete'],
  targetHttpsProxies: ['insert', 'get', 'list', 'delete'],
  targetHttpProxies: ['insert', 'get', 'list', 'delete'],
  globalForwardingRules: ['insert', 'get', 'list', 'delete'],
  globalAddresses: ['insert', 'get', 'list', 'delete'],
};

function refs(node, out) {
  if (Array.isArray(node)) for (const v of node) refs(v, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.add(v);
      else refs(v, out);
    }
  }
}

function sortKeys(node) {
  if (Array.isArray(node)) return node.map(sortKeys);
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.keys(node).sort().map((k) => [k, sortKeys(node[k])]));
  }
  return node;
}

export function reduce(doc) {
  const resources = {};
  for (const [name, methods] of Object.entries(KEEP)) {
    const resource = doc.resources[name];
    if (!resource) throw new Error(`resource not in document: ${name}`);
    const kept = {};
    for (const m of methods) {
      if (!resource.methods[m]) throw new Error(`method not in document: ${name}.${m}`);
      kept[m] = resource.methods[m];
    }
    resources[name] = { methods: kept };
  }
  const closure = new Set();
  const todo = new Set();
  refs(resources, todo);
  const queue = [...todo].sort();
  while (queue.length > 0) {
    const name = queue.pop();
    if (closure.has(name)) continue;
    const schema = doc.schemas[name];
    if (!schema) throw new Error(`dangling $ref: ${name}`);
    closure.add(name);
    const nested = new Set();
    refs(schema, nested);
    queue.push(...[...nested].filter((n) => !closure.has(n)).sort());
  }
  const out = Object.fromEntries(Object.entries(doc).filter(([k]) => k !== 'resources' && k !== 'schemas'));
  out.resources = resources;
  out.schemas = Object.fromEntries([...closure].sort().map((n) => [n, doc.schemas[n]]));
  out['x-subset'] = {
    note: 'Subset for the GCE emulator: only these methods and the schemas they reach. Made by reduce.mjs.',
    methods: KEEP,
    schemaCount: closure.size,
    sourceSchemaCount: Object.keys(doc.schemas).length,
  };
  return sortKeys(out);
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const here = dirname(fileURLToPath(import.meta.url));
  const input = process.argv[2] ?? '/work/shared/reference/apis/gce/compute-v1-discovery.json';
  const output = process.argv[3] ?? join(here, 'compute-v1-subset.json');
  const doc = JSON.parse(readFileSync(input, 'utf8'));
  const out = reduce(doc);
  writeFileSync(output, `${JSON.stringify(out, null, 1)}\n`);
  console.log(`${output}: ${Object.keys(out.resources).length} resources, ${Object.keys(out.schemas).length} of ${Object.keys(doc.schemas).length} schemas, revision ${doc.revision}`);
}
