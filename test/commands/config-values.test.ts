import { describe, expect, it } from 'vitest';
import { applyAssignments, checkTopLevelKeys, coalesce, parseAssignment, parseValues } from '../../src/commands/config-values.js';
import { effectiveValues, parseConfigArgs } from '../../src/commands/config.js';

describe('Helm values for config', () => {
  it('merges as Helm does: later files win, maps merge, lists replace, null removes', () => {
    const size = { frontend: { replicaCount: 1, env: { A: { value: '1' } } }, searcher: { args: ['a', 'b'] }, keep: true };
    const volume = { frontend: { replicaCount: 2 } };
    const override = { frontend: { env: { B: { value: '2' } } }, searcher: { args: ['c'] }, keep: null };
    expect(coalesce(size, volume, override)).toEqual({ frontend: { replicaCount: 2, env: { A: { value: '1' }, B: { value: '2' } } }, searcher: { args: ['c'] } });
    // The inputs are not changed.
    expect(size.frontend.replicaCount).toBe(1);
  });

  it('reads files: empty or comments only is {}, a list or bad YAML is bad input', () => {
    expect(parseValues('', 'f')).toEqual({});
    expect(parseValues('# nothing\n', 'f')).toEqual({});
    expect(() => parseValues('- a\n', 'f')).toThrow(/must be a map/);
    expect(() => parseValues('a: [b\n', 'f')).toThrow(/not valid YAML/);
    expect(() => parseValues('a: 1\na: 2\n', 'f')).toThrow(/not valid YAML/);
  });

  it('sets dotted keys with typed values, keeping comments and order; null removes; a key under a scalar is refused', () => {
    const text = '# mine\nsearcher:\n  replicaCount: 1 # one\nfrontend:\n  replicaCount: 1\n';
    const out = applyAssignments(text, [parseAssignment('frontend.replicaCount=3'), parseAssignment('frontend.env.X.value="3"'), parseAssignment('searcher.replicaCount=null')], 'f');
    expect(out).toBe('# mine\nsearcher: {}\nfrontend:\n  replicaCount: 3\n  env:\n    X:\n      value: "3"\n');
    expect(parseValues(out, 'f')).toEqual({ searcher: {}, frontend: { replicaCount: 3, env: { X: { value: '3' } } } });
    expect(applyAssignments('', [parseAssignment('a.b=true')], 'f')).toBe('a:\n  b: true\n');
    expect(() => applyAssignments('a: 1\n', [parseAssignment('a.b=2')], 'f')).toThrow(/a is a value, not a map/);
    expect(() => parseAssignment('=1')).toThrow(/not KEY=VALUE/);
    expect(() => parseAssignment('a b=1')).toThrow(/not KEY=VALUE/);
  });

  it('names unknown top-level keys with the nearest known one', () => {
    expect(() => checkTopLevelKeys({ frontend: {}, gitsever: {} }, ['frontend', 'gitserver'], 'f')).toThrow('"gitsever" (did you mean "gitserver"?)');
    expect(() => checkTopLevelKeys({ frontend: {} }, ['frontend'], 'f')).not.toThrow();
  });

  it('takes the action, the name (the word without "=") and the settings in any order', () => {
    expect(parseConfigArgs(['set', 'a=1', 'prod', 'b.c=x'])).toMatchObject({ action: 'set', name: 'prod', assignments: [{ path: ['a'], value: 1 }, { path: ['b', 'c'], value: 'x' }] });
    expect(parseConfigArgs(['show'])).toEqual({ action: 'show', assignments: [] });
    expect(() => parseConfigArgs(['set', 'prod'])).toThrow(/at least one KEY=VALUE/);
    expect(() => parseConfigArgs(['show', 'a', 'b'])).toThrow(/one deployment name/);
    expect(() => parseConfigArgs(['frob'])).toThrow(/unknown action/);
  });

  it('shows what Helm gets in the boot service\'s order: common.yaml, the size, the volume, then override.yaml', () => {
    const files = {
      commonValues: 'pgsql:\n  nodeSelector:\n    sourcegraph-launch/role: server\nfrontend:\n  replicaCount: 1\n',
      sizeValues: 'frontend:\n  replicaCount: 2\npgsql:\n  resources: {limits: {cpu: "4"}}\n',
      inherited: 'gitserver:\n  replicaCount: 1\n',
    };
    // The size wins over the shared file; what the shared file pins is kept.
    expect(effectiveValues(files)).toEqual({
      pgsql: { nodeSelector: { 'sourcegraph-launch/role': 'server' }, resources: { limits: { cpu: '4' } } },
      frontend: { replicaCount: 2 },
      gitserver: { replicaCount: 1 },
    });
    // The customer's file wins over all of them, and null removes what the tool set.
    expect(effectiveValues({ ...files, override: 'pgsql:\n  nodeSelector:\n    sourcegraph-launch/role: null\nfrontend:\n  replicaCount: 3\n' })).toEqual({
      pgsql: { nodeSelector: {}, resources: { limits: { cpu: '4' } } },
      frontend: { replicaCount: 3 },
      gitserver: { replicaCount: 1 },
    });
    // An older image without common.yaml: the size's values alone, as before.
    expect(effectiveValues({ sizeValues: files.sizeValues })).toEqual({ frontend: { replicaCount: 2 }, pgsql: { resources: { limits: { cpu: '4' } } } });
  });

  it('takes a label key with one "/" as a key segment, e.g. for a nodeSelector', () => {
    expect(parseAssignment('pgsql.nodeSelector.sourcegraph-launch/role=server')).toMatchObject({ path: ['pgsql', 'nodeSelector', 'sourcegraph-launch/role'], value: 'server' });
    expect(applyAssignments('', [parseAssignment('gitserver.nodeSelector.sourcegraph-launch/role=agent')], 'f')).toBe('gitserver:\n  nodeSelector:\n    sourcegraph-launch/role: agent\n');
    expect(() => parseAssignment('a/=1')).toThrow(/not KEY=VALUE/);
    expect(() => parseAssignment('a/b/c=1')).toThrow(/not KEY=VALUE/);
  });
});
