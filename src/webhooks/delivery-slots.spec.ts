import { describe, expect, it } from 'vitest';
import { DeliverySlots } from './delivery-slots.js';

describe('DeliverySlots', () => {
  it('caps deliveries per endpoint', () => {
    const slots = new DeliverySlots(2, 10);
    expect(slots.tryTake('t1', 'e1')).toBe(true);
    expect(slots.tryTake('t1', 'e1')).toBe(true);
    expect(slots.tryTake('t1', 'e1')).toBe(false);
    expect(slots.tryTake('t1', 'e2')).toBe(true);
    slots.release('t1', 'e1');
    expect(slots.tryTake('t1', 'e1')).toBe(true);
  });

  it('caps deliveries per tenant across its endpoints, leaving other tenants alone', () => {
    const slots = new DeliverySlots(10, 3);
    expect(['e1', 'e2', 'e3'].map((endpoint) => slots.tryTake('t1', endpoint))).toEqual([
      true,
      true,
      true,
    ]);
    expect(slots.tryTake('t1', 'e4')).toBe(false);
    expect(slots.tryTake('t2', 'e5')).toBe(true);
    slots.release('t1', 'e2');
    expect(slots.tryTake('t1', 'e4')).toBe(true);
  });

  it('forgets released counters', () => {
    const slots = new DeliverySlots(1, 1);
    expect(slots.tryTake('t1', 'e1')).toBe(true);
    slots.release('t1', 'e1');
    slots.release('t1', 'e1');
    expect(slots.tryTake('t1', 'e1')).toBe(true);
    expect(slots.tryTake('t1', 'e1')).toBe(false);
  });
});
