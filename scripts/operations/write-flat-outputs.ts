/**
 * Writes the outputs of one environment's stacks for the integration suite:
 *   cfn-outputs/flat-outputs.json  {OutputKey: OutputValue} over every stack of the stage
 *   cfn-outputs/all-outputs.json   {StackName: [{OutputKey, OutputValue, Description}]}
 *
 *   npx ts-node --transpile-only scripts/operations/write-flat-outputs.ts --suffix dev [--project hipaa-fhir] [--region eu-west-2] [--dir cfn-outputs]
 *
 * The stage's stacks are those named `<project>-<layer>-<suffix>` whose status is complete.
 * An output key in two stacks is an error: the flat map would silently lose one value.
 */
import { mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { CloudFormationClient, DescribeStacksCommand, Output, paginateListStacks, StackStatus } from '@aws-sdk/client-cloudformation';
import { parseFlags, runCli, UsageError } from '../shared/cli';
import { commandTarget } from '../shared/target';
import { LAYERS, Naming } from '../../lib/contract';
import { SDK_RETRY } from './preview';

export const USAGE = `usage: npx ts-node --transpile-only scripts/operations/write-flat-outputs.ts --suffix S [--project P] [--region R] [--dir D]
  --suffix S    environmentSuffix of the stage (default $ENVIRONMENT_SUFFIX; required)
  --project P   project name (default $PROJECT or the project of cdk.json)
  --region R    region of the stage (default $AWS_REGION or the region of cdk.json)
  --dir D       output directory (default cfn-outputs)`;

const COMPLETE: string[] = [
  StackStatus.CREATE_COMPLETE,
  StackStatus.UPDATE_COMPLETE,
  StackStatus.UPDATE_ROLLBACK_COMPLETE,
  StackStatus.IMPORT_COMPLETE,
];

export interface StageOutputs {
  readonly flat: Record<string, string>;
  readonly byStack: Record<string, Array<{ OutputKey: string; OutputValue: string; Description?: string }>>;
}

export class DuplicateOutputKeyError extends Error {}

/** The names of this stage's stacks that are in a complete state (paginated). */
export async function stageStackNames(cfn: CloudFormationClient, project: string, suffix: string): Promise<string[]> {
  const order = new Naming(project, suffix).stackNames;
  const wanted = new Set(order);
  const names: string[] = [];
  for await (const page of paginateListStacks({ client: cfn }, { StackStatusFilter: COMPLETE as StackStatus[] })) {
    for (const s of page.StackSummaries ?? []) if (s.StackName && wanted.has(s.StackName)) names.push(s.StackName);
  }
  return [...new Set(names)].sort((a, b) => order.indexOf(a) - order.indexOf(b));
}

export async function collectOutputs(cfn: CloudFormationClient, stackNames: readonly string[]): Promise<StageOutputs> {
  const flat: Record<string, string> = {};
  const owner: Record<string, string> = {};
  const byStack: StageOutputs['byStack'] = {};
  for (const name of stackNames) {
    const out = await cfn.send(new DescribeStacksCommand({ StackName: name }));
    const outputs: Output[] = out.Stacks?.[0]?.Outputs ?? [];
    byStack[name] = outputs.map((o) => ({
      OutputKey: o.OutputKey!,
      OutputValue: o.OutputValue ?? '',
      ...(o.Description ? { Description: o.Description } : {}),
    }));
    for (const o of outputs) {
      const key = o.OutputKey!;
      if (key in flat)
        throw new DuplicateOutputKeyError(
          `output key "${key}" is in both ${owner[key]} and ${name}: output keys must be unique across a stage`,
        );
      flat[key] = o.OutputValue ?? '';
      owner[key] = name;
    }
  }
  return { flat, byStack };
}

export async function writeFlatOutputs(
  cfn: CloudFormationClient,
  options: { project: string; suffix: string; dir: string },
): Promise<StageOutputs> {
  const names = await stageStackNames(cfn, options.project, options.suffix);
  if (names.length === 0)
    throw new Error(`no complete stacks named ${options.project}-<layer>-${options.suffix} (layers: ${LAYERS.join(', ')})`);
  const outputs = await collectOutputs(cfn, names);
  mkdirSync(options.dir, { recursive: true });
  writeFileSync(join(options.dir, 'flat-outputs.json'), `${JSON.stringify(outputs.flat, null, 2)}\n`);
  writeFileSync(join(options.dir, 'all-outputs.json'), `${JSON.stringify(outputs.byStack, null, 2)}\n`);
  return outputs;
}

export interface FlatOutputsOptions {
  readonly suffix: string;
  readonly project: string;
  readonly region: string;
  readonly dir: string;
}

/** Strict flags, checked before any AWS client exists; undefined means --help. */
export function parseFlatOutputsArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): FlatOutputsOptions | undefined {
  const parsed = parseFlags(argv, {
    suffix: { type: 'string' },
    project: { type: 'string' },
    region: { type: 'string' },
    dir: { type: 'string', default: 'cfn-outputs' },
  });
  if (!parsed) return undefined;
  const { flags } = parsed;
  const suffix = flags.suffix ?? env.ENVIRONMENT_SUFFIX;
  if (!suffix) throw new UsageError('--suffix is required (or set ENVIRONMENT_SUFFIX)');
  const { project, region } = commandTarget(flags, env);
  return { suffix, project, region, dir: flags.dir };
}

async function main(argv: string[]): Promise<number> {
  const options = parseFlatOutputsArgs(argv);
  if (!options) {
    console.log(USAGE);
    return 0;
  }
  const { suffix, project, region, dir } = options;
  const cfn = new CloudFormationClient({ region, ...SDK_RETRY });
  try {
    const outputs = await writeFlatOutputs(cfn, { project, suffix, dir });
    console.log(
      `wrote ${dir}/flat-outputs.json: ${Object.keys(outputs.flat).length} outputs from ${Object.keys(outputs.byStack).join(', ')}`,
    );
    return 0;
  } finally {
    cfn.destroy();
  }
}

if (require.main === module) runCli('write-flat-outputs', USAGE, () => main(process.argv.slice(2)));
