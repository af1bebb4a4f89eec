import { describe, expect, it } from 'vitest';
import {
  isNodeDownFailure,
  isNodeError,
  NodeHealth,
  UNHEALTHY_AFTER_FAILURES,
  type CallOutcome,
} from './node-health.js';
import type { UpstreamFailure } from './upstream-failure.js';

const connection: UpstreamFailure = { kind: 'connection', node: 'n', message: 'ECONNREFUSED' };
const timeout: UpstreamFailure = { kind: 'timeout', node: 'n', message: 'slow' };
const http = (status: number): UpstreamFailure => ({
  kind: 'http',
  node: 'n',
  status,
  message: 'x',
});
const ok: CallOutcome = { ok: true, latencyMs: 10 };
const failed = (failure: UpstreamFailure): CallOutcome => ({ ok: false, failure });

type Event = { probe: 'ok'; models?: string[] } | { probe: 'fail' } | { call: CallOutcome };

/** Replays events on a fresh NodeHealth; returns the transitions and the final health. */
function replay(events: Event[]): { transitions: string[]; healthy: boolean } {
  const health = new NodeHealth();
  const transitions: string[] = [];
  for (const [at, event] of events.entries()) {
    let transition;
    if ('probe' in event) {
      transition =
        event.probe === 'ok'
          ? health.recordProbeSuccess(event.models ?? ['m'], 1, at)
          : health.recordProbeFailure('down', 1, at);
    } else {
      health.recordCallStart();
      transition = health.recordCallEnd(event.call, at);
    }
    if (transition) transitions.push(transition);
  }
  return { transitions, healthy: health.isHealthy };
}

describe('NodeHealth transitions', () => {
  const probeFail: Event = { probe: 'fail' };
  const probeOk: Event = { probe: 'ok' };
  const call = (outcome: CallOutcome): Event => ({ call: outcome });

  it.each<[string, Event[], string[], boolean]>([
    ['starts healthy', [], [], true],
    ['two probe failures are not enough', [probeFail, probeFail], [], true],
    [
      'three probe failures turn it unhealthy',
      [probeFail, probeFail, probeFail],
      ['became_unhealthy'],
      false,
    ],
    [
      'probes and live connection failures add up',
      [probeFail, call(failed(connection)), call(failed(timeout))],
      ['became_unhealthy'],
      false,
    ],
    [
      'a success in between resets the count',
      [probeFail, probeFail, call(ok), probeFail, probeFail],
      [],
      true,
    ],
    [
      'a probe success in between resets the count',
      [probeFail, probeFail, probeOk, probeFail],
      [],
      true,
    ],
    [
      'answers with 5xx do not mark it down',
      [call(failed(http(503))), call(failed(http(503))), call(failed(http(500)))],
      [],
      true,
    ],
    [
      'abandoned calls say nothing',
      [probeFail, probeFail, call({ ok: 'abandoned' }), probeFail],
      ['became_unhealthy'],
      false,
    ],
    [
      'a live success does not bring it back',
      [probeFail, probeFail, probeFail, call(ok)],
      ['became_unhealthy'],
      false,
    ],
    [
      'a successful probe brings it back',
      [probeFail, probeFail, probeFail, probeFail, probeOk],
      ['became_unhealthy', 'became_healthy'],
      true,
    ],
  ])('%s', (_name, events, transitions, healthy) => {
    expect(replay(events)).toEqual({ transitions, healthy });
  });

  it(`needs exactly ${UNHEALTHY_AFTER_FAILURES} consecutive failures`, () => {
    expect(UNHEALTHY_AFTER_FAILURES).toBe(3);
  });
});

describe('NodeHealth models', () => {
  it.each<[string, string[] | undefined, string, boolean]>([
    ['serves anything before its first probe', undefined, 'any', true],
    ['serves a listed model', ['a', 'b'], 'b', true],
    ['does not serve an unlisted model', ['a', 'b'], 'c', false],
    ['serves nothing with an empty list', [], 'a', false],
  ])('%s', (_name, models, model, expected) => {
    const health = new NodeHealth();
    if (models) health.recordProbeSuccess(models, 1, 0);
    expect(health.serves(model)).toBe(expected);
  });

  it('keeps the last known models while a probe fails', () => {
    const health = new NodeHealth();
    health.recordProbeSuccess(['b', 'a'], 1, 0);
    health.recordProbeFailure('down', 1, 1);
    expect([...health.models!]).toEqual(['b', 'a']);
    expect(health.snapshot(2).models).toEqual(['a', 'b']);
  });
});

describe('NodeHealth figures', () => {
  it('counts in-flight calls, recent errors and mean latency within the window', () => {
    const health = new NodeHealth();
    const end = (outcome: CallOutcome, at: number) => {
      health.recordCallStart();
      health.recordCallEnd(outcome, at);
    };
    end({ ok: true, latencyMs: 1_000 }, 0); // outside the window at the end
    end({ ok: true, latencyMs: 10 }, 50_000);
    end({ ok: true, latencyMs: 30 }, 60_000);
    end(failed(http(503)), 61_000);
    end(failed(http(400)), 61_000); // the client's fault, not the node's
    end({ ok: 'abandoned' }, 61_000);
    health.recordCallStart();
    expect(health.snapshot(61_000).recent).toEqual({
      windowS: 60,
      requests: 3,
      errors: 1,
      errorRate: 1 / 3,
      latencyMs: 20,
    });
    expect(health.snapshot(61_000).inFlight).toBe(1);
    expect(health.snapshot(61_000).lastError).toEqual({ at: 61_000, message: 'x' });
  });

  it('has no rates without calls', () => {
    expect(new NodeHealth().snapshot(0).recent).toMatchObject({ errorRate: null, latencyMs: null });
  });
});

describe('failure classification', () => {
  it.each<[UpstreamFailure, boolean, boolean]>([
    [connection, true, true],
    [timeout, true, true],
    [{ kind: 'invalid_response', node: 'n', message: 'x' }, false, true],
    [http(500), false, true],
    [http(429), false, true],
    [http(408), false, true],
    [http(400), false, false],
    [http(404), false, false],
    [{ kind: 'no_upstream', message: 'x' }, false, false],
  ])('%j: down %s, error %s', (failure, down, error) => {
    expect(isNodeDownFailure(failure)).toBe(down);
    expect(isNodeError(failure)).toBe(error);
  });
});
