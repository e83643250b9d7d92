import { existsSync, readdirSync, readFileSync } from 'fs';
import { dirname, join, resolve } from 'path';

const ROOT = join(__dirname, '..', '..');
const DOCUMENTS = [
  'README.md',
  'CONTRIBUTING.md',
  'CHANGELOG.md',
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

  test('the README stays a page a user reads (the reference lives in docs/)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(Buffer.byteLength(readme)).toBeLessThan(30_000);
    // The pictures are Mermaid diagrams (rendered where users read the README), not ASCII art.
    expect((readme.match(/```mermaid\n/g) ?? []).length).toBeGreaterThanOrEqual(4);
    expect(readme).not.toMatch(/[┌└│─►]/);
  });
});
