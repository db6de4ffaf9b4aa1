// Real certificates for the tls tests, made with the machine's openssl in a temp directory: a test
// CA and leaf certificates it signs for the DNS names a test asks for (P-256 keys: fast to make).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestCert {
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
}

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** A CA in `dir` (ca.crt, ca.key); `issue` signs leaf certificates with it. */
export function testCa(dir: string): { ca: TestCert; issue(name: string, dnsNames: string[], opts?: { days?: number }): TestCert } {
  openssl(['req', '-x509', ...newKey, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '3650', '-subj', '/CN=sourcegraph-launch test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const read = (name: string): TestCert => ({
    certPath: join(dir, `${name}.crt`),
    keyPath: join(dir, `${name}.key`),
    certPem: readFileSync(join(dir, `${name}.crt`), 'utf8'),
    keyPem: readFileSync(join(dir, `${name}.key`), 'utf8'),
  });
  let serial = 1;
  return {
    ca: read('ca'),
    issue(name, dnsNames, opts = {}) {
      openssl(['req', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${dnsNames[0] ?? name}`], dir);
      writeFileSync(join(dir, `${name}.ext`), `basicConstraints=CA:FALSE\n${dnsNames.length ? `subjectAltName=${dnsNames.map((d) => `DNS:${d}`).join(',')}\n` : ''}`);
      openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', String(++serial), '-days', String(opts.days ?? 365), '-extfile', `${name}.ext`, '-out', `${name}.crt`], dir);
      return read(name);
    },
  };
}
