/**
 * The standing daemon's control socket (PROTOCOL.md §9): one JSON request per line, one JSON
 * reply. Every request the spec lists gets its reply; anything else gets {ok: false, error} and
 * changes nothing, so a bad line never stops the daemon.
 */
import { answerControlLine, ControlTarget, DaemonStatus } from '../../../src/server/daemon';

const STATUS: DaemonStatus = { pid: 4242, port: 7523, address: '::', sessions: 2, since: '2026-01-02T03:04:05.000Z' };
const SECRET = 'ab'.repeat(32);
const NONCE = 'cd'.repeat(32);

function target(): ControlTarget & { registered: [string, string | undefined][]; stopped: number } {
  const t = {
    registered: [] as [string, string | undefined][],
    stopped: 0,
    status: () => STATUS,
    register: (secret: Buffer, nonce: Buffer | undefined) => void t.registered.push([secret.toString('hex'), nonce?.toString('hex')]),
    stop: () => void t.stopped++,
  };
  return t;
}

test('status: ok with pid, port, address, active sessions and start time', () => {
  expect(answerControlLine('{"op":"status"}', target())).toEqual({ ok: true, ...STATUS });
});

test.each([
  ['with the nonce of the registering fcpd --serve', { op: 'register', secret: SECRET, nonce: NONCE }, NONCE],
  ['without a nonce', { op: 'register', secret: SECRET }, undefined],
])('register %s: the secret is registered, the reply names port and address', (_name, request, nonce) => {
  const t = target();
  expect(answerControlLine(JSON.stringify(request), t)).toEqual({ ok: true, port: 7523, address: '::' });
  expect(t.registered).toEqual([[SECRET, nonce]]);
});

test('stop: ok, and the daemon is told to stop', () => {
  const t = target();
  expect(answerControlLine('{"op":"stop"}', t)).toEqual({ ok: true });
  expect(t.stopped).toBe(1);
});

test.each([
  ['not JSON', '{"op":', 'bad request: not JSON'],
  ['null', 'null', 'bad request: not a JSON object'],
  ['an array', '["status"]', 'bad request: not a JSON object'],
  ['a string', '"status"', 'bad request: not a JSON object'],
  ['no op', '{}', 'unknown request: op missing'],
  ['an unknown op', '{"op":"restart"}', 'unknown request: op "restart"'],
  ['a register without a secret', '{"op":"register"}', 'bad register request: secret must be 64 lowercase hex digits'],
  ['a register with an upper-case secret', JSON.stringify({ op: 'register', secret: SECRET.toUpperCase() }), 'bad register request: secret must be 64 lowercase hex digits'],
  ['a register with a short secret', JSON.stringify({ op: 'register', secret: 'ab' }), 'bad register request: secret must be 64 lowercase hex digits'],
  ['a register with a numeric nonce', JSON.stringify({ op: 'register', secret: SECRET, nonce: 5 }), 'bad register request: nonce must be 64 lowercase hex digits'],
])('%s: {ok: false, error} and nothing registered or stopped', (_name, line, error) => {
  const t = target();
  expect(answerControlLine(line, t)).toEqual({ ok: false, error });
  expect([t.registered, t.stopped]).toEqual([[], 0]);
});
