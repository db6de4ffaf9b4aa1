#!/usr/bin/env node
// The CLI as the end-to-end tests run it: the same built dist/cli.js and `run` that bin/ calls,
// the same process, arguments, environment and streams, plus the test seams given as
// dependencies (production code reads none of these variables):
//   SGL_TEST_FAULT=after:<step>   the process kills itself (SIGKILL) right after that step's work,
//                                 before the journal records it: the worst moment to lose power
//   SGL_TEST_PAUSE=after:<step>   the process stops itself (SIGSTOP) after that step's work, until SIGCONT
//   SGL_TEST_POLL_MS=<ms>         how often waits poll
//   SGL_TEST_PROVISION_DIR=<dir>  the provision scripts to use
//   SGL_TEST_NO_IP_LOOKUP=1       the wizard suggests no public IP (no "what is my IP" request)
//   SGL_TEST_PUBLIC_IP=<ip>       this machine's public IP as the lookup would answer (no request)
//   SGL_TEST_DNS_FILE=<path>      `tls`'s DNS answers: lines "<name> <ipv4>", read at each lookup (no DNS query);
//                                 connections (https://<domain>) dial the same answers (node:dns lookup)
import { ensureBuilt } from '../../scripts/ensure-built.mjs';

await ensureBuilt();
const { run } = await import('../../dist/cli.js');
const env = process.env;
const overrides = {};
if (env.SGL_TEST_FAULT?.startsWith('after:')) {
  const step = env.SGL_TEST_FAULT.slice('after:'.length);
  overrides.afterStep = (id) => {
    if (id === step) process.kill(process.pid, 'SIGKILL');
  };
}
if (env.SGL_TEST_PAUSE?.startsWith('after:')) {
  // The process stops itself (SIGSTOP) right after that step's work, for the test to act on the
  // cloud at a known moment, and goes on when the test sends SIGCONT.
  const step = env.SGL_TEST_PAUSE.slice('after:'.length);
  const previous = overrides.afterStep;
  overrides.afterStep = (id) => {
    previous?.(id);
    if (id === step) process.kill(process.pid, 'SIGSTOP');
  };
}
if (env.SGL_TEST_POLL_MS) overrides.pollMs = Number(env.SGL_TEST_POLL_MS);
if (env.SGL_TEST_PROVISION_DIR) overrides.provisionDir = env.SGL_TEST_PROVISION_DIR;
if (env.SGL_TEST_NO_IP_LOOKUP) overrides.lookupPublicIp = async () => undefined;
if (env.SGL_TEST_PUBLIC_IP) overrides.lookupPublicIp = async () => env.SGL_TEST_PUBLIC_IP;
if (env.SGL_TEST_DNS_FILE) {
  const { readFileSync, existsSync } = await import('node:fs');
  const file = env.SGL_TEST_DNS_FILE;
  overrides.resolveHost = async (name) => {
    const ips = (existsSync(file) ? readFileSync(file, 'utf8') : '').split('\n').map((l) => l.trim().split(/\s+/)).filter(([n]) => n === name).map(([, ip]) => ip);
    if (!ips.length) throw Object.assign(new Error(`queryA ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    return ips;
  };
  // The HTTPS probes of the domain (tls --tls acme's wait, status) connect through node:dns's
  // lookup, which node:net reads at each connection: a name in the file dials its first address;
  // any other name is looked up as usual (inside the test's network namespace).
  const dns = (await import('node:dns')).default;
  const lookup = dns.lookup;
  dns.lookup = (hostname, options, callback) => {
    if (typeof options === 'function') [callback, options] = [options, {}];
    if (typeof options === 'number') options = { family: options };
    overrides.resolveHost(hostname).then(
      (ips) => (options?.all ? callback(null, ips.map((address) => ({ address, family: 4 }))) : callback(null, ips[0], 4)),
      () => lookup.call(dns, hostname, options, callback),
    );
  };
}
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e) => {
    if (e.code !== 'EPIPE') throw e;
  });
}
process.exitCode = await run(process.argv.slice(2), env, process, overrides);
