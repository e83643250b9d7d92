/**
 * Re-drives quarantined records of one environment with the current validator (lib/processor/tasks/redrive):
 *
 *   npm run redrive -- --suffix <env> [--reason INVALID_FHIR] [--since 2026-05-01] [--dry-run] [--limit N] [--batch-size N]
 *
 * `--suffix local` runs it in this process against the local stack (`npm run local -- --keep`, read
 * from cfn-outputs/flat-outputs.json). Any other suffix runs the environment's processor task
 * definition once as a one-off Fargate task with `node dist/processor/tasks/redrive/main.js ...` (the database is
 * reachable only inside the VPC, as for verify), waits for it, relays its progress and prints its
 * summary from the processor log group. Output is counts only: never a payload, an id or patient data.
 */
import { readFileSync } from 'fs';
import { hostname, userInfo } from 'os';
import { join, resolve } from 'path';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { ECSClient } from '@aws-sdk/client-ecs';
import { startTask, untilStopped } from '../../lib/constructs/handlers/one-off-task';
import { callerArn } from '../shared/caller';
import { commandTarget, environmentSuffix } from '../shared/target';
import { sleep } from '../../lib/processor/retry';
import {
  DEFAULT_BATCH_SIZE,
  MAX_BATCH_SIZE,
  QUARANTINE_REASONS,
  redriveArgs,
  redriveOptions,
  RedriveOptions,
} from '../../lib/processor/tasks/redrive/options';
import { currentValidator, progressLine, redrive, RedriveSummary, safeMessage } from '../../lib/processor/tasks/redrive/redrive';
import { processorCommand, PROCESSOR_CONTAINER_NAME } from '../../lib/contract';
import { InputError, parseFlags, progressPrinter, runCli, UsageError } from '../shared/cli';
import { localDatabaseUnreachable, localWriterDatabase, need, Outputs } from '../shared/local-database';
import { TaskLog, workloadPlacement } from '../shared/one-off-task';
import { SDK_RETRY } from './preview';
import { collectOutputs, stageStackNames } from './write-flat-outputs';

export const USAGE = `usage: npm run redrive -- --suffix S [--reason CODE] [--since T] [--dry-run] [--limit N] [--batch-size N] [--outputs F] [--project P] [--region R] [--wait S]
  --suffix S      the environment: local (the stack of npm run local -- --keep) or a deployed environmentSuffix (dev, prod, a branch's)
  --reason CODE   only records quarantined with CODE: ${QUARANTINE_REASONS.join(', ')}
  --since T       only records quarantined at or after T (2026-05-01, or 2026-05-01T12:00:00Z with a zone)
  --dry-run       count what would pass the current validator; change nothing (the read itself is audited)
  --limit N       examine at most N records
  --batch-size N  records per transaction, 1 to ${MAX_BATCH_SIZE} (default ${DEFAULT_BATCH_SIZE})
  --outputs F     flat outputs to use (local: default cfn-outputs/flat-outputs.json; AWS: default read from the stage's stacks)
  --project P     project name (default $PROJECT or the project of cdk.json)
  --region R      region of the stage (default $AWS_REGION or the region of cdk.json)
  --wait S        AWS: stop waiting for the task after S seconds (default 3600; the task itself keeps running)`;

const ROOT = join(__dirname, '..', '..');

export interface RedriveCliOptions {
  readonly suffix: string;
  readonly redrive: RedriveOptions;
  readonly outputs?: string;
  readonly project: string;
  readonly region: string;
  readonly waitSeconds: number;
}

/** Strict flags, all checked before any database or AWS client exists; undefined means --help. */
export function parseRedriveCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): RedriveCliOptions | undefined {
  const parsed = parseFlags(argv, {
    suffix: { type: 'string' },
    reason: { type: 'string' },
    since: { type: 'string' },
    'dry-run': { type: 'boolean' },
    limit: { type: 'integer', min: 1 },
    'batch-size': { type: 'integer', min: 1 },
    outputs: { type: 'string' },
    project: { type: 'string' },
    region: { type: 'string' },
    wait: { type: 'integer', min: 1, default: 3_600 },
  });
  if (!parsed) return undefined;
  const { flags } = parsed;
  // A write to an environment's records: the environment is named explicitly, never taken from the shell.
  const suffix = environmentSuffix(flags.suffix);
  // The task's own flag rules: a bad value is a UsageError here as there.
  const options = redriveOptions({
    reason: flags.reason,
    since: flags.since,
    dryRun: flags['dry-run'],
    limit: flags.limit,
    batchSize: flags['batch-size'],
  });
  const { project, region } = commandTarget(flags, env);
  if (suffix === 'local' && flags.region !== undefined)
    throw new UsageError('--region applies to a deployed environment, not to --suffix local');
  return {
    suffix,
    redrive: options,
    outputs: flags.outputs,
    project,
    region,
    waitSeconds: flags.wait,
  };
}

export function readOutputs(path: string, hint: string): Outputs {
  let outputs: unknown;
  try {
    outputs = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new InputError(`cannot read ${path}: ${hint} (${(error as Error).message.split('\n')[0]})`, { cause: error });
  }
  if (typeof outputs !== 'object' || outputs === null || Array.isArray(outputs))
    throw new InputError(`${path} is not a flat {OutputKey: OutputValue} map`);
  return outputs as Outputs;
}

/** The outputs name the environment the operator asked for (a re-drive writes to its records). */
function checkSuffix(outputs: Outputs, suffix: string, where: string): void {
  need(outputs, ['EnvironmentSuffix'], where);
  if (outputs.EnvironmentSuffix !== suffix)
    throw new InputError(`${where} describes environment "${outputs.EnvironmentSuffix}", not "${suffix}": pass the outputs of ${suffix}`);
}

function operator(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `operator@${hostname()}`;
  }
}

/** The local stack: the re-drive runs here, as the writer role, with the processor's default limits. */
export async function redriveLocal(
  outputs: Outputs,
  options: RedriveOptions,
  print: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Promise<RedriveSummary> {
  const { config, pool } = localWriterDatabase(outputs, { WORKER_ID: operator() });
  const progress = progressPrinter();
  print(`re-driving quarantined records of the local stack (${options.dryRun ? 'dry run' : 'writing'})`);
  try {
    return await redrive(pool, options, {
      actor: `${config.workerId}/redrive`,
      streamName: config.streamName,
      validator: currentValidator(config.maxRecordBytes),
      onBatch: (s) => progress.update(progressLine(s)),
    });
  } catch (error) {
    const unreachable = localDatabaseUnreachable(error, config);
    if (unreachable) throw unreachable;
    // A database message may quote a value from a record: only its SQLSTATE is shown.
    // eslint-disable-next-line preserve-caught-error -- the cause is left out on purpose: it may quote PHI
    throw new Error(safeMessage(error));
  } finally {
    progress.done();
    await pool.end();
  }
}

const ECS_KEYS = [
  'ProcessorClusterName',
  'ProcessorTaskDefinitionArn',
  'WorkloadSubnetIds',
  'WorkloadSecurityGroupId',
  'ProcessorLogGroupName',
] as const;

export interface EcsRedriveSettings {
  /** Give up waiting after this long; the task keeps running. */
  readonly maxWaitSeconds: number;
  /** Between status checks. @default 5000 */
  readonly pollMs?: number;
  /** Once stopped, how many more reads wait for the summary line to reach the log group. @default 12 */
  readonly logSettleReads?: number;
  readonly print?: (line: string) => void;
  readonly now?: () => number;
}

/**
 * AWS: runs the processor's own task definition once with `node dist/processor/tasks/redrive/main.js <flags>` in the
 * workload subnets (same image, IAM database login, TLS and restricted role as the service), relays
 * its progress from the processor log group, and returns the summary it printed. Its log stream is
 * `processor/processor/<task id>` (awslogs: prefix/container/task id).
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/using_awslogs.html
 */
export async function redriveOnEcs(
  outputs: Outputs,
  options: RedriveOptions,
  ecs: ECSClient,
  logs: CloudWatchLogsClient,
  settings: EcsRedriveSettings,
): Promise<RedriveSummary> {
  need(outputs, ECS_KEYS, 'the stage outputs');
  const print = settings.print ?? ((l: string) => process.stdout.write(`${l}\n`));
  const now = settings.now ?? Date.now;
  const cluster = outputs.ProcessorClusterName;
  const taskArn = await startTask(
    ecs,
    {
      ...workloadPlacement(outputs),
      taskDefinition: outputs.ProcessorTaskDefinitionArn,
      startedBy: options.dryRun ? 'redrive-dry-run' : 'redrive',
      overrides: {
        containerOverrides: [{ name: PROCESSOR_CONTAINER_NAME, command: processorCommand('redrive', ...redriveArgs(options)) }],
      },
    },
    'the redrive task',
  );
  const taskId = taskArn.split('/').pop()!;
  print(`started task ${taskId} on ${cluster} (${options.dryRun ? 'dry run' : 'writing'}); waiting up to ${settings.maxWaitSeconds} s`);

  const log = new TaskLog(logs, outputs.ProcessorLogGroupName, `processor/processor/${taskId}`);
  let summary: RedriveSummary | undefined;
  let lastError: string | undefined;
  const relay = (lines: readonly string[]) => {
    for (const line of lines) {
      if (line.startsWith('{"redrive"')) {
        summary = (JSON.parse(line) as { redrive: RedriveSummary }).redrive;
        continue;
      }
      let event: { msg?: string; level?: string } & Partial<RedriveSummary>;
      try {
        event = JSON.parse(line);
      } catch {
        // The task's own one-line failure (stderr), e.g. "redrive: ..." or a configuration error.
        if (line.trim()) lastError = line.trim();
        continue;
      }
      if (event.msg === 'redrive progress') print(progressLine(event as RedriveSummary));
      else if (event.level === 'warn' || event.level === 'error' || event.level === 'fatal')
        print(`task ${event.level}: ${event.msg ?? ''}`);
    }
  };

  const deadline = now() + settings.maxWaitSeconds * 1000;
  let status: string | undefined;
  const task = await untilStopped(ecs, {
    cluster,
    taskArn,
    intervalMs: settings.pollMs ?? 5_000,
    sleep,
    onPoll: async (described) => {
      const next = described?.lastStatus ?? 'UNKNOWN';
      if (next !== status) print(`task ${taskId}: ${next}`);
      status = next;
      relay(await log.read());
      if (status !== 'STOPPED' && now() >= deadline) {
        throw new Error(
          `task ${taskId} is still ${status} after ${settings.maxWaitSeconds} s; it keeps running in AWS: follow it in ${outputs.ProcessorLogGroupName}, or stop it with aws ecs stop-task --cluster ${cluster} --task ${taskId}`,
        );
      }
    },
  });
  const container = task.containers?.find((c) => c.name === PROCESSOR_CONTAINER_NAME);
  if (container?.exitCode !== 0) {
    throw new Error(
      `redrive task ${taskId} exited with ${container?.exitCode ?? 'no exit code'}: ${lastError ?? container?.reason ?? task.stoppedReason ?? 'no reason given'}`,
    );
  }
  // Log events can reach the group a little after the task stopped.
  for (let read = 0; !summary && read < (settings.logSettleReads ?? 12); read++) {
    await sleep(settings.pollMs ?? 5_000);
    relay(await log.read());
  }
  if (!summary) throw new Error(`redrive task ${taskId} exited 0 but no summary reached ${outputs.ProcessorLogGroupName}`);
  return summary;
}

/** The summary by reason code, as lines (counts only). */
export function formatSummary(s: RedriveSummary): string[] {
  const verb = s.dryRun ? 'would re-drive' : 're-driven';
  const lines = [
    `summary${s.dryRun ? ' (dry run: nothing changed)' : ''}: examined ${s.examined}, ${verb} ${s.redriven}, still quarantined ${s.stillQuarantined}`,
  ];
  const reasons = Object.entries(s.byReason);
  if (reasons.length > 0) {
    const width = Math.max(...reasons.map(([r]) => r.length), 'reason'.length);
    lines.push(`  ${'reason'.padEnd(width)}  examined  ${s.dryRun ? 'would pass' : ' re-driven'}  still quarantined`);
    for (const [reason, c] of reasons)
      lines.push(
        `  ${reason.padEnd(width)}  ${String(c.examined).padStart(8)}  ${String(c.redriven).padStart(10)}  ${String(c.stillQuarantined).padStart(17)}`,
      );
  }
  const entries = Object.entries(s.entries);
  if (entries.length > 0) lines.push(`  resources: ${entries.map(([outcome, n]) => `${outcome} ${n}`).join(', ')}`);
  lines.push(
    `  still to examine with this validator: ${s.pending}${s.pending > 0 ? ' (locked by another re-drive, quarantined meanwhile, or past --limit: run again)' : ''}`,
  );
  lines.push(`  validator ${s.validator}`);
  return lines;
}

export interface MainOverrides {
  readonly ecs?: ECSClient;
  readonly logs?: CloudWatchLogsClient;
  readonly cfn?: CloudFormationClient;
  /** The operator's IAM identity. @default sts:GetCallerIdentity */
  readonly operator?: () => Promise<string>;
  readonly pollMs?: number;
  readonly print?: (line: string) => void;
}

export async function main(argv: readonly string[], overrides: MainOverrides = {}): Promise<number> {
  const print = overrides.print ?? ((l: string) => process.stdout.write(`${l}\n`));
  const cli = parseRedriveCli(argv);
  if (!cli) {
    print(USAGE);
    return 0;
  }
  let summary: RedriveSummary;
  if (cli.suffix === 'local') {
    const path = resolve(ROOT, cli.outputs ?? join('cfn-outputs', 'flat-outputs.json'));
    const outputs = readOutputs(path, 'start the local stack with npm run local -- --keep first');
    checkSuffix(outputs, 'local', path);
    summary = await redriveLocal(outputs, cli.redrive, print);
  } else {
    const ecs = overrides.ecs ?? new ECSClient({ region: cli.region, ...SDK_RETRY });
    const logs = overrides.logs ?? new CloudWatchLogsClient({ region: cli.region, ...SDK_RETRY });
    try {
      let outputs: Outputs;
      let where: string;
      if (cli.outputs) {
        where = resolve(ROOT, cli.outputs);
        outputs = readOutputs(
          where,
          `write it with scripts/operations/write-flat-outputs.ts --suffix ${cli.suffix}, or leave --outputs out`,
        );
      } else {
        const cfn = overrides.cfn ?? new CloudFormationClient({ region: cli.region, ...SDK_RETRY });
        try {
          const names = await stageStackNames(cfn, cli.project, cli.suffix);
          if (names.length === 0) throw new Error(`no complete stacks named ${cli.project}-<layer>-${cli.suffix} in ${cli.region}`);
          outputs = (await collectOutputs(cfn, names)).flat;
          where = `the stacks of ${cli.suffix}`;
        } finally {
          if (!overrides.cfn) cfn.destroy();
        }
      }
      checkSuffix(outputs, cli.suffix, where);
      // The task records who asked: the caller's own IAM identity, not this machine's name.
      const operator = await (overrides.operator ?? (() => callerArn(cli.region)))();
      summary = await redriveOnEcs(outputs, { ...cli.redrive, operator }, ecs, logs, {
        maxWaitSeconds: cli.waitSeconds,
        pollMs: overrides.pollMs,
        print,
      });
    } finally {
      if (!overrides.ecs) ecs.destroy();
      if (!overrides.logs) logs.destroy();
    }
  }
  for (const line of formatSummary(summary)) print(line);
  return 0;
}

if (require.main === module) runCli('redrive', USAGE, () => main(process.argv.slice(2)));
