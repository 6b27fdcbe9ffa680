/**
 * Bandwidth limits as scp and rsync read them (issue 13 item 5): -l in Kbit/s, --bwlimit in KiB/s or with K, M, G;
 * and rsync's SIZE of --min-size and --max-size.
 */
import { bwlimit, fileSizeLimit, scpLimit, showRate } from '../../../src/cli/optionValues';
import { MAX_FILE_SIZE } from '../../../src/protocol/constants';

describe('-l (scp): whole Kbit/s, 1024 bits each, as OpenSSH scp computes it (limit_kbps *= 1024)', () => {
  it.each([
    ['8', 1024],
    ['800', 102_400],
    ['1', 128],
    ['16000', 2_048_000],
    ['104857600', 13_421_772_800],
  ])('-l %s is %d bytes/s', (value, bytes) => {
    expect(scpLimit(value)).toBe(bytes);
  });

  it.each(['0', '-8', 'abc', '', '5M', '0.5', '104857601'])('-l %j is refused, naming its unit', (value) => {
    expect(() => scpLimit(value)).toThrow(/Kbit\/s/);
  });
});

describe('--bwlimit (rsync): KiB/s, or K, M, G (1024-based)', () => {
  it.each([
    ['100', 100 * 1024],
    ['100K', 100 * 1024],
    ['50M', 50 * 1024 ** 2],
    ['50m', 50 * 1024 ** 2],
    ['1G', 1024 ** 3],
    ['1.5M', 1.5 * 1024 ** 2],
  ])('--bwlimit %s is %d bytes/s', (value, bytes) => {
    expect(bwlimit(value)).toBe(bytes);
  });

  it.each(['0', '-1', '5T', 'fast', '', '1.5.2M'])('--bwlimit %j is refused, naming its unit', (value) => {
    expect(() => bwlimit(value)).toThrow(/KiB\/s/);
  });

  it('a rate is written back as --bwlimit reads it', () => {
    for (const value of ['100', '50M', '1G', '1.5M']) expect(bwlimit(showRate(bwlimit(value)))).toBe(bwlimit(value));
    expect(bwlimit(showRate(scpLimit('800')))).toBe(102_400);
  });
});

describe("--min-size, --max-size: rsync's SIZE (its man page's examples among them)", () => {
  it.each([
    ['0', 0],
    ['100', 100],
    ['100b', 100],
    ['10k', 10_240],
    ['10K', 10_240],
    ['10KiB', 10_240],
    ['10kb', 10_000],
    ['1.5M', 1_572_864],
    ['1.5mb-1', 1_499_999],
    ['2g+1', 2_147_483_649],
    ['1t', 1024 ** 4],
    ['.5k', 512],
  ])('%s is %d bytes', (value, bytes) => {
    expect(fileSizeLimit(value)).toBe(bytes);
  });

  it.each(['', 'abc', '-1', '10x', '1.5', '1e3', '1kk', '0-1', '1p'])('%j is refused, with the units it takes', (value) => {
    expect(() => fileSizeLimit(value)).toThrow(/rsync/);
  });

  it('the largest is the largest file fcp copies', () => {
    expect(fileSizeLimit(String(MAX_FILE_SIZE))).toBe(MAX_FILE_SIZE);
    expect(() => fileSizeLimit(String(MAX_FILE_SIZE + 1))).toThrow(/rsync/);
  });
});
