/**
 * Verifies the audit_event hash chains of one environment (lib/processor/db/audit-chain.ts):
 *
 *   npm run audit:verify -- --suffix <env> [--heads FILE ...] [--outputs F] [--project P] [--region R] [--wait S]
 *
 * `--suffix local` verifies the local stack (`npm run local -- --keep`) in this process; `--heads` names
 * exported head files to check as well. Any other suffix runs the processor's task definition once with
 * `node dist/processor/tasks/audit-chain/main.js verify --archive-bucket <the environment's archive>
 * --operator <your IAM ARN>`, which checks every head exported to the Object-Locked archive too, and relays
 * its result. Exit 0: intact; 1: a break (each broken chain's first break is printed with its position).
 */
import { join, resolve } from 'path';
import { readFileSync } from 'fs';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { ECSClient } from '@aws-sdk/client-ecs';
import { startTask, untilStopped } from '../../lib/constructs/handlers/one-off-task';
import { processorCommand, PROCESSOR_CONTAINER_NAME } from '../../lib/contract';
import { ChainHead, describeBreak, mergeHeads, parseHeads, verifyAuditChains } from '../../lib/processor/db/audit-chain';
import { sleep } from '../../lib/processor/retry';
import { verifySummary } from '../../lib/processor/tasks/audit-chain/main';
import { callerArn } from '../shared/caller';
import { InputError, parseFlags, runCli, UsageError } from '../shared/cli';
import { localDatabaseUnreachable, localWriterDatabase, need, Outputs } from '../shared/local-database';
import { TaskLog, workloadPlacement } from '../shared/one-off-task';
import { commandTarget, environmentSuffix } from '../shared/target';
import { SDK_RETRY } from './preview';
import { MainOverrides, readOutputs } from './redrive';
import { collectOutputs, stageStackNames } from './write-flat-outputs';

export const USAGE = `usage: npm run audit:verify -- --suffix S [--heads FILE ...] [--outputs F] [--project P] [--region R] [--wait S]
  --suffix S    the environment: local (the stack of npm run local -- --keep) or a deployed environmentSuffix
  --heads FILE  local: an exported heads file (audit-chain-heads/<time>.json) to check as well; repeatable
  --outputs F   flat outputs to use (local: default cfn-outputs/flat-outputs.json; AWS: default read from the stage's stacks)
  --project P   project name (default $PROJECT or the project of cdk.json)
  --region R    region of the stage (default $AWS_REGION or the region of cdk.json)
  --wait S      AWS: stop waiting for the task after S seconds (default 1800; the task itself keeps running)`;

const ROOT = join(__dirname, '..', '..');

export interface AuditVerifyCli {
  readonly suffix: string;
  readonly heads: readonly string[];
  readonly outputs?: string;
  readonly region: string;
  readonly project: string;
  readonly waitSeconds: number;
}

export function parseAuditVerifyCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): AuditVerifyCli | undefined {
  // --heads may repeat: collected here, the rest parsed strictly.
  const heads: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--heads') {
      const file = argv[++i];
      if (!file || file.startsWith('--')) throw new UsageError('--heads needs a file: an exported audit-chain-heads/<time>.json');
      heads.push(file);
    } else rest.push(argv[i]);
  }
  const parsed = parseFlags(rest, {
    suffix: { type: 'string' },
    outputs: { type: 'string' },
    project: { type: 'string' },
    region: { type: 'string' },
    wait: { type: 'integer', min: 1, default: 1_800 },
  });
  if (!parsed) return undefined;
  const { flags } = parsed;
  const suffix = environmentSuffix(flags.suffix);
  if (heads.length > 0 && suffix !== 'local')
    throw new UsageError('--heads applies to --suffix local; a deployed environment checks every head in its archive bucket');
  const { project, region } = commandTarget(flags, env);
  return { suffix, heads, outputs: flags.outputs, project, region, waitSeconds: flags.wait };
}

/** The local stack, in this process, as the writer role (the same reads as the task). */
export async function verifyLocal(outputs: Outputs, headFiles: readonly string[], print: (line: string) => void): Promise<number> {
  const heads: ChainHead[][] = headFiles.map((file) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new InputError(`cannot read --heads ${file}: ${(error as Error).message.split('\n')[0]}`, { cause: error });
    }
    try {
      return parseHeads(text, file);
    } catch (error) {
      throw new InputError((error as Error).message, { cause: error });
    }
  });
  const { config, pool } = localWriterDatabase(outputs);
  try {
    const report = await verifyAuditChains(pool, mergeHeads(heads));
    print(JSON.stringify({ auditVerify: verifySummary(report, heads.length) }));
    for (const b of report.breaks) print(`BROKEN ${describeBreak(b)}`);
    print(
      report.breaks.length === 0
        ? `intact: ${report.rows} rows in ${report.chains} chains${heads.length ? `, ${report.headsChecked} exported heads` : ''}`
        : `${report.breaks.length} broken chain(s)`,
    );
    return report.breaks.length === 0 ? 0 : 1;
  } catch (error) {
    throw localDatabaseUnreachable(error, config) ?? error;
    throw error;
  } finally {
    await pool.end();
  }
}

const ECS_KEYS = [
  'ProcessorClusterName',
  'ProcessorTaskDefinitionArn',
  'WorkloadSubnetIds',
  'WorkloadSecurityGroupId',
  'ProcessorLogGroupName',
  'AuditArchiveBucketName',
] as const;

/** AWS: the processor's task definition runs the verify once; its lines are relayed and its exit code returned. */
export async function verifyOnEcs(
  outputs: Outputs,
  operator: string,
  clients: { ecs: ECSClient; logs: CloudWatchLogsClient },
  settings: { maxWaitSeconds: number; pollMs?: number; print: (line: string) => void },
): Promise<number> {
  need(outputs, ECS_KEYS, 'the stage outputs');
  const { print } = settings;
  const command = processorCommand('auditChain', 'verify', '--archive-bucket', outputs.AuditArchiveBucketName, '--operator', operator);
  const taskArn = await startTask(
    clients.ecs,
    {
      ...workloadPlacement(outputs as Outputs & Record<(typeof ECS_KEYS)[number], string>),
      taskDefinition: outputs.ProcessorTaskDefinitionArn,
      startedBy: 'audit-verify',
      overrides: { containerOverrides: [{ name: PROCESSOR_CONTAINER_NAME, command }] },
    },
    'the audit verify task',
  );
  const taskId = taskArn.split('/').pop()!;
  print(`started task ${taskId} (as ${operator}); waiting up to ${settings.maxWaitSeconds} s`);
  const log = new TaskLog(clients.logs, outputs.ProcessorLogGroupName, `processor/processor/${taskId}`);
  let result = false;
  const relay = (lines: readonly string[]) => {
    for (const line of lines) {
      if (line.startsWith('{"auditVerify"') || line.startsWith('BROKEN ') || line.startsWith('audit-chain:')) {
        print(line);
        if (line.startsWith('{"auditVerify"')) result = true;
      }
    }
  };
  const deadline = Date.now() + settings.maxWaitSeconds * 1000;
  const task = await untilStopped(clients.ecs, {
    cluster: outputs.ProcessorClusterName,
    taskArn,
    intervalMs: settings.pollMs ?? 5_000,
    sleep,
    onPoll: async (described) => {
      relay(await log.read());
      if (described?.lastStatus !== 'STOPPED' && Date.now() >= deadline)
        throw new Error(
          `task ${taskId} is still running after ${settings.maxWaitSeconds} s; follow it in ${outputs.ProcessorLogGroupName}`,
        );
    },
  });
  for (let read = 0; !result && read < 12; read++) {
    await sleep(settings.pollMs ?? 5_000);
    relay(await log.read());
  }
  const exitCode = task.containers?.find((c) => c.name === PROCESSOR_CONTAINER_NAME)?.exitCode;
  if (exitCode !== 0 && exitCode !== 1)
    throw new Error(`audit verify task ${taskId} exited with ${exitCode ?? 'no exit code'}: ${task.stoppedReason ?? ''}`);
  return exitCode;
}

export async function main(argv: readonly string[], overrides: MainOverrides = {}): Promise<number> {
  const print = overrides.print ?? ((l: string) => process.stdout.write(`${l}\n`));
  const cli = parseAuditVerifyCli(argv);
  if (!cli) {
    print(USAGE);
    return 0;
  }
  if (cli.suffix === 'local') {
    const path = resolve(ROOT, cli.outputs ?? join('cfn-outputs', 'flat-outputs.json'));
    const outputs = readOutputs(path, 'start the local stack with npm run local -- --keep first');
    if (outputs.EnvironmentSuffix !== 'local')
      throw new InputError(`${path} describes environment "${outputs.EnvironmentSuffix}", not "local"`);
    return verifyLocal(outputs, cli.heads, print);
  }
  const ecs = overrides.ecs ?? new ECSClient({ region: cli.region, ...SDK_RETRY });
  const logs = overrides.logs ?? new CloudWatchLogsClient({ region: cli.region, ...SDK_RETRY });
  const cfn = overrides.cfn ?? new CloudFormationClient({ region: cli.region, ...SDK_RETRY });
  try {
    let outputs: Outputs;
    if (cli.outputs)
      outputs = readOutputs(resolve(ROOT, cli.outputs), `write it with scripts/operations/write-flat-outputs.ts --suffix ${cli.suffix}`);
    else {
      const names = await stageStackNames(cfn, cli.project, cli.suffix);
      if (names.length === 0) throw new InputError(`no complete stacks named ${cli.project}-<layer>-${cli.suffix} in ${cli.region}`);
      outputs = (await collectOutputs(cfn, names)).flat;
    }
    if (outputs.EnvironmentSuffix !== cli.suffix)
      throw new InputError(`the outputs describe environment "${outputs.EnvironmentSuffix}", not "${cli.suffix}"`);
    const operator = await (overrides.operator ?? (() => callerArn(cli.region)))();
    return await verifyOnEcs(outputs, operator, { ecs, logs }, { maxWaitSeconds: cli.waitSeconds, pollMs: overrides.pollMs, print });
  } finally {
    if (!overrides.ecs) ecs.destroy();
    if (!overrides.logs) logs.destroy();
    if (!overrides.cfn) cfn.destroy();
  }
}

if (require.main === module) runCli('audit:verify', USAGE, () => main(process.argv.slice(2)));
