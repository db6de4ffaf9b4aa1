import { describe, expect, it } from 'vitest';
import { formatRequests } from '../../src/commands/requests-text.js';

describe('formatRequests', () => {
  it('numbers the requests and keeps what fits on one line on one line', () => {
    const text = formatRequests([
      { service: 'ec2', operation: 'CreateTags', input: { Resources: ['vol-1'], Tags: [{ Key: 'Name', Value: 'x' }] } },
      { service: 'ec2', operation: 'RunInstances', input: { ImageId: 'ami-1', Long: 'x'.repeat(120), Small: { A: 1 } } },
    ]);
    expect(text.split('\n')).toEqual([
      '  1. ec2 CreateTags',
      '     {"Resources":["vol-1"],"Tags":[{"Key":"Name","Value":"x"}]}',
      '  2. ec2 RunInstances',
      '     {',
      '       "ImageId": "ami-1",',
      `       "Long": "${'x'.repeat(120)}",`,
      '       "Small": {"A":1}',
      '     }',
    ]);
    // Still the same data.
    expect(JSON.parse(text.split('\n').slice(3).join('\n'))).toEqual({ ImageId: 'ami-1', Long: 'x'.repeat(120), Small: { A: 1 } });
  });
});
