/**
 * `node dist/processor/tasks/redrive/main.js [--reason CODE] [--since ISO-8601] [--dry-run] [--limit N] [--batch-size N] [--operator ARN]`:
 * re-drives quarantined records (redrive.ts) and exits 0, 1 on failure, 2 on a usage error.
 *
 * Runs like the verify task: a one-off ECS task of the processor's own task definition (same image,
 * login, TLS and restricted role), or in-process against the local stack (scripts/redrive.ts).
 * Prints progress and one JSON summary line of counts: never a payload, an id or patient data.
 */
import { InputError } from '../../../contract/errors';
import { loadConfig } from '../../config';
import { createPool } from '../../db/pool';
import { commandLogger, errorFields } from '../../logger';
import { ecsTaskArn, operatorActor } from '../operator';
import { parseRedriveArgs, REDRIVE_USAGE } from './options';
import { currentValidator, redrive, safeMessage } from './redrive';

async function main(argv: readonly string[]): Promise<void> {
  const options = parseRedriveArgs(argv);
  if (!options) {
    process.stdout.write(`${REDRIVE_USAGE}\n`);
    return;
  }
  const config = loadConfig(process.env);
  // The operator who asked (scripts/operations/redrive.ts passes their IAM identity) and this task, for CloudTrail's RunTask event.
  const actor = operatorActor('redrive', options.operator, await ecsTaskArn(), config.workerId);
  // Synchronous: the summary stays the last line, after every progress line (scripts/redrive.ts reads them in order).
  const logger = commandLogger(actor);
  const pool = createPool(config, { asWriter: true, max: 1 });
  pool.on('error', (error) => logger.warn(errorFields(error), 'idle database connection failed'));
  try {
    const summary = await redrive(pool, options, {
      actor,
      streamName: config.streamName,
      validator: currentValidator(config.maxRecordBytes),
      onBatch: (s) =>
        logger.info(
          { batches: s.batches, examined: s.examined, redriven: s.redriven, stillQuarantined: s.stillQuarantined, dryRun: s.dryRun },
          'redrive progress',
        ),
      onRetry: (error, attempt) => logger.warn({ attempt, ...errorFields(error) }, 'database unavailable; retrying the re-drive batch'),
    });
    process.stdout.write(`${JSON.stringify({ redrive: summary })}\n`);
  } finally {
    await pool.end();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error) => {
    process.stderr.write(`redrive: ${safeMessage(error)}\n`);
    process.exit(error instanceof InputError ? error.exitCode : 1);
  });
}
