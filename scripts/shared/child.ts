import { join } from 'path';

/**
 * Where a Jest run keeps its temporary files (test/jest/global-setup.ts sets it for the run): the local stack builds
 * its PostgreSQL template cluster there.
 */
export const RUN_TMPDIR = 'HIPAA_FHIR_JEST_TMPDIR';

/**
 * Node flags that run a TypeScript entry point in a child process: transpiled by swc (swc-register.js next to this file),
 * as Jest's own transform does, without type checking (tsc --noEmit checks types once per npm test). About a second
 * faster to start than ts-node/register. The tests that check a command exactly as `npm run` starts it keep ts-node.
 */
export const TS_HOOK: readonly string[] = ['-r', join(__dirname, 'swc-register.js')];

/**
 * For a child started with an environment of its own: under Jest, Node's compile cache of the run
 * (test/jest/global-setup.ts), so it reuses the code V8 compiled for earlier children. It changes no behaviour.
 */
export function compileCacheEnv(): Record<string, string> {
  const dir = process.env.NODE_COMPILE_CACHE;
  return dir ? { NODE_COMPILE_CACHE: dir } : {};
}
