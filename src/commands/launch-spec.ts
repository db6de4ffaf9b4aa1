import type { KeyPairSpec, LaunchSpec } from '../cloud/cloud.js';
import { dataVolumeFor, keyPairNameFor, type LaunchPlan } from '../core/launch-plan.js';
import { AWS_ROOT_VOLUME } from '../core/presets.js';

/** Turns the plan into the adapter's input. `publicKey` is the OpenSSH public key line to import. */
export function planToLaunchSpec(plan: LaunchPlan, opts: { clientToken: string; publicKey?: string }): LaunchSpec {
  const key = plan.sshKey.value;
  const keyPair: KeyPairSpec =
    key.mode === 'existing'
      ? { mode: 'existing', keyName: key.keyName }
      : { mode: 'import', keyName: keyPairNameFor(plan.name.value), publicKey: opts.publicKey ?? '<public key>' };
  return {
    name: plan.name.value,
    region: plan.region.value,
    version: plan.version.value,
    size: plan.size.value,
    imageId: plan.image.value.id,
    instanceType: plan.instanceType.value,
    subnetId: plan.subnet.value,
    rootVolume: { device: AWS_ROOT_VOLUME.device, sizeGiB: AWS_ROOT_VOLUME.sizeGiB, type: AWS_ROOT_VOLUME.type },
    dataVolume: dataVolumeFor(plan),
    kmsKeyId: plan.kmsKey.value,
    allowCidrs: plan.allowCidrs.value,
    sshCidrs: plan.sshCidrs.value,
    keyPair,
    elasticIp: plan.elasticIp.value,
    clientToken: opts.clientToken,
    ...(plan.dataVolume?.value.mode === 'existing' ? { existingDataVolumeId: plan.dataVolume.value.volumeId } : {}),
  };
}
