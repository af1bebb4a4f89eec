/**
 * Orders items for trying one after another: each position is a stake-weighted random draw
 * among those not yet placed, so the first pick follows the stakes exactly.
 */
export function stakeWeightedOrder<T extends { stake: number }>(
  items: readonly T[],
  random: () => number = Math.random,
): T[] {
  const remaining = [...items];
  const ordered: T[] = [];
  while (remaining.length > 0) {
    const total = remaining.reduce((sum, item) => sum + item.stake, 0);
    let point = random() * total;
    let index = remaining.findIndex((item) => (point -= item.stake) < 0);
    if (index < 0) index = remaining.length - 1;
    ordered.push(...remaining.splice(index, 1));
  }
  return ordered;
}
