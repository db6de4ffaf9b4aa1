import { negatable } from '../flags.js';
import { defineCommand, type CommandFlags, PROGRAM, YES } from '../command.js';

export const statusCommand = defineCommand({
  name: 'status',
  args: '[name]',
  description: 'show a deployment as the cloud sees it, and the version its /healthz serves',
  yes: YES.never('status'),
  flags: { probe: negatable('--no-probe', 'do not send an HTTP request to the instance (nor to the HTTPS domain `tls` set up), nor read the data disk\'s usage over SSH') },
  target: { name: 'default' },
  cloud: true,
  examples: [`${PROGRAM} status`, `${PROGRAM} status prod --region us-east-1 --json`],
  helpAfter: `
Works with no local state: the deployment is found by its tags.
The data disk's usage (/mnt/data, as the boot service last recorded it in its status file) is read
over SSH with a 5-second timeout when SSH is open to this machine; otherwise it shows as
"unknown (why)", e.g. "unknown (SSH closed)", and status does not fail. From 80 % used it warns.
`,
  run: async (deps, name, flags): Promise<unknown> => (await import('../../commands/status.js')).runStatus(deps, name, flags),
});

export const listCommand = defineCommand({
  name: 'list',
  description: 'list every deployment in a region (found by tags) with state and version',
  yes: YES.never('list'),
  flags: { probe: negatable('--no-probe', 'do not send HTTP requests to the instances: the version column then shows the tag, marked "(tag)"') },
  target: { name: false },
  cloud: true,
  examples: [`${PROGRAM} list --region us-east-1`, `${PROGRAM} list --region us-east-1 --json`],
  run: async (deps, _name, flags): Promise<unknown> => (await import('../../commands/status.js')).runList(deps, flags),
});

export type StatusFlags = CommandFlags<typeof statusCommand.flags>;
export type ListFlags = CommandFlags<typeof listCommand.flags>;
