/**
 * kinesalite in its own process, so the benchmark can read the emulator's CPU time from /proc and
 * the emulator does not share an event loop with the code that measures it.
 *
 *   npx ts-node --transpile-only scripts/bench/kinesalite-server.ts --port 4567
 */
import { parseFlags, UsageError } from '../shared/cli';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- kinesalite has no types or ES module entry
const kinesalite = require('kinesalite') as (options: Record<string, unknown>) => {
  listen(port: number, cb: () => void): void;
  close(cb?: () => void): void;
};

const USAGE = 'usage: npx ts-node --transpile-only scripts/bench/kinesalite-server.ts --port <port>';

try {
  const parsed = parseFlags(process.argv.slice(2), { port: { type: 'integer', min: 1 } });
  if (!parsed) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (parsed.flags.port === undefined) throw new UsageError('--port is required');
  const server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 1000 });
  server.listen(parsed.flags.port, () => process.stdout.write('READY\n'));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  process.stderr.write(`kinesalite-server: ${error.message}\n${USAGE}\n`);
  process.exit(2);
}
