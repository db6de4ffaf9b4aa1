import { describe, expect, it } from 'vitest';
import { editDistance, suggestSimilar } from '../../src/core/suggest.js';

const COMMANDS = ['launch', 'presets', 'status', 'list', 'destroy', 'build-image', 'upgrade', 'rollback', 'backup', 'backups', 'restore', 'prune'];

describe('suggestSimilar', () => {
  it.each([
    ['lanch', 'launch'],
    ['stauts', 'status'],
    ['destory', 'destroy'],
    ['lst', 'list'],
    ['bakcup', 'backup'],
    ['backupss', 'backups'],
    ['upgarde', 'upgrade'],
    ['Launch', 'launch'],
    ['build', 'build-image'],
    ['roll', 'rollback'],
  ])('%s → %s', (typed, expected) => {
    expect(suggestSimilar(typed, COMMANDS)).toBe(expected);
  });

  it.each(['prod', 'xyz', 'kubernetes', 'a'])('%s is not close to any command', (typed) => {
    expect(suggestSimilar(typed, COMMANDS)).toBeUndefined();
  });

  it('counts a swap of neighbours as one edit', () => {
    expect(editDistance('ab', 'ba')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
  });
});
