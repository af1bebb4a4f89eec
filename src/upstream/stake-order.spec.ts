import { describe, expect, it } from 'vitest';
import { stakeWeightedOrder } from './stake-order.js';

const nodes = [
  { name: 'a', stake: 100 },
  { name: 'b', stake: 25 },
  { name: 'c', stake: 75 },
];

/** A `random` that returns the given values in turn. */
const draws = (...values: number[]) => {
  let index = 0;
  return () => values[index++];
};

describe('stakeWeightedOrder', () => {
  it.each<[string, number[], string[]]>([
    // Total 200: a covers [0, 100), b [100, 125), c [125, 200).
    ['a first draw low in the range picks the first', [0, 0], ['a', 'b', 'c']],
    ['a draw in the second slice picks it', [0.55, 0], ['b', 'a', 'c']],
    ['a draw at the top picks the last', [0.999, 0.999], ['c', 'b', 'a']],
    // After a is placed, b and c share 100: b [0, 25), c [25, 100).
    ['later draws are among those not yet placed', [0.1, 0.3], ['a', 'c', 'b']],
  ])('%s', (_name, values, expected) => {
    expect(stakeWeightedOrder(nodes, draws(...values, 0)).map((node) => node.name)).toEqual(
      expected,
    );
  });

  it('returns nothing for nothing', () => {
    expect(stakeWeightedOrder([])).toEqual([]);
  });

  it('puts each node first in proportion to its stake', () => {
    let seed = 42;
    // A small deterministic generator (LCG), so the proportions are the same on every run.
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const firsts = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 20_000; i++) {
      firsts[stakeWeightedOrder(nodes, random)[0].name as keyof typeof firsts] += 1;
    }
    expect(firsts.a / 20_000).toBeCloseTo(0.5, 1);
    expect(firsts.b / 20_000).toBeCloseTo(0.125, 1);
    expect(firsts.c / 20_000).toBeCloseTo(0.375, 1);
  });
});
