// Runs a script as root on a test host the way a cloud's guest agent runs a run command (Azure Run
// Command, the SSM agent): inside the host's namespace, with its PATH and stubs. It goes over the
// test's own root SSH login to the host: the agent's path, never the CLI's. Every command the host
// sees from here is `bash -s` (the script comes on stdin), so a test can tell the agent's commands
// from SSH sessions the CLI would open.
import { spawn } from 'node:child_process';

export function runAsAgent(address: string, privateKeyPath: string, script: string): Promise<{ stdout: string; stderr: string; exitCode: number }> {
  return new Promise((resolve, reject) => {
    const ssh = spawn(
      'ssh',
      ['-i', privateKeyPath, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', `root@${address}`, 'bash -s'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    ssh.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    ssh.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    ssh.on('error', reject);
    ssh.on('close', (code) => (code === 255 ? reject(new Error(`the agent's SSH to the test host failed: ${stderr}`)) : resolve({ stdout, stderr, exitCode: code ?? 1 })));
    ssh.stdin.end(script);
  });
}
