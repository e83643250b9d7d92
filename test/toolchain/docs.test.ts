import { existsSync, readdirSync, readFileSync } from 'fs';
import { dirname, join, resolve } from 'path';

const ROOT = join(__dirname, '..', '..');
const DOCUMENTS = [
  'README.md',
  'CONTRIBUTING.md',
  'CHANGELOG.md',
  'test/README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

describe('the documentation', () => {
  test.each(DOCUMENTS)('every relative link and image of %s points to a file that exists', (file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const targets = [...text.matchAll(/\]\(([^)\s#]+)(#[^)]*)?\)/g)].map((m) => m[1]).filter((t) => !/^[a-z]+:/.test(t));
    const missing = targets.filter((t) => !existsSync(resolve(ROOT, dirname(file), t)));
    expect(missing).toEqual([]);
  });

  // The CHANGELOG names files as they were when it was written; the other documents describe the tree as it is.
  test.each(DOCUMENTS.filter((f) => f !== 'CHANGELOG.md'))('every repository file %s names exists', (file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const named = [...text.matchAll(/(?<![\w./-])(?:bin|lib|stages|scripts|test)\/[\w/.-]*\.(?:ts|js|json|yml)\b/g)].map((m) => m[0]);
    expect([...new Set(named)].filter((f) => !existsSync(join(ROOT, f)))).toEqual([]);
  });

  test('the file check reads the names as written (README and CONTRIBUTING name several)', () => {
    const names = (file: string) =>
      readFileSync(join(ROOT, file), 'utf8').match(/(?<![\w./-])(?:bin|lib|stages|scripts|test)\/[\w/.-]*\.(?:ts|js|json|yml)\b/g) ?? [];
    expect(names('README.md')).toContain('bin/app.ts');
    expect(names('CONTRIBUTING.md')).toContain('lib/contract/environment.ts');
  });

  test('the README stays a page a user reads (the reference lives in docs/)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(Buffer.byteLength(readme)).toBeLessThan(30_000);
    // The pictures are Mermaid diagrams (rendered where users read the README), not ASCII art.
    expect((readme.match(/```mermaid\n/g) ?? []).length).toBeGreaterThanOrEqual(4);
    expect(readme).not.toMatch(/[┌└│─►]/);
  });
});
