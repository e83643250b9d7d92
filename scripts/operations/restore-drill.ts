/**
 * Runs the restore drill of one environment once, on demand (the same task EventBridge runs on schedule):
 *
 *   npm run restore-drill -- --suffix prod [--outputs cfn-outputs/flat-outputs.json] [--wait] [--region R] [--project P]
 *
 * The task, cluster, subnets and security group come from the stage's outputs (the file, or the stacks
 * themselves). Without --wait it prints the task and where its log is; with --wait it follows the task,
 * prints the drill's progress lines and its result line, and exits 0 when the restore was verified and
 * the temporary instance deleted, 1 otherwise. Usage errors exit 2 before any AWS client exists.
 * The caller needs ecs:RunTask on the drill task definition, iam:PassRole of its two roles,
 * ecs:DescribeTasks and (with --wait) logs:GetLogEvents on the drill's log streams.
 */
import { readFileSync } from 'fs';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { ECSClient } from '@aws-sdk/client-ecs';
import { exitCodeOf, startTask, untilStopped } from '../../lib/constructs/handlers/one-off-task';
import { commandTarget } from '../shared/target';
import { RESTORE_DRILL_CONTAINER_NAME } from '../../lib/contract';
import { InputError, parseFlags, runCli, UsageError } from '../shared/cli';
import { TaskLog, workloadPlacement } from '../shared/one-off-task';
import { SDK_RETRY } from './preview';
import { collectOutputs, stageStackNames } from './write-flat-outputs';

export const USAGE = `usage: npm run restore-drill -- --suffix S [--outputs FILE] [--wait] [--region R] [--project P] [--poll-seconds N] [--max-wait-minutes N]
  --suffix S             environmentSuffix whose drill to run (required)
  --outputs FILE         the stage's flat outputs (cfn-outputs/flat-outputs.json); default: read from its stacks
  --wait                 follow the drill to its end: progress, result line, exit code (default: start it and return)
  --region R             region of the stage (default $AWS_REGION or the region of cdk.json)
  --project P            project name (default $PROJECT or the project of cdk.json)
  --poll-seconds N       how often to look at the task while waiting (default 15)
  --max-wait-minutes N   stop waiting (the drill goes on) after this long (default 600)`;

/** The stage outputs the drill needs (written by the compute and network stacks). */
export const REQUIRED_OUTPUTS = [
  'EnvironmentSuffix',
  'ProcessorClusterName',
  'RestoreDrillTaskDefinitionArn',
  'WorkloadSubnetIds',
  'WorkloadSecurityGroupId',
  'ProcessorLogGroupName',
] as const;
type DrillOutputs = Record<(typeof REQUIRED_OUTPUTS)[number], string>;

export interface RestoreDrillOptions {
  readonly suffix: string;
  readonly outputs?: string;
  readonly wait: boolean;
  readonly region: string;
  readonly project: string;
  readonly pollSeconds: number;
  readonly maxWaitMinutes: number;
}

/** Strict flags, checked before any AWS client exists; undefined means --help. */
export function parseRestoreDrillArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): RestoreDrillOptions | undefined {
  const parsed = parseFlags(argv, {
    suffix: { type: 'string' },
    outputs: { type: 'string' },
    wait: { type: 'boolean' },
    region: { type: 'string' },
    project: { type: 'string' },
    'poll-seconds': { type: 'integer', min: 1, default: 15 },
    'max-wait-minutes': { type: 'integer', min: 1, default: 600 },
  });
  if (!parsed) return undefined;
  const { flags } = parsed;
  if (!flags.suffix) throw new UsageError('--suffix is required: the environment whose restore drill to run, e.g. --suffix prod');
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(flags.suffix) || flags.suffix.length > 20)
    throw new UsageError(`--suffix "${flags.suffix}" is not an environment suffix (1-20 lowercase letters, digits and single hyphens)`);
  const { project, region } = commandTarget(flags, env);
  if (!flags.wait && (argv.includes('--poll-seconds') || argv.includes('--max-wait-minutes')))
    throw new UsageError('--poll-seconds and --max-wait-minutes apply only with --wait');
  return {
    suffix: flags.suffix,
    outputs: flags.outputs,
    wait: flags.wait,
    region,
    project,
    pollSeconds: flags['poll-seconds'],
    maxWaitMinutes: flags['max-wait-minutes'],
  };
}

/** Checks that a flat-outputs map is this environment's and has everything the drill needs. */
export function drillOutputs(flat: Readonly<Record<string, string>>, suffix: string, source: string): DrillOutputs {
  if (flat.EnvironmentSuffix !== undefined && flat.EnvironmentSuffix !== suffix) {
    throw new InputError(`${source} holds the outputs of environment "${flat.EnvironmentSuffix}", not "${suffix}"`);
  }
  const missing = REQUIRED_OUTPUTS.filter((key) => !flat[key]);
  if (missing.includes('RestoreDrillTaskDefinitionArn')) {
    throw new InputError(
      `${source} has no RestoreDrillTaskDefinitionArn: the restore drill is not enabled for "${suffix}" (set environments.${suffix}.restoreDrill.enabled in cdk.json and deploy)`,
    );
  }
  if (missing.length > 0) throw new InputError(`${source} lacks ${missing.join(', ')}`);
  return Object.fromEntries(REQUIRED_OUTPUTS.map((key) => [key, flat[key]])) as DrillOutputs;
}

export interface DrillClients {
  readonly ecs: ECSClient;
  readonly logs: CloudWatchLogsClient;
  readonly cfn?: CloudFormationClient;
}

export interface RunOptions {
  readonly print: (line: string) => void;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
}

/** The drill's log stream: `<prefix>/<container>/<task id>` (awslogs driver, streamPrefix restore-drill). */
export function logStreamOf(taskArn: string): string {
  return `restore-drill/restore-drill/${taskArn.split('/').pop()}`;
}

/** What the drill task printed: its pino lines' messages, and its final JSON and result lines. */
function readableLine(message: string): { line?: string; result?: { ok: boolean } } {
  try {
    const parsed = JSON.parse(message) as { msg?: string; level?: string; restoreDrill?: { ok: boolean }; _aws?: unknown };
    if (parsed.restoreDrill) return { result: parsed.restoreDrill };
    if (parsed._aws) return {};
    return parsed.msg ? { line: `${parsed.level === 'error' || parsed.level === 'warn' ? `${parsed.level}: ` : ''}${parsed.msg}` } : {};
  } catch {
    return { line: message.trimEnd() };
  }
}

/** Starts the drill task; with `wait`, follows it to its end. Returns the exit code. */
export async function runDrillTask(options: RestoreDrillOptions, clients: DrillClients, run: RunOptions): Promise<number> {
  let outputs: DrillOutputs;
  if (options.outputs) {
    let flat: Record<string, string>;
    try {
      flat = JSON.parse(readFileSync(options.outputs, 'utf8')) as Record<string, string>;
    } catch (error) {
      throw new InputError(`cannot read ${options.outputs}: ${(error as Error).message.split('\n')[0]}`, { cause: error });
    }
    outputs = drillOutputs(flat, options.suffix, options.outputs);
  } else {
    if (!clients.cfn) throw new Error('no --outputs file and no CloudFormation client');
    const names = await stageStackNames(clients.cfn, options.project, options.suffix);
    if (names.length === 0) throw new Error(`no complete stacks named ${options.project}-<layer>-${options.suffix} in ${options.region}`);
    outputs = drillOutputs((await collectOutputs(clients.cfn, names)).flat, options.suffix, `the stacks of ${options.suffix}`);
  }

  const taskArn = await startTask(
    clients.ecs,
    {
      ...workloadPlacement(outputs),
      taskDefinition: outputs.RestoreDrillTaskDefinitionArn,
      startedBy: 'restore-drill-cli',
    },
    'the drill task',
  );
  const stream = logStreamOf(taskArn);
  run.print(`started restore drill of ${options.suffix}: task ${taskArn}`);
  run.print(`log: ${outputs.ProcessorLogGroupName} stream ${stream}`);
  if (!options.wait) return 0;

  const deadline = run.now() + options.maxWaitMinutes * 60_000;
  let status: string | undefined;
  let result: { ok: boolean } | undefined;
  let outOfTime = false;
  const log = new TaskLog(clients.logs, outputs.ProcessorLogGroupName, stream);
  let task;
  try {
    task = await untilStopped(clients.ecs, {
      cluster: outputs.ProcessorClusterName,
      taskArn,
      intervalMs: options.pollSeconds * 1000,
      sleep: run.sleep,
      onPoll: async (described) => {
        if (described?.lastStatus && described.lastStatus !== status) {
          status = described.lastStatus;
          run.print(`task ${status}`);
        }
        for (const message of await log.read()) {
          const read = readableLine(message);
          if (read.result) result = read.result;
          if (read.line) run.print(`  ${read.line}`);
        }
        if (described?.lastStatus !== 'STOPPED' && run.now() >= deadline) {
          outOfTime = true;
          throw new Error('out of time');
        }
      },
    });
  } catch (error) {
    if (!outOfTime) throw error;
    run.print(`stopped waiting after ${options.maxWaitMinutes} min; the drill goes on (task ${taskArn})`);
    return 1;
  }
  const exitCode = exitCodeOf(task, RESTORE_DRILL_CONTAINER_NAME);
  if (exitCode === 0 && result?.ok) return 0;
  if (exitCode === undefined)
    run.print(`restore drill FAILED: the task stopped without running the drill: ${task.stoppedReason ?? 'no reason given'}`);
  else if (!result)
    run.print(`restore drill FAILED: the task exited ${exitCode} without a result (${task.stoppedReason ?? 'see the log'})`);
  return 1;
}

async function main(argv: string[]): Promise<number> {
  const options = parseRestoreDrillArgs(argv);
  if (!options) {
    console.log(USAGE);
    return 0;
  }
  const config = { region: options.region, ...SDK_RETRY };
  const clients = {
    ecs: new ECSClient(config),
    logs: new CloudWatchLogsClient(config),
    cfn: options.outputs ? undefined : new CloudFormationClient(config),
  };
  try {
    return await runDrillTask(options, clients, {
      print: (line) => console.log(line),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      now: () => Date.now(),
    });
  } finally {
    clients.ecs.destroy();
    clients.logs.destroy();
    clients.cfn?.destroy();
  }
}

if (require.main === module) runCli('restore-drill', USAGE, () => main(process.argv.slice(2)));
