/**
 * Writes the outputs of one environment's stacks for the integration suite:
 *   cfn-outputs/flat-outputs.json  {OutputKey: OutputValue} over every stack of the stage
 *   cfn-outputs/all-outputs.json   {StackName: [{OutputKey, OutputValue, Description}]}
 *
 *   npx ts-node --transpile-only scripts/write-flat-outputs.ts --suffix dev [--project hipaa-fhir] [--region eu-west-2] [--dir cfn-outputs]
 *
 * The stage's stacks are those named `<project>-<layer>-<suffix>` whose status is complete.
 * An output key in two stacks is an error: the flat map would silently lose one value.
 */
import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { CloudFormationClient, DescribeStacksCommand, ListStacksCommand, Output, StackStatus } from '@aws-sdk/client-cloudformation';

const COMPLETE: string[] = [StackStatus.CREATE_COMPLETE, StackStatus.UPDATE_COMPLETE, StackStatus.UPDATE_ROLLBACK_COMPLETE, StackStatus.IMPORT_COMPLETE];
const LAYERS = ['network', 'data', 'audit', 'compute'];

export interface StageOutputs {
  readonly flat: Record<string, string>;
  readonly byStack: Record<string, Array<{ OutputKey: string; OutputValue: string; Description?: string }>>;
}

export class DuplicateOutputKeyError extends Error {}

/** Retries throttling with exponential backoff (the SDK retries too; this covers long bursts). */
async function withThrottleRetry<T>(fn: () => Promise<T>, attempts = 6): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (error) {
      const name = (error as Error).name;
      if (i >= attempts - 1 || !['Throttling', 'ThrottlingException', 'TooManyRequestsException'].includes(name)) throw error;
      await new Promise((r) => setTimeout(r, Math.min(5_000, 200 * 2 ** i) * Math.random()));
    }
  }
}

/** The names of this stage's stacks that are in a complete state (paginated). */
export async function stageStackNames(cfn: CloudFormationClient, project: string, suffix: string): Promise<string[]> {
  const wanted = new Set(LAYERS.map((layer) => `${project}-${layer}-${suffix}`));
  const names: string[] = [];
  let token: string | undefined;
  do {
    const page = await withThrottleRetry(() => cfn.send(new ListStacksCommand({ StackStatusFilter: COMPLETE as StackStatus[], NextToken: token })));
    for (const s of page.StackSummaries ?? []) if (s.StackName && wanted.has(s.StackName)) names.push(s.StackName);
    token = page.NextToken;
  } while (token);
  return [...new Set(names)].sort((a, b) => LAYERS.findIndex((l) => a.includes(`-${l}-`)) - LAYERS.findIndex((l) => b.includes(`-${l}-`)));
}

export async function collectOutputs(cfn: CloudFormationClient, stackNames: readonly string[]): Promise<StageOutputs> {
  const flat: Record<string, string> = {};
  const owner: Record<string, string> = {};
  const byStack: StageOutputs['byStack'] = {};
  for (const name of stackNames) {
    const out = await withThrottleRetry(() => cfn.send(new DescribeStacksCommand({ StackName: name })));
    const outputs: Output[] = out.Stacks?.[0]?.Outputs ?? [];
    byStack[name] = outputs.map((o) => ({ OutputKey: o.OutputKey!, OutputValue: o.OutputValue ?? '', ...(o.Description ? { Description: o.Description } : {}) }));
    for (const o of outputs) {
      const key = o.OutputKey!;
      if (key in flat) throw new DuplicateOutputKeyError(`output key "${key}" is in both ${owner[key]} and ${name}: output keys must be unique across a stage`);
      flat[key] = o.OutputValue ?? '';
      owner[key] = name;
    }
  }
  return { flat, byStack };
}

export async function writeFlatOutputs(cfn: CloudFormationClient, options: { project: string; suffix: string; dir: string }): Promise<StageOutputs> {
  const names = await stageStackNames(cfn, options.project, options.suffix);
  if (names.length === 0) throw new Error(`no complete stacks named ${options.project}-<layer>-${options.suffix}`);
  const outputs = await collectOutputs(cfn, names);
  mkdirSync(options.dir, { recursive: true });
  writeFileSync(join(options.dir, 'flat-outputs.json'), `${JSON.stringify(outputs.flat, null, 2)}\n`);
  writeFileSync(join(options.dir, 'all-outputs.json'), `${JSON.stringify(outputs.byStack, null, 2)}\n`);
  return outputs;
}

function flag(argv: string[], name: string, fallback?: string): string {
  const i = argv.indexOf(`--${name}`);
  const value = i >= 0 ? argv[i + 1] : fallback;
  if (!value) throw new Error(`--${name} is required`);
  return value;
}

async function main(argv: string[]): Promise<void> {
  const suffix = flag(argv, 'suffix', process.env.ENVIRONMENT_SUFFIX);
  const project = flag(argv, 'project', process.env.PROJECT ?? 'hipaa-fhir');
  const region = flag(argv, 'region', process.env.AWS_REGION ?? 'eu-west-2');
  const dir = flag(argv, 'dir', 'cfn-outputs');
  const cfn = new CloudFormationClient({ region });
  const outputs = await writeFlatOutputs(cfn, { project, suffix, dir });
  console.log(`wrote ${dir}/flat-outputs.json: ${Object.keys(outputs.flat).length} outputs from ${Object.keys(outputs.byStack).join(', ')}`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error) => {
    console.error(`write-flat-outputs: ${(error as Error).message}`);
    process.exit(1);
  });
}
