import { testConfig } from '../../helpers';
import {
  PREVIEW_SUFFIX_PREFIX,
  longLivedSuffixProblem,
  MAX_SUFFIX_LENGTH,
  RESERVED_SUFFIXES,
  suffixFromBranch,
  suffixProblem,
} from '../../../lib/contract';

/** Deterministic pseudo-random generator so a failure reproduces. */
function lcg(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

const ALPHABET = 'abcXYZ019-_/.@#ÄéÑ 漢\t';

function randomBranch(rand: () => number): string {
  const length = 1 + Math.floor(rand() * 60);
  let s = '';
  for (let i = 0; i < length; i++) s += ALPHABET[Math.floor(rand() * ALPHABET.length)];
  return rand() < 0.3 ? `feature/${s}` : s;
}

describe('suffixFromBranch', () => {
  test.each([
    ['feature/ABC-123_Add-Labs', 'br-abc-123-add-labs'],
    ['refs/heads/feature/ABC-123_Add-Labs', 'br-abc-123-add-labs'],
    ['bugfix/login', 'br-login'],
    ['alice/spike', 'br-alice-spike'],
    ['main', 'br-main'],
  ])('%s -> %s', (branch, expected) => {
    expect(suffixFromBranch(branch)).toBe(expected);
  });

  test('a truncated name gets a hash so long branches with the same start stay apart', () => {
    const a = suffixFromBranch('feature/ABC-123-add-lab-results-to-the-observation-view');
    const b = suffixFromBranch('feature/ABC-123-add-lab-results-to-the-encounter-view');
    expect(a).not.toBe(b);
    expect(a.length).toBeLessThanOrEqual(MAX_SUFFIX_LENGTH);
    expect(a).toMatch(/^br-abc-123-ad-[0-9a-f]{6}$/);
  });

  test('branches that would land on a long-lived environment are moved off it', () => {
    for (const reserved of RESERVED_SUFFIXES) {
      const suffix = suffixFromBranch(`feature/${reserved}`);
      expect(suffix).not.toBe(reserved);
      expect(suffix.startsWith(`br-${reserved}-`)).toBe(true);
    }
  });

  test('a branch with nothing usable still gets a valid suffix', () => {
    expect(suffixFromBranch('feature/___')).toMatch(/^br-[0-9a-f]{6}$/);
    expect(suffixFromBranch('漢字')).toMatch(/^br-[0-9a-f]{6}$/);
  });

  test('every per-branch suffix has the prefix that no long-lived environment may use', () => {
    expect(suffixFromBranch('feature/x').startsWith(PREVIEW_SUFFIX_PREFIX)).toBe(true);
    expect(longLivedSuffixProblem('dev')).toBeUndefined();
    expect(longLivedSuffixProblem('br-dev')).toContain('reserved for preview environments');
    expect(longLivedSuffixProblem('eu-br-1')).toContain('reserved for preview environments');
    expect(longLivedSuffixProblem('abr-x')).toBeUndefined();
    expect(() => testConfig({ environmentSuffix: 'br-x' })).toThrow(
      'environmentSuffix "br-x" is invalid: suffixes starting with (or containing) "br-" are reserved for preview environments',
    );
    expect(testConfig({ branch: 'feature/x' }).environmentSuffix).toBe('br-x');
  });

  test('property: 5,000 random branch names give valid, deterministic and distinct suffixes', () => {
    const rand = lcg(20261122);
    const seen = new Map<string, string>();
    let collisions = 0;
    for (let i = 0; i < 5000; i++) {
      const branch = randomBranch(rand);
      const suffix = suffixFromBranch(branch);
      expect(suffixProblem(suffix)).toBeUndefined();
      expect(suffix.startsWith(PREVIEW_SUFFIX_PREFIX)).toBe(true);
      expect(suffixFromBranch(branch)).toBe(suffix);
      expect(RESERVED_SUFFIXES).not.toContain(suffix);
      const earlier = seen.get(suffix);
      if (earlier !== undefined && earlier !== branch) {
        // Distinct branches may only share a suffix when both clean to the same short name.
        const clean = (b: string) =>
          b
            .toLowerCase()
            .replace(/^(feature|features|feat|bugfix|fix|hotfix|chore|release|topic)\//, '')
            .replace(/[^a-z0-9]+/g, '-')
            .replace(/^-+|-+$/g, '');
        if (clean(earlier) !== clean(branch)) collisions++;
      }
      seen.set(suffix, branch);
    }
    expect(collisions).toBe(0);
  });
});
