// The caller's public IPv4, offered as the wizard's --allow-cidr suggestion. Only the interactive
// wizard asks (never CI; the tests give the CLI a lookup that answers nothing), and a failure
// just means no suggestion.
import { get } from 'node:https';

export function lookupPublicIp(timeoutMs = 3000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = get('https://checkip.amazonaws.com/', { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c.slice(0, 64)));
      res.on('end', () => {
        const ip = body.trim();
        resolve(/^\d{1,3}(\.\d{1,3}){3}$/.test(ip) ? ip : undefined);
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}
