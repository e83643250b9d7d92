import { rmSync } from 'fs';
import { RUN_TMPDIR } from '../../scripts/shared/child';

/** Removes the run's temporary folder (global-setup.ts), with whatever the tests left in it. */
export default function globalTeardown(): void {
  const dir = process.env[RUN_TMPDIR];
  if (!dir) return;
  rmSync(dir, { recursive: true, force: true });
  delete process.env[RUN_TMPDIR];
}
