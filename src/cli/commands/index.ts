// Every command, in the order `--help` lists them.
import type { CommandDef } from '../command.js';
import type { FlagSet } from '../flags.js';
import { backupCommand, backupsCommand, pruneCommand, restoreCommand } from './backup.js';
import { buildImageCommand } from './build-image.js';
import { configCommand } from './config.js';
import { destroyCommand } from './destroy.js';
import { doctorCommand } from './doctor.js';
import { diskGrowCommand } from './disk.js';
import { kubeconfigCommand } from './kubeconfig.js';
import { launchCommand } from './launch.js';
import { presetsCommand } from './presets.js';
import { logsCommand, sshCommand } from './ssh.js';
import { listCommand, statusCommand } from './status.js';
import { rollbackCommand, upgradeCommand } from './upgrade.js';
import { tlsCommand } from './tls.js';
import { executorsEnableCommand, executorsTokenCommand } from './executors.js';
import { scaleCommand } from './scale.js';

export const COMMANDS: readonly CommandDef<FlagSet>[] = [
  launchCommand,
  presetsCommand,
  statusCommand,
  listCommand,
  sshCommand,
  logsCommand,
  kubeconfigCommand,
  configCommand,
  destroyCommand,
  buildImageCommand,
  upgradeCommand,
  rollbackCommand,
  backupCommand,
  backupsCommand,
  restoreCommand,
  pruneCommand,
  doctorCommand,
  diskGrowCommand,
  tlsCommand,
  executorsEnableCommand,
  executorsTokenCommand,
  scaleCommand,
] as unknown as readonly CommandDef<FlagSet>[];
