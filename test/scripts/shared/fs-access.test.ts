import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { traversableByOthers } from '../../../scripts/shared/fs-access';

describe('traversableByOthers', () => {
  const base = mkdtempSync(join(tmpdir(), 'fs-access-'));
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  test('true when every ancestor lets others through, false when one does not', () => {
    const open = join(base, 'open', 'inner');
    mkdirSync(open, { recursive: true });
    chmodSync(base, 0o755);
    chmodSync(join(base, 'open'), 0o755);
    chmodSync(open, 0o755);
    expect(traversableByOthers(join(open, 'file'))).toBe(true);
    chmodSync(join(base, 'open'), 0o750);
    expect(traversableByOthers(join(open, 'file'))).toBe(false);
    // The file's own folder counts too.
    chmodSync(join(base, 'open'), 0o755);
    chmodSync(open, 0o700);
    expect(traversableByOthers(join(open, 'file'))).toBe(false);
  });
});
