// What a test puts into the fake cloud besides the port's verbs: things the user brought, extra
// subnets, rules someone else added, transitions held back or broken.
import type { AccessRule, StaticAddress } from '../port.js';
import type { Labels } from '../../core/labels.js';
import { notFound } from './faults.js';
import { addressView, checkedLabels, type InstanceRecord, type World } from './world.js';

export function addStaticAddress(w: World, ip: string, labels: Labels): StaticAddress {
  const rec = { seq: w.nextSeq(), id: w.newId('addr'), ip, managed: false, labels: checkedLabels(labels) };
  w.addresses.set(rec.id, rec);
  return addressView(rec);
}

export function addSshKey(w: World, name: string, publicKey: string): void {
  w.sshKeys.set(name, { seq: w.nextSeq(), name, managed: false, labels: {}, publicKey });
}

export function addSubnet(w: World, zone: string, opts: { id?: string; isDefault?: boolean }): string {
  if (!w.opts.zones.includes(zone)) throw new Error(`fake cloud: ${zone} is not a zone of ${w.opts.region}`);
  const id = opts.id ?? w.newId('subnet');
  w.subnets.set(id, { id, zone, networkId: w.networkId, isDefault: opts.isDefault ?? false });
  return id;
}

export function addAccessRule(w: World, policyId: string, rule: AccessRule): void {
  const policy = w.policies.get(policyId);
  if (!policy) throw notFound('access-policy', policyId);
  policy.rules.push({ ...rule });
}

export function instanceRecord(w: World, instanceId: string): InstanceRecord {
  const rec = w.instances.get(instanceId);
  if (!rec) throw new Error(`fake cloud: no instance ${instanceId}`);
  return rec;
}

/** The record behind any id (or SSH key name), for setLabels and removeLabels. */
export function labelled(w: World, id: string): { labels: Labels } {
  const rec = w.instances.get(id) ?? w.disks.get(id) ?? w.snapshots.get(id) ?? w.addresses.get(id) ?? w.policies.get(id) ?? w.images.get(id) ?? w.sshKeys.get(id);
  if (!rec) throw notFound('resource', id);
  return rec;
}

export function hold(w: World, resourceId: string): void {
  const disk = w.disks.get(resourceId);
  const t = w.instances.get(resourceId)?.change ?? disk?.creating ?? disk?.detaching ?? disk?.resizing ?? w.snapshots.get(resourceId)?.pending ?? w.images.get(resourceId)?.pending;
  if (!t) throw new Error(`fake cloud: ${resourceId} has no transition in flight to hold`);
  t.pollsLeft = Infinity;
  t.readyAt = undefined;
}

export function breakResource(w: World, resourceId: string): void {
  const rec = w.disks.get(resourceId) ?? w.snapshots.get(resourceId) ?? w.images.get(resourceId);
  if (!rec) throw new Error(`fake cloud: no disk, snapshot or image ${resourceId}`);
  rec.failed = true;
}
