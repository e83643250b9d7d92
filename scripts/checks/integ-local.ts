/**
 * `npm run test:integ:local`: starts the local stack (npm run local -- --keep), runs the
 * integration and smoke suites against its cfn-outputs/flat-outputs.json, then stops it.
 * Exits with the suites' status.
 */
import { spawn, spawnSync } from 'child_process';
import { join } from 'path';
import { TS_HOOK } from '../shared/child';
import { parseFlags, runCli } from '../shared/cli';

const ROOT = join(__dirname, '..', '..');

async function main(): Promise<number> {
  const local = spawn(process.execPath, [...TS_HOOK, 'scripts/local/local.ts', '--keep', '--records', '500', '--invalid', '9'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' },
  });
  let output = '';
  const ready = await new Promise<boolean>((resolve) => {
    local.stdout!.on('data', (d: Buffer) => {
      process.stdout.write(d);
      output += d.toString();
      if (output.includes('keeps running')) resolve(true);
    });
    local.once('exit', () => resolve(false));
  });
  if (!ready) {
    console.error('integ-local: the local stack did not start');
    return 1;
  }
  let status: number;
  try {
    const jest = require.resolve('jest/bin/jest');
    const run = spawnSync(process.execPath, [jest, '-c', 'test/integ/jest.config.json', '--runInBand'], {
      cwd: ROOT,
      stdio: 'inherit',
      env: { ...process.env, AWS_EC2_METADATA_DISABLED: 'true' },
    });
    status = run.status ?? 1;
  } finally {
    const exited = new Promise((r) => local.once('exit', r));
    local.kill('SIGINT');
    await exited;
  }
  return status;
}

const USAGE = 'usage: npm run test:integ:local   (no flags: starts the local stack, runs the integration and smoke suites, stops it)';

runCli('integ-local', USAGE, async () => {
  if (!parseFlags(process.argv.slice(2), {})) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  return main();
});
