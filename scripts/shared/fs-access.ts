import { statSync } from 'fs';
import { dirname, parse, resolve } from 'path';

/** True when a user who is neither owner nor in the group can reach `path`: every ancestor has o+x. */
export function traversableByOthers(path: string): boolean {
  for (let dir = dirname(resolve(path)); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    if (dir === parse(dir).root) return true;
  }
}
