// Deployments of the fake cloud: everything labelled with a deployment's name, plus what the user
// brought and the deployment uses (an address or SSH key held by one of its instances).
import type { Deployment } from '../port.js';
import { deploymentOf } from './network.js';
import { addressView, diskView, instanceView, liveInstances, policyView, sshKeyView, type World } from './world.js';

function empty(w: World, name: string): Deployment {
  return {
    name,
    scope: { provider: w.opts.provider, region: w.opts.region, params: { ...w.opts.scopeParams } },
    otherInstances: [],
    accessPolicies: [],
    sshKeys: [],
    addresses: [],
    disks: [],
  };
}

function collect(w: World, wanted: (name: string) => boolean): Map<string, Deployment> {
  const found = new Map<string, Deployment>();
  const entry = (name: string | undefined): Deployment | undefined => {
    if (name === undefined || !wanted(name)) return undefined;
    let d = found.get(name);
    if (!d) found.set(name, (d = empty(w, name)));
    return d;
  };
  // The serving instance is the newest labelled role "instance"; every other live one is listed apart.
  const instances = liveInstances(w)
    .filter((i) => i.labels.deployment !== undefined)
    .sort((a, b) => Number(b.labels.role === 'instance') - Number(a.labels.role === 'instance') || b.seq - a.seq);
  for (const rec of instances) {
    const d = entry(rec.labels.deployment);
    if (!d) continue;
    if (!d.instance && rec.labels.role === 'instance') {
      d.instance = instanceView(w, rec);
      if (rec.labels.version) d.version = rec.labels.version;
      if (rec.labels.size) d.size = rec.labels.size;
    } else d.otherInstances.push(instanceView(w, rec));
  }
  for (const p of w.policies.values()) entry(p.labels.deployment)?.accessPolicies.push(policyView(p));
  for (const k of w.sshKeys.values()) entry(k.labels.deployment)?.sshKeys.push(sshKeyView(k));
  for (const a of w.addresses.values()) entry(a.labels.deployment)?.addresses.push(addressView(a));
  for (const disk of [...w.disks.values()].sort((a, b) => a.seq - b.seq)) entry(disk.labels.deployment)?.disks.push(diskView(disk));

  // What the user brought is found through the instances that use it.
  for (const rec of instances) {
    const d = found.get(deploymentOf(rec));
    if (!d) continue;
    for (const a of w.addresses.values()) {
      if (a.instanceId === rec.id && !d.addresses.some((x) => x.id === a.id)) d.addresses.push(addressView(a));
    }
    const key = rec.sshKeyName ? w.sshKeys.get(rec.sshKeyName) : undefined;
    if (key && !d.sshKeys.some((k) => k.name === key.name)) d.sshKeys.push(sshKeyView(key));
  }
  return found;
}

export function findDeployment(w: World, name: string): Deployment {
  return collect(w, (n) => n === name).get(name) ?? empty(w, name);
}

export function listDeployments(w: World): Deployment[] {
  return [...collect(w, () => true).values()].sort((a, b) => a.name.localeCompare(b.name));
}
