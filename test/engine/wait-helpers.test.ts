// The wait's pure pieces (kubectl JSON summaries, host parsing, durations) and the system clock.
import { describe, expect, it } from 'vitest';
import { isAbortError, systemClock } from '../../src/engine/clock.js';
import {
  formatDuration,
  parseNeedsSiteInit,
  podNotReadyReason,
  splitHostPort,
  summarizeNodes,
  summarizePods,
} from '../../src/engine/wait.js';
import { nodeList, podList } from '../fakes/scripted-remote.js';

describe('summarizePods', () => {
  it('counts ready pods and groups the rest by kubectl reason, most frequent first', () => {
    expect(summarizePods(JSON.stringify(podList(40, false)))).toEqual({
      settled: false,
      text: '35/40 pods ready (3 Pending, 1 CrashLoopBackOff, 1 NotReady)',
    });
    expect(summarizePods(JSON.stringify(podList(12, true)))).toEqual({ settled: true, text: '12/12 pods ready' });
  });

  it('is not settled without pods or with unreadable output', () => {
    expect(summarizePods('{"items":[]}')).toEqual({ settled: false, text: 'no pods yet' });
    expect(summarizePods('error: You must be logged in')).toEqual({ settled: false, text: 'pod list unreadable' });
  });

  it.each([
    [{ phase: 'Succeeded' }, undefined],
    [{ phase: 'Running', containerStatuses: [{ ready: true }, { ready: true }] }, undefined],
    [{ phase: 'Running', containerStatuses: [{ ready: true }, { ready: false }] }, 'NotReady'],
    [{ phase: 'Running', containerStatuses: [] }, 'NotReady'],
    [{ phase: 'Pending' }, 'Pending'],
    [{ phase: 'Pending', containerStatuses: [{ state: { waiting: { reason: 'ContainerCreating' } } }] }, 'ContainerCreating'],
    [{ phase: 'Pending', containerStatuses: [{ state: { waiting: { reason: 'ImagePullBackOff' } } }] }, 'ImagePullBackOff'],
    [
      {
        phase: 'Pending',
        initContainerStatuses: [{ state: { waiting: { reason: 'CrashLoopBackOff' } } }],
        containerStatuses: [{ state: { waiting: { reason: 'PodInitializing' } } }],
      },
      'Init:CrashLoopBackOff',
    ],
    [
      {
        phase: 'Pending',
        initContainerStatuses: [{ state: { terminated: { reason: 'Completed' } } }],
        containerStatuses: [{ state: { waiting: { reason: 'PodInitializing' } } }],
      },
      'PodInitializing',
    ],
    [{ phase: 'Failed', reason: 'Evicted' }, 'Evicted'],
    [{ phase: 'Failed' }, 'Failed'],
    [{}, 'Unknown'],
  ])('podNotReadyReason(%j) = %s', (status, expected) => {
    expect(podNotReadyReason({ status })).toBe(expected);
  });
});

describe('summarizeNodes', () => {
  it('finds Ready nodes and names the others', () => {
    expect(summarizeNodes(JSON.stringify(nodeList(true)))).toEqual({ ready: ['sourcegraph-0'], text: '' });
    expect(summarizeNodes(JSON.stringify(nodeList(false)))).toEqual({ ready: [], text: 'node sourcegraph-0 NotReady' });
    expect(summarizeNodes('{"items":[]}')).toEqual({ ready: [], text: 'k3s active, no node registered yet' });
    expect(summarizeNodes('The connection to the server was refused')).toEqual({
      ready: [],
      text: 'k3s active, node list unreadable',
    });
  });
});

describe('small parsers', () => {
  it.each([
    ['54.1.2.3', { hostname: '54.1.2.3' }],
    ['127.0.0.1:8080', { hostname: '127.0.0.1', port: 8080 }],
    ['sg.example.com', { hostname: 'sg.example.com' }],
    ['[::1]:8443', { hostname: '::1', port: 8443 }],
    ['[2001:db8::1]', { hostname: '2001:db8::1' }],
    ['2001:db8::1', { hostname: '2001:db8::1' }],
  ])('splitHostPort(%s)', (host, expected) => {
    expect(splitHostPort(host)).toEqual(expected);
  });

  it.each([
    [0, '0s'],
    [44_600, '45s'],
    [90_000, '1m 30s'],
    [605_000, '10m 05s'],
    [3_720_000, '1h 02m'],
  ])('formatDuration(%d) = %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('reads needsSiteInit from the embedded context', () => {
    expect(parseNeedsSiteInit('window.context = {"a":1,"needsSiteInit":true,"b":2}')).toBe(true);
    expect(parseNeedsSiteInit('{"needsSiteInit": false}')).toBe(false);
    expect(parseNeedsSiteInit('<html>no context</html>')).toBeUndefined();
  });
});

describe('systemClock', () => {
  it('sleeps for real and rejects promptly with an AbortError when aborted', async () => {
    const t0 = systemClock.now();
    await systemClock.sleep(30);
    expect(systemClock.now() - t0).toBeGreaterThanOrEqual(25);

    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 10);
    const err = await systemClock.sleep(60_000, controller.signal).catch((e: unknown) => e);
    expect(isAbortError(err)).toBe(true);
    expect(Date.now() - started).toBeLessThan(1000);

    const already = await systemClock.sleep(60_000, controller.signal).catch((e: unknown) => e);
    expect(isAbortError(already)).toBe(true);
  });
});
