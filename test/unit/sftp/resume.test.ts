import * as fc from 'fast-check';
import { mayResume, RESUME_MARGIN_BYTES, resumableTempPath, resumeOffset, SFTP_CHUNK_BYTES } from '../../../src/sftp/resume';
import { sftpPath } from '../../../src/sftp/engine';

describe('resumeOffset', () => {
  test('no temporary, or one longer than the source: start from 0', () => {
    expect(resumeOffset(undefined, 100 * SFTP_CHUNK_BYTES)).toBe(0);
    expect(resumeOffset(101, 100)).toBe(0);
  });

  test('a file mayResume rules out resumes from 0 whatever its temporary holds, and one it allows can resume', () => {
    fc.assert(
      fc.property(fc.nat(1 << 30), fc.option(fc.nat(1 << 30), { nil: undefined }), (size, tempSize) => {
        if (!mayResume(size)) expect(resumeOffset(tempSize, size)).toBe(0);
      }),
    );
    const smallest = RESUME_MARGIN_BYTES + SFTP_CHUNK_BYTES;
    expect(mayResume(smallest)).toBe(true);
    expect(resumeOffset(smallest, smallest)).toBe(SFTP_CHUNK_BYTES);
    expect(mayResume(smallest - 1)).toBe(false);
  });

  test('a chunk boundary at least the margin below the temporary, never past the source', () => {
    fc.assert(
      fc.property(fc.nat(1 << 30), fc.nat(1 << 30), (a, b) => {
        const [tempSize, size] = a <= b ? [a, b] : [b, a];
        const offset = resumeOffset(tempSize, size);
        expect(offset % SFTP_CHUNK_BYTES).toBe(0);
        expect(offset).toBeLessThanOrEqual(Math.max(0, tempSize - RESUME_MARGIN_BYTES));
        expect(offset).toBeGreaterThan(tempSize - RESUME_MARGIN_BYTES - SFTP_CHUNK_BYTES);
      }),
    );
  });

  test("the temporary's name holds the source's size and mtime, hidden beside the final name", () => {
    expect(resumableTempPath(Buffer.from('dir/file.bin'), 1234, 1_600_000_000).toString()).toBe('dir/.file.bin.fcp-sftp-1234-1600000000');
  });
});

describe('sftpPath', () => {
  test.each([
    ['', '.'],
    ['~', '.'],
    ['~/', '.'],
    ['~/a/b', 'a/b'],
    ['/abs', '/abs'],
    ['rel', 'rel'],
  ])('%j is %j over SFTP (relative to the login directory)', (typed, sftp) => expect(sftpPath(typed)).toBe(sftp));
});

