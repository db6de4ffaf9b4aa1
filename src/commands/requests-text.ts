// How --dry-run shows the mutating requests to a person: numbered, each input as JSON laid out
// over lines but with every object or array that fits on one line kept on one (tags, rules).
// (--json prints the same requests as data.)
import type { CloudRequest } from '../cloud/port.js';

const WIDTH = 100;

function layout(value: unknown, indent: string): string {
  const flat = JSON.stringify(value);
  if (value === null || typeof value !== 'object' || flat.length + indent.length <= WIDTH) return flat;
  const inner = `${indent}  `;
  if (Array.isArray(value)) return `[\n${value.map((v) => inner + layout(v, inner)).join(',\n')}\n${indent}]`;
  const entries = Object.entries(value as Record<string, unknown>).map(([k, v]) => `${inner}${JSON.stringify(k)}: ${layout(v, inner)}`);
  return `{\n${entries.join(',\n')}\n${indent}}`;
}

export function formatRequests(requests: CloudRequest[]): string {
  return requests.map((r, i) => `  ${i + 1}. ${r.service} ${r.operation}\n     ${layout(r.input, '     ')}`).join('\n');
}
