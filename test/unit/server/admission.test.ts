/** PreAuthGate: connections not yet authenticated, bounded per source address and in total. */
import { PREAUTH_PER_ADDRESS, PreAuthGate } from '../../../src/server/admission';

test('a flood from one address is bounded; another address still gets in', () => {
  const gate = new PreAuthGate();
  const admitted = Array.from({ length: 200 }, () => gate.admit('10.0.0.9')).filter(Boolean).length;
  expect(admitted).toBe(PREAUTH_PER_ADDRESS);
  expect(gate.admit('10.0.0.1')).toBe(true);
});

test('the total bound holds across addresses, and a released slot is free again', () => {
  const gate = new PreAuthGate(2, 3);
  expect(['a', 'a', 'a', 'b', 'c'].map((address) => gate.admit(address))).toEqual([true, true, false, true, false]);
  gate.release('a');
  expect(gate.admit('c')).toBe(true);
  expect(gate.admit('a')).toBe(false);
});
