/**
 * `node dist/processor/tasks/verify/main.js --run-id <id> [--operator ARN]`: what the database holds for one integration-test run,
 * as one JSON line of counts (no PHI). Runs inside the VPC as a one-off ECS task of the
 * processor's own task definition (same credentials, TLS and role), because the database is
 * reachable from nowhere else. The read is itself audited.
 */
import type { Pool } from 'pg';
import { InputError, UsageError } from '../../../contract/errors';
import { loadConfig, loadOrExit } from '../../config';
import { createPool, transaction } from '../../db/pool';
import { checkOperator, ecsTaskArn, operatorActor } from '../operator';

export interface RunSummary {
  readonly runId: string;
  readonly history: number;
  readonly current: number;
  readonly quarantined: Record<string, number>;
  readonly audit: Record<string, number>;
  /** Input records (Kinesis record, bundle entry) persisted more than once: anything but 0 is a duplicate. */
  readonly duplicates: number;
}

const RUN_ID = /^[a-z0-9][a-z0-9-]{2,40}$/;
const RUN_ID_RULE = 'must be 3-41 lowercase letters, digits and hyphens';

export async function verifyRun(pool: Pool, runId: string, actor: string, streamName: string): Promise<RunSummary> {
  if (!RUN_ID.test(runId)) throw new InputError(`run id ${RUN_ID_RULE}`);
  const like = `${runId}-%`;
  // Any failure discards the session (a read-back has no refused record to tell apart from a broken connection).
  return transaction(
    pool,
    async (client) => {
      const history = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM fhir_resource_history WHERE resource_id LIKE $1', [
        like,
      ]);
      // Exactly once means one persist event per (stream position, bundle entry): count positions with more.
      const duplicated = await client.query<{ d: number }>(
        `SELECT count(*)::int AS d FROM (SELECT 1 FROM audit_event WHERE action = 'persist' AND outcome = 'written' AND resource_id LIKE $1
        GROUP BY stream_name, shard_id, sequence_number, entry_index HAVING count(*) > 1) AS repeated`,
        [like],
      );
      const current = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM fhir_resource_current WHERE resource_id LIKE $1', [
        like,
      ]);
      const quarantined = await client.query<{ reason_code: string; n: number }>(
        'SELECT reason_code, count(*)::int AS n FROM quarantined_record WHERE partition_key LIKE $1 GROUP BY 1 ORDER BY 1',
        [like],
      );
      const audit = await client.query<{ outcome: string; n: number }>(
        `SELECT outcome, count(*)::int AS n FROM audit_event
       WHERE resource_id LIKE $1
          OR (action = 'quarantine' AND (stream_name, shard_id, sequence_number) IN (SELECT stream_name, shard_id, sequence_number FROM quarantined_record WHERE partition_key LIKE $1))
       GROUP BY 1 ORDER BY 1`,
        [like],
      );
      await client.query(`INSERT INTO audit_event (actor, action, outcome, stream_name, detail) VALUES ($1, 'read', 'verify', $2, $3)`, [
        actor,
        streamName,
        `integration verification of run ${runId}: counts only`,
      ]);
      return {
        runId,
        history: history.rows[0].n,
        current: current.rows[0].n,
        quarantined: Object.fromEntries(quarantined.rows.map((r) => [r.reason_code, r.n])),
        audit: Object.fromEntries(audit.rows.map((r) => [r.outcome, r.n])),
        duplicates: duplicated.rows[0].d,
      };
    },
    { keepsSession: () => false },
  );
}

async function main(argv: string[]): Promise<void> {
  const i = argv.indexOf('--run-id');
  const runId = i >= 0 ? argv[i + 1] : undefined;
  if (!runId) throw new UsageError('--run-id is required');
  if (!RUN_ID.test(runId)) throw new UsageError(`--run-id ${RUN_ID_RULE}`);
  const o = argv.indexOf('--operator');
  const operator = o >= 0 ? checkOperator(argv[o + 1] ?? '') : undefined;
  const config = loadOrExit(() => loadConfig(process.env));
  const pool = createPool(config, { asWriter: true, max: 1 });
  try {
    // The caller's identity (the integration step passes its role) and this task, for CloudTrail's RunTask event.
    const actor = operatorActor('verify', operator, await ecsTaskArn(), config.workerId);
    const summary = await verifyRun(pool, runId, actor, config.streamName);
    process.stdout.write(`${JSON.stringify({ verify: summary })}\n`);
  } finally {
    await pool.end();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error) => {
    process.stderr.write(`verify: ${(error as Error).message}\n`);
    process.exit(error instanceof InputError ? error.exitCode : 1);
  });
}
