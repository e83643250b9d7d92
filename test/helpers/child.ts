import { join } from 'path';

/**
 * Node flags that run a TypeScript entry point in a child process: transpiled by swc (test/helpers/swc-register.js),
 * as Jest's own transform does, without type checking (tsc --noEmit checks types once per npm test). About a second
 * faster to start than ts-node/register. The tests that check a command exactly as `npm run` starts it keep ts-node.
 */
export const TS_HOOK: readonly string[] = ['-r', join(__dirname, 'swc-register.js')];
