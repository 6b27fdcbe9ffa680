import { changeAgainstBase, FileStat, quickChange, TrackRecord } from '../../../src/track/status';

const stat: FileStat = { size: 10, mtimeNs: 1_000n, ctimeNs: 2_000n, mode: 0o644 };
const synced: TrackRecord = { path: 'f', stat, hash: 'h1', base: { hash: 'h1', mode: 0o644 }, removed: false };

test.each([
  ['the recorded stat: unchanged, nothing read', synced, stat, 'unchanged'],
  ['an untracked file', undefined, stat, 'untracked'],
  ['a tracked file gone', synced, undefined, 'deleted'],
  ['rm: deleted though still here', { ...synced, removed: true }, stat, 'deleted'],
  ['added, never pushed', { ...synced, base: null }, stat, 'new'],
  ['another size: hash it', synced, { ...stat, size: 11 }, 'hash'],
  ['another mtime (a touch): hash it', synced, { ...stat, mtimeNs: 1_001n }, 'hash'],
  ['another ctime (a chmod, a rename onto it): hash it', synced, { ...stat, ctimeNs: 2_001n }, 'hash'],
  ['recorded content changed since the base (pushed by another stat): modified', { ...synced, hash: 'h2' }, stat, 'modified'],
] as [string, TrackRecord | undefined, FileStat | undefined, string][])('%s', (_name, record, now, expected) => {
  expect(quickChange(record, now)).toBe(expected);
});

test.each([
  ['the same digest and mode after a touch: unchanged', { hash: 'h1', mode: 0o644 }, 'unchanged'],
  ['another digest: modified', { hash: 'h2', mode: 0o644 }, 'modified'],
  ['the same digest, another mode: modified', { hash: 'h1', mode: 0o600 }, 'modified'],
])('hashed: %s', (_name, now, expected) => {
  expect(changeAgainstBase(synced, now.hash, now.mode)).toBe(expected);
});
