/**
 * The receiver's decision for an announced entry (src/sync/compare.ts): a decision acted on
 * converges (deciding again keeps it), the options mean what rsync's do, and items are rsync's %i.
 */
import fc from 'fast-check';
import { decide, CompareRules, FoundEntry, hardlinkItem, ListedEntry, QUICK_CHECK, EntryKind } from '../../../src/sync/compare';

const kind = fc.constantFrom<EntryKind>('file', 'dir', 'symlink');
const time = fc.bigInt({ min: 0n, max: 4_000_000_000n * 1_000_000_000n }).map((ns) => (ns / 1000n) * 1000n);
const target = fc.constantFrom('a', 'b', '../c').map((t) => Buffer.from(t));
const entry = fc.record({ kind, size: fc.integer({ min: 0, max: 3 }), mtimeNs: time, perm: fc.constantFrom(0o644, 0o600, 0o755), target });
const found = fc.option(fc.record({ kind: fc.constantFrom<FoundEntry['kind']>('file', 'dir', 'symlink', 'other'), size: fc.integer({ min: 0, max: 3 }), mtimeNs: time, perm: fc.constantFrom(0o644, 0o600, 0o755), target }), { nil: undefined });
const rules = fc.record({ ignoreTimes: fc.constant(false), sizeOnly: fc.boolean(), checksum: fc.boolean(), update: fc.boolean(), ignoreExisting: fc.boolean(), existing: fc.boolean() }).filter((r) => !(r.sizeOnly && r.checksum));

/** What the destination holds once the decision is acted on (the data of a file sent is the source's). */
function acted(listed: ListedEntry, there: FoundEntry | undefined, rules: CompareRules, sameContent: boolean): { after: FoundEntry | undefined; sameContent: boolean } {
  let decision = decide(listed, there, rules);
  if (decision.action === 'digest') decision = decide(listed, there, rules, sameContent);
  switch (decision.action) {
    case 'send':
      return { after: { ...listed }, sameContent: true };
    case 'metadata':
      return { after: { ...there!, mtimeNs: listed.mtimeNs, perm: listed.kind === 'symlink' ? there!.perm : listed.perm }, sameContent };
    default:
      return { after: there, sameContent };
  }
}

const ITEM = /^([<>ch.*])([fdL])([c.+])([s.+])([t.+])([p.+])([.+]{5})$/;

describe('decide', () => {
  test('acting on a decision converges: deciding again changes nothing (unless -u or --ignore-existing keep the old)', () => {
    fc.assert(
      fc.property(entry, found, rules, fc.boolean(), (listed, there, r, same) => {
        const { after, sameContent } = acted(listed, there, r, same);
        const again = decide(listed, after, r, sameContent);
        expect(['keep', 'skip']).toContain(again.action);
        if (!r.update && !r.ignoreExisting && !(r.existing && after === undefined)) expect(again.action).toBe('keep');
      }),
    );
  });

  test('every item is 11 characters of rsync %i, new entries +++++++++', () => {
    fc.assert(
      fc.property(entry, found, rules, fc.boolean(), (listed, there, r, same) => {
        let decision = decide(listed, there, r);
        if (decision.action === 'digest') decision = decide(listed, there, r, same);
        if (decision.action !== 'send' && decision.action !== 'metadata') return;
        expect(decision.item).toMatch(ITEM);
        if (there === undefined || there.kind !== listed.kind) expect(decision.item.slice(2)).toBe('+++++++++');
      }),
    );
  });

  test('nothing there: sent (with --existing, skipped); --ignore-existing leaves anything that is there, -u a newer file', () => {
    fc.assert(
      fc.property(entry, rules, (listed, r) => {
        expect(decide(listed, undefined, r)).toMatchObject(r.existing ? { action: 'skip' } : { action: 'send', replace: false });
      }),
    );
    const file: ListedEntry = { kind: 'file', size: 1, mtimeNs: 1_000_000n, perm: 0o644 };
    const newer: FoundEntry = { kind: 'file', size: 2, mtimeNs: 2_000_000n, perm: 0o644 };
    expect(decide(file, newer, { ...QUICK_CHECK, update: true })).toEqual({ action: 'skip' });
    expect(decide(file, { ...newer, mtimeNs: 0n }, { ...QUICK_CHECK, update: true }).action).toBe('send');
    expect(decide(file, newer, { ...QUICK_CHECK, ignoreExisting: true })).toEqual({ action: 'skip' });
    expect(decide({ ...file, kind: 'dir' }, { ...newer, kind: 'dir' }, { ...QUICK_CHECK, ignoreExisting: true }).action).toBe('metadata');
  });

  test('--existing judges what is there as without it: only what is not there is left out', () => {
    fc.assert(
      fc.property(entry, found, rules, fc.boolean(), (listed, there, r, same) => {
        fc.pre(there !== undefined);
        expect(decide(listed, there, { ...r, existing: true }, same)).toEqual(decide(listed, there, { ...r, existing: false }, same));
      }),
    );
  });

  test('--min-size and --max-size leave a file outside them whatever is there, and nothing else', () => {
    fc.assert(
      fc.property(entry, found, rules, fc.boolean(), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 }), (listed, there, r, same, minSize, maxSize) => {
        const limited = decide(listed, there, { ...r, minSize, maxSize }, same);
        const outside = listed.kind === 'file' && (listed.size < minSize || listed.size > maxSize);
        expect(limited).toEqual(outside ? { action: 'skip' } : decide(listed, there, r, same));
      }),
    );
  });

  test('--checksum asks for digests only for a file of the same size; -I sends whatever is there', () => {
    const file: ListedEntry = { kind: 'file', size: 5, mtimeNs: 1_000_000n, perm: 0o644 };
    const checksum = { ...QUICK_CHECK, checksum: true };
    expect(decide(file, { ...file }, checksum)).toEqual({ action: 'digest' });
    expect(decide(file, { ...file, size: 6 }, checksum)).toEqual({ action: 'send', replace: false, item: '>f.s.......' });
    expect(decide(file, { ...file }, checksum, true)).toEqual({ action: 'keep' });
    expect(decide(file, { ...file, mtimeNs: 7_000_000n }, checksum, true)).toEqual({ action: 'metadata', item: '.f..t......' });
    expect(decide(file, { ...file }, checksum, false)).toEqual({ action: 'send', replace: false, item: '>fc........' });
    expect(decide(file, { ...file }, { ...QUICK_CHECK, ignoreTimes: true })).toMatchObject({ action: 'send' });
    expect(decide(file, { ...file, mtimeNs: 7_000_000n }, { ...QUICK_CHECK, sizeOnly: true })).toEqual({ action: 'metadata', item: '.f..t......' });
  });

  // The items rsync 3 prints for these changes (rsync -a --itemize-changes; test/integration/sync.test.ts compares whole runs).
  test.each<[string, ListedEntry, FoundEntry | undefined, string | undefined]>([
    ['new file', { kind: 'file', size: 1, mtimeNs: 1000n, perm: 0o644 }, undefined, '>f+++++++++'],
    ['new dir', { kind: 'dir', size: 0, mtimeNs: 1000n, perm: 0o755 }, undefined, 'cd+++++++++'],
    ['new symlink', { kind: 'symlink', size: 0, mtimeNs: 1000n, perm: 0, target: Buffer.from('a') }, undefined, 'cL+++++++++'],
    ['size and time', { kind: 'file', size: 1, mtimeNs: 1000n, perm: 0o644 }, { kind: 'file', size: 2, mtimeNs: 9000n, perm: 0o644 }, '>f.st......'],
    ['time only', { kind: 'file', size: 1, mtimeNs: 1000n, perm: 0o644 }, { kind: 'file', size: 1, mtimeNs: 9000n, perm: 0o644 }, '>f..t......'],
    ['mode only', { kind: 'file', size: 1, mtimeNs: 1000n, perm: 0o600 }, { kind: 'file', size: 1, mtimeNs: 1000n, perm: 0o644 }, '.f...p.....'],
    ['dir time', { kind: 'dir', size: 0, mtimeNs: 1000n, perm: 0o755 }, { kind: 'dir', size: 4096, mtimeNs: 9000n, perm: 0o755 }, '.d..t......'],
    ['symlink target', { kind: 'symlink', size: 0, mtimeNs: 1000n, perm: 0, target: Buffer.from('b') }, { kind: 'symlink', size: 1, mtimeNs: 1000n, perm: 0o777, target: Buffer.from('a') }, 'cLc........'],
    ['dir over file', { kind: 'dir', size: 0, mtimeNs: 1000n, perm: 0o755 }, { kind: 'file', size: 1, mtimeNs: 1000n, perm: 0o644 }, 'cd+++++++++'],
    ['unchanged', { kind: 'file', size: 1, mtimeNs: 1000n, perm: 0o644 }, { kind: 'file', size: 1, mtimeNs: 1000n, perm: 0o644 }, undefined],
  ])('%s', (_name, listed, there, item) => {
    const decision = decide(listed, there, QUICK_CHECK);
    expect('item' in decision ? decision.item : undefined).toBe(item);
  });
});

describe('hardlinkItem', () => {
  const file: FoundEntry = { kind: 'file', size: 7, mtimeNs: 1_550_000_000_000_000_000n, perm: 0o644 };
  test('rsync\'s %i of a hard link: new where no file is, none where the name is that file, else what differs from it', () => {
    expect(hardlinkItem(undefined, file, false)).toBe('hf+++++++++');
    expect(hardlinkItem({ ...file, kind: 'symlink' }, file, false)).toBe('hf+++++++++');
    expect(hardlinkItem(file, file, true)).toBeUndefined();
    expect(hardlinkItem(file, file, false)).toBe('hf.........');
    expect(hardlinkItem({ ...file, size: 5, mtimeNs: 1n }, file, false)).toBe('hf.st......');
    expect(hardlinkItem({ ...file, perm: 0o600 }, file, false)).toBe('hf...p.....');
    // A dry run that did not make the file it names: as new.
    expect(hardlinkItem(file, undefined, false)).toBe('hf+++++++++');
  });
});
