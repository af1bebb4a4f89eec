import { describe, expect, it } from 'vitest';
import { readWaitPreference } from './wait-preference.js';

describe('readWaitPreference', () => {
  it.each([
    [{}, { mode: 'queued' }],
    [{ prefer: 'wait' }, { mode: 'wait', seconds: 600, explicit: true }],
    [{ prefer: 'wait=5' }, { mode: 'wait', seconds: 5, explicit: true }],
    [{ prefer: 'wait=9999' }, { mode: 'wait', seconds: 600, explicit: true }],
    [{ prefer: 'respond-async, wait=10' }, { mode: 'wait', seconds: 10, explicit: true }],
    [{ prefer: 'respond-async' }, { mode: 'queued' }],
    [{ 'x-stainless-lang': 'js' }, { mode: 'wait', seconds: 600, explicit: false }],
    [{ 'x-stainless-lang': 'js', prefer: 'respond-async' }, { mode: 'queued' }],
    [
      { 'x-stainless-lang': 'python', prefer: 'wait=3' },
      { mode: 'wait', seconds: 3, explicit: true },
    ],
    [{ prefer: 'wait=abc' }, { mode: 'wait', seconds: 600, explicit: true }],
  ])('%j → %j', (headers, expected) => {
    expect(readWaitPreference(headers, 600)).toEqual(expected);
  });
});
