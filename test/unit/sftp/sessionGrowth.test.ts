import { growSessions, SFTP_MAX_SESSIONS } from '../../../src/sftp/sessionGrowth';
import { SERVER_WINDOW_BYTES } from '../../../src/sftp/sessions';

/** Resolves once `check` holds, polling every 5 ms; fails the test after 10 s. */
async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * A copy whose goodput is `rate(sessions)` bytes/s, whatever the timers' jitter on a loaded
 * machine: its bytes are counted from the time that passed at each question and each addition.
 */
function copyAt(rate: (sessions: number) => number): { sessions: number; bytesMoved(): number; added(): void } {
  let bytes = 0;
  let at = Date.now();
  const copy = {
    sessions: 1,
    bytesMoved() {
      const now = Date.now();
      bytes += (rate(copy.sessions) * (now - at)) / 1000;
      at = now;
      return bytes;
    },
    added() {
      copy.bytesMoved();
      copy.sessions++;
    },
  };
  return copy;
}

/** Tunes `copy` from one session, adding with `add`, until the tuner says where it stopped; its log lines. */
async function tuneToTheEnd(copy: ReturnType<typeof copyAt>, add: () => Promise<void>): Promise<string[]> {
  const logged: string[] = [];
  const growth = growSessions({
    sessions: 1,
    rttMs: 0,
    windowBytes: SERVER_WINDOW_BYTES,
    bytesMoved: () => copy.bytesMoved(),
    add,
    log: (line) => logged.push(line),
    forced: { windowMs: 30, minGain: 0.2 },
  });
  try {
    await until(() => logged.some((line) => line.startsWith('sftp: sessions tuned')));
  } finally {
    growth.stop();
  }
  return logged;
}

describe('growSessions', () => {
  test('while goodput grows, sessions double from one up to the maximum, each window measured after the added ones opened', async () => {
    // Goodput proportional to the sessions open: every addition pays.
    const copy = copyAt((sessions) => sessions * 1e9);
    const logged = await tuneToTheEnd(copy, async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      copy.added();
    });
    expect(copy.sessions).toBe(SFTP_MAX_SESSIONS);
    expect(logged.filter((line) => /opening \d+ more/.test(line)).map((line) => /opening (\d+) more/.exec(line)![1])).toEqual(['1', '2', '4']);
    expect(logged[logged.length - 1]).toMatch(new RegExp(`^sftp: sessions tuned: ${SFTP_MAX_SESSIONS} of at most ${SFTP_MAX_SESSIONS} \\(\\d+ MB/s over 4 sessions, CPUs \\d+ % idle\\)$`));
  });

  test('an addition that does not raise goodput by the gain ends tuning there', async () => {
    // The link is full with one session: more move no more.
    const copy = copyAt(() => 1e9);
    const logged = await tuneToTheEnd(copy, async () => copy.added());
    expect(copy.sessions).toBe(2);
    expect(logged[logged.length - 1]).toMatch(new RegExp(`^sftp: sessions tuned: 2 of at most ${SFTP_MAX_SESSIONS} \\(\\d+ MB/s over 2 sessions, CPUs \\d+ % idle\\)$`));
  });

  test('a session that cannot be opened stops the growth with a line saying so; stop() ends a window at once', async () => {
    const logged: string[] = [];
    const growth = growSessions({
      sessions: 1,
      rttMs: 0,
    windowBytes: SERVER_WINDOW_BYTES,
      bytesMoved: () => Date.now() * 1000,
      add: async () => {
        throw new Error('MaxStartups');
      },
      log: (line) => logged.push(line),
      forced: { windowMs: 10, minGain: -1 },
    });
    await until(() => logged.some((line) => line.includes('could not be opened')));
    expect(logged).toContain('sftp: another session could not be opened (MaxStartups); going on with those open');
    growth.stop();
    const idle = growSessions({ sessions: 1, rttMs: 0, windowBytes: SERVER_WINDOW_BYTES, bytesMoved: () => 0, add: async () => undefined, log: (line) => logged.push(line), forced: { windowMs: 60_000, minGain: 0 } });
    // A 60 s window: were stop() not to end it, jest would report an open handle past the test.
    idle.stop();
  });
});
