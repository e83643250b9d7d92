import { spawnSync } from 'child_process';
import { join } from 'path';
import pino from 'pino';
import { commandLogger, createLogger } from '../../../lib/processor/logger';
import { TS_HOOK } from '../../../scripts/shared/child';

describe('processor logger', () => {
  test("a one-shot command's logger writes standard output synchronously", () => {
    const stream = (commandLogger('w-1') as unknown as Record<symbol, { fd: number; sync: boolean }>)[pino.symbols.streamSym];
    expect({ fd: stream.fd, sync: stream.sync }).toEqual({ fd: 1, sync: true });
  });

  test("a command's result printed after its log lines comes after them on a pipe", () => {
    const script = [
      `const { commandLogger } = require(${JSON.stringify(join(__dirname, '..', '..', '..', 'lib', 'processor', 'logger.ts'))});`,
      "const logger = commandLogger('w-1');",
      "for (let i = 0; i < 2000; i++) logger.info({ batch: i }, 'redrive progress');",
      "process.stdout.write(JSON.stringify({ redrive: { batches: 2000 } }) + '\\n');",
    ].join('\n');
    const run = spawnSync(process.execPath, [...TS_HOOK, '-e', script], { encoding: 'utf8' });
    expect(run.status).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toHaveLength(2001);
    expect(JSON.parse(lines[1999])).toMatchObject({ msg: 'redrive progress', batch: 1999 });
    expect(JSON.parse(lines[2000])).toEqual({ redrive: { batches: 2000 } });
  });

  test('credential-like fields and payloads are redacted', () => {
    const lines: string[] = [];
    const logger = createLogger('w-1', 'info', { write: (line: string) => void lines.push(line) });
    logger.info({ password: 'hunter2', db: { password: 'x' }, payload: '{"resourceType":"Patient"}' }, 'connect');
    expect(JSON.parse(lines[0])).toMatchObject({ password: '[redacted]', db: { password: '[redacted]' }, payload: '[redacted]' });
  });
});
