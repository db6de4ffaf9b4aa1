import { bool, forceUnlockFlag } from '../flags.js';
import { defineCommand, type CommandFlags, PROGRAM, YES } from '../command.js';

export const destroyCommand = defineCommand({
  name: 'destroy',
  args: '[name]',
  description: 'delete the resources tagged with a deployment (its data is kept unless --delete-data)',
  yes: YES.destroy,
  flags: {
    deleteData: bool('--delete-data', 'also delete the data volumes, snapshots and snapshot policy: all Sourcegraph data is lost'),
    forceUnlock: forceUnlockFlag,
    dryRun: bool('--dry-run', 'show what would be deleted and stop'),
    ignoreMissing: bool('--ignore-missing', 'exit 0 when the deployment does not exist (default: exit 1, as status does)'),
  },
  target: { name: 'default' },
  cloud: true,
  examples: [`${PROGRAM} destroy sourcegraph --region us-east-1`, `${PROGRAM} destroy staging --region eu-west-1 --yes --delete-data`],
  helpAfter:
    '\nOn a terminal it asks you to type the name; a different name changes nothing (exit 1). Never releases\n' +
    'an address or deletes a key pair you brought.\n' +
    'The DNS record `tls` set in your zone (as recorded on this machine) is deleted last, only while it still\n' +
    'points at the deployment\'s address; the zone and its other records are never touched.\n',
  run: async (deps, name, flags): Promise<unknown> => (await import('../../commands/destroy.js')).runDestroy(deps, name, flags),
});

export type DestroyFlags = CommandFlags<typeof destroyCommand.flags>;
