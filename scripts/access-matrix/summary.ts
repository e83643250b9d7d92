/**
 * Who can read an environment's PHI, by any modelled path: the one-line summary per environment that
 * docs/access-matrix.md shows (intended.ts checks it against the set permitted.ts names).
 */
import type { EnvironmentMatrix } from './evaluate';

export const READ_PHI = 'Read PHI';

/**
 * Every principal that holds a Read PHI capability of the environment, directly or through the roles it assumes
 * (each role of a chain counts: it holds the capability too), services acting for the account included.
 */
export function phiReaders(env: EnvironmentMatrix): string[] {
  const ids = new Set<string>();
  for (const { capability, grants } of env.capabilities)
    if (capability.group === READ_PHI)
      for (const g of grants) {
        ids.add(g.principal);
        for (const id of g.via) ids.add(id);
      }
  return [...ids].sort();
}
