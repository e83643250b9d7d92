import { createHash } from 'crypto';
import { MAX_SUFFIX_LENGTH, PREVIEW_SUFFIX_PREFIX } from './naming';

/** Branch prefixes that say what kind of work a branch holds, not which work. */
const WORK_TYPE_PREFIX = /^(feature|features|feat|bugfix|fix|hotfix|chore|release|topic)\//;

/** Suffixes of long-lived environments; a branch must never map onto one of them. */
export const RESERVED_SUFFIXES: readonly string[] = ['dev', 'prod', 'production', 'staging', 'shared'];

/**
 * Derives a stable, valid preview environmentSuffix from a git branch name.
 *
 * `feature/ABC-123_Add-Labs` becomes `br-abc-123-add-labs` (PREVIEW_SUFFIX_PREFIX first). A name that had to be truncated,
 * that is empty after cleaning, or that would land on a reserved suffix gets a six-character
 * hash of the full branch name, so distinct branches do not share an environment.
 */
export function suffixFromBranch(branch: string, maxLength: number = MAX_SUFFIX_LENGTH): string {
  const ref = branch.trim().replace(/^refs\/heads\//, '');
  const base = ref
    .toLowerCase()
    .replace(WORK_TYPE_PREFIX, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  const hash = createHash('sha256').update(ref).digest('hex').slice(0, 6);
  const max = maxLength - PREVIEW_SUFFIX_PREFIX.length;

  if (base.length > 0 && base.length <= max && !RESERVED_SUFFIXES.includes(base)) {
    return `${PREVIEW_SUFFIX_PREFIX}${base}`;
  }
  const room = max - hash.length - 1;
  const head = base.slice(0, room).replace(/-+$/, '');
  return `${PREVIEW_SUFFIX_PREFIX}${head.length > 0 ? `${head}-${hash}` : hash}`;
}
