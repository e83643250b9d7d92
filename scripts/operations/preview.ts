/**
 * Preview environments (one per branch): list, enforce the cap, destroy, sweep.
 *
 *   npm run preview -- suffix --branch feature/ABC-1_x     (prints the suffix; no AWS call)
 *   npm run preview -- list
 *   npm run preview -- check-cap --suffix br-abc-123 [--max 5]
 *   npm run destroy -- --suffix br-abc-123 [--yes]          (or --branch <name>; asks for confirmation without --yes)
 *   npm run preview -- sweep [--yes] [--live-branches branches.txt]
 *
 * An environment is the stacks tagged Preview=true with one EnvironmentSuffix. Nothing without
 * that tag, or tagged Profile=production, is ever destroyed by this script.
 */
import { readFileSync } from 'fs';
import { createInterface } from 'readline';
import { isatty } from 'tty';
import {
  CloudFormationClient,
  CloudFormationClientConfig,
  DeleteStackCommand,
  paginateDescribeStacks,
  Stack,
  waitUntilStackDeleteComplete,
} from '@aws-sdk/client-cloudformation';
import { appSettings } from '../../lib/config';
import { capRefusal, environmentsInUse } from '../../lib/constructs/handlers/environment-cap';
import { LAYERS_TEARDOWN, Naming, PREVIEW_SUFFIX_PREFIX, PREVIEW_TAG, suffixFromBranch } from '../../lib/contract';
import { parseFlags, runCli, UsageError } from '../shared/cli';

/**
 * Retries of every AWS call: the SDK's own bounded retry with client-side rate limiting
 * ('adaptive' backs off on throttling across calls), instead of hand-written loops.
 * https://docs.aws.amazon.com/sdk-for-javascript/v3/developer-guide/migrate-client-constructors.html#config-maxAttempts
 */
export const SDK_RETRY = { maxAttempts: 8, retryMode: 'adaptive' } as const satisfies CloudFormationClientConfig;

export const USAGE = `usage: npm run preview -- <command> [flags]
  suffix --branch B                        print the environment suffix of a branch (no AWS call)
  list                                     list the preview environments
  check-cap (--suffix S | --branch B) [--max N]   fail when creating S would exceed the cap (default $MAX_PREVIEW_ENVIRONMENTS or 5)
  destroy (--suffix S | --branch B) [--yes]        delete one environment (asks without --yes)
  sweep [--yes] [--live-branches FILE]     delete expired environments and those of deleted branches (dry run without --yes)
  --project P                              project tag (default $PROJECT or the project of cdk.json)`;

export interface PreviewEnvironment {
  readonly suffix: string;
  readonly branch?: string;
  readonly expiresAt?: string;
  readonly stacks: Array<{ readonly name: string; readonly status: string; readonly tags: Record<string, string> }>;
}

export type DeletionReason = 'expired' | 'branch-gone';

export class CapReachedError extends Error {}
export class NotPreviewError extends Error {}

const tagsOf = (s: Stack) => Object.fromEntries((s.Tags ?? []).map((t) => [t.Key!, t.Value ?? '']));

/** Every environment tagged Preview=true for the project, from the paginated DescribeStacks. */
export async function listPreviewEnvironments(cfn: CloudFormationClient, project: string): Promise<PreviewEnvironment[]> {
  const bySuffix = new Map<string, PreviewEnvironment>();
  for await (const page of paginateDescribeStacks({ client: cfn }, {})) {
    for (const stack of page.Stacks ?? []) {
      const tags = tagsOf(stack);
      if (
        tags[PREVIEW_TAG.key] !== PREVIEW_TAG.value ||
        tags.Project !== project ||
        !tags.EnvironmentSuffix ||
        stack.StackStatus === 'DELETE_COMPLETE'
      )
        continue;
      const env = bySuffix.get(tags.EnvironmentSuffix) ?? {
        suffix: tags.EnvironmentSuffix,
        branch: tags.Branch,
        expiresAt: tags.ExpiresAt,
        stacks: [],
      };
      env.stacks.push({ name: stack.StackName!, status: stack.StackStatus!, tags });
      // The newest deploy wins: a later ExpiresAt on any stack extends the environment.
      const expiresAt = !env.expiresAt || (tags.ExpiresAt && tags.ExpiresAt > env.expiresAt) ? tags.ExpiresAt : env.expiresAt;
      bySuffix.set(tags.EnvironmentSuffix, { ...env, expiresAt });
    }
  }
  return [...bySuffix.values()].sort((a, b) => a.suffix.localeCompare(b.suffix));
}

/**
 * Which environments the sweeper deletes, and why: past ExpiresAt, or (when the live branches are
 * known) built from a branch that no longer exists. Environments mid-operation are left alone.
 */
export function selectForDeletion(
  envs: readonly PreviewEnvironment[],
  now: Date,
  liveBranches?: ReadonlySet<string>,
): Array<{ env: PreviewEnvironment; reason: DeletionReason }> {
  const selected: Array<{ env: PreviewEnvironment; reason: DeletionReason }> = [];
  for (const env of envs) {
    if (env.stacks.some((s) => s.status.endsWith('_IN_PROGRESS'))) continue;
    if (env.expiresAt && Date.parse(env.expiresAt) <= now.getTime()) selected.push({ env, reason: 'expired' });
    else if (liveBranches && env.branch && !liveBranches.has(env.branch)) selected.push({ env, reason: 'branch-gone' });
  }
  return selected;
}

/**
 * Throws when creating `suffix` would exceed the cap, counted as the deploy-time check counts it (one function,
 * lib/constructs/handlers/environment-cap.js): a refused or rolled-back preview holds no slot, and updating an
 * environment that holds one is always allowed. Returns the number in use.
 */
export function enforceCap(envs: readonly PreviewEnvironment[], project: string, suffix: string, max: number): number {
  const stacks = envs.flatMap((e) =>
    e.stacks.map((s) => ({ StackStatus: s.status, Tags: Object.entries(s.tags).map(([Key, Value]) => ({ Key, Value })) })),
  );
  const inUse = environmentsInUse(stacks, { project, previewTag: PREVIEW_TAG });
  const refusal = capRefusal(inUse, max, suffix);
  if (refusal) throw new CapReachedError(refusal);
  return inUse.length;
}

/** Deletes an environment's stacks in reverse dependency order, waiting for each. */
export async function destroyEnvironment(
  cfn: CloudFormationClient,
  project: string,
  env: PreviewEnvironment,
  log: (line: string) => void = console.log,
  maxWaitSeconds = 3600,
): Promise<void> {
  for (const stack of env.stacks) {
    if (stack.tags[PREVIEW_TAG.key] !== PREVIEW_TAG.value || stack.tags.Profile === 'production') {
      throw new NotPreviewError(
        `refusing to destroy ${stack.name}: it is not tagged ${PREVIEW_TAG.key}=${PREVIEW_TAG.value} with a non-production profile`,
      );
    }
  }
  const naming = new Naming(project, env.suffix);
  for (const layer of LAYERS_TEARDOWN) {
    const name = naming.stackName(layer);
    if (!env.stacks.some((s) => s.name === name)) continue;
    for (let attempt = 1; ; attempt++) {
      log(`deleting ${name}${attempt > 1 ? ` (attempt ${attempt})` : ''}`);
      await cfn.send(new DeleteStackCommand({ StackName: name }));
      try {
        await waitUntilStackDeleteComplete({ client: cfn, maxWaitTime: maxWaitSeconds, minDelay: 10 }, { StackName: name });
        log(`deleted ${name}`);
        break;
      } catch (error) {
        // DELETE_FAILED is usually a dependency still draining (ENIs, a log group being written); retry once.
        if (attempt >= 2) throw new Error(`could not delete ${name}: ${(error as Error).message}`, { cause: error });
      }
    }
  }
}

export type Command = 'suffix' | 'list' | 'check-cap' | 'destroy' | 'sweep';
const COMMANDS: readonly Command[] = ['suffix', 'list', 'check-cap', 'destroy', 'sweep'];

/** With positionals allowed, Node appends a hint about `--` to unknown flags: one line is enough. */
function withoutPositionalHint<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(error.message.replace(/\. To specify a positional argument.*$/, ''));
    throw error;
  }
}

export interface PreviewOptions {
  readonly command: Command;
  readonly project: string;
  readonly suffix?: string;
  readonly branch?: string;
  readonly max: number;
  readonly yes: boolean;
  readonly liveBranches?: string;
}

/**
 * Strict flags (unknown flags, missing values, non-numbers and flags the command does not take are
 * usage errors), checked before any AWS client exists. undefined means --help.
 */
export function parsePreviewArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): PreviewOptions | undefined {
  const parsed = withoutPositionalHint(() =>
    parseFlags(
      argv,
      {
        project: { type: 'string' },
        branch: { type: 'string' },
        suffix: { type: 'string' },
        max: { type: 'integer', min: 1 },
        yes: { type: 'boolean' },
        'live-branches': { type: 'string' },
      },
      { positionals: true },
    ),
  );
  if (!parsed) return undefined;
  const { flags, positionals } = parsed;
  const [command, ...extra] = positionals;
  if (command === undefined) throw new UsageError('a command is required');
  if (!COMMANDS.includes(command as Command)) throw new UsageError(`unknown command "${command}": use one of ${COMMANDS.join(', ')}`);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const allowed: Record<Command, readonly string[]> = {
    suffix: ['branch'],
    list: ['project'],
    'check-cap': ['project', 'branch', 'suffix', 'max'],
    destroy: ['project', 'branch', 'suffix', 'yes'],
    sweep: ['project', 'yes', 'live-branches'],
  };
  for (const name of ['project', 'branch', 'suffix', 'max', 'yes', 'live-branches'] as const) {
    const given = flags[name] !== undefined && flags[name] !== false;
    if (given && !allowed[command as Command].includes(name)) throw new UsageError(`${command} does not take --${name}`);
  }
  if (flags.suffix !== undefined && flags.branch !== undefined) throw new UsageError('use either --suffix or --branch, not both');
  const max = previewCap(flags.max, env);
  let suffix = flags.suffix;
  if (suffix === undefined && flags.branch !== undefined && command !== 'suffix') suffix = suffixFromBranch(flags.branch);
  if (command === 'suffix' && flags.branch === undefined) throw new UsageError('suffix needs --branch');
  if ((command === 'check-cap' || command === 'destroy') && suffix === undefined)
    throw new UsageError(`${command} needs --suffix or --branch`);
  // Every preview suffix starts with the prefix, and no long-lived or personal one may (Naming): refused before any AWS call.
  if (suffix !== undefined && !suffix.startsWith(PREVIEW_SUFFIX_PREFIX))
    throw new UsageError(
      `--suffix "${suffix}" is not a preview environment (their suffixes start with "${PREVIEW_SUFFIX_PREFIX}"); this command only acts on previews`,
    );
  return {
    command: command as Command,
    project: flags.project ?? env.PROJECT ?? appSettings().project,
    suffix,
    branch: flags.branch,
    max,
    yes: flags.yes,
    liveBranches: flags['live-branches'],
  };
}

/** The cap: --max when given, else $MAX_PREVIEW_ENVIRONMENTS (set on the preview builds), else 5. */
export function previewCap(flag: number | undefined, env: NodeJS.ProcessEnv): number {
  if (flag !== undefined) return flag;
  const fromEnv = env.MAX_PREVIEW_ENVIRONMENTS ?? '5';
  if (!/^\d+$/.test(fromEnv) || Number(fromEnv) < 1)
    throw new UsageError(`MAX_PREVIEW_ENVIRONMENTS must be a whole number ≥ 1, not "${fromEnv}"`);
  return Number(fromEnv);
}

async function confirm(question: string): Promise<boolean> {
  // isatty(0), not process.stdin.isTTY: reading that property opens stdin, which then stays open.
  if (!isatty(0)) return false;
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await new Promise<string>((resolve) => rl.question(`${question} [y/N] `, resolve));
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

/**
 * Runs one command. `cfn` is created only after the flags parsed (so --help and usage errors never
 * need credentials) unless a test passes one.
 */
export async function main(argv: string[], cfn?: CloudFormationClient, now = new Date()): Promise<number> {
  const options = parsePreviewArgs(argv);
  if (!options) {
    console.log(USAGE);
    return 0;
  }
  if (options.command === 'suffix') {
    console.log(suffixFromBranch(options.branch!));
    return 0;
  }
  const client = cfn ?? new CloudFormationClient({ region: process.env.AWS_REGION ?? appSettings().region, ...SDK_RETRY });
  try {
    return await run(options, client, now);
  } finally {
    if (!cfn) client.destroy();
  }
}

async function run(options: PreviewOptions, cfn: CloudFormationClient, now: Date): Promise<number> {
  const { project, yes } = options;
  const envs = await listPreviewEnvironments(cfn, project);
  switch (options.command) {
    case 'list':
      for (const e of envs)
        console.log(
          `${e.suffix}\tbranch=${e.branch ?? '-'}\texpires=${e.expiresAt ?? '-'}\t${e.stacks.map((s) => `${s.name}:${s.status}`).join(' ')}`,
        );
      console.log(`${envs.length} preview environment(s)`);
      return 0;
    case 'check-cap':
      console.log(`cap ok: ${enforceCap(envs, project, options.suffix!, options.max)} of ${options.max} in use`);
      return 0;
    case 'destroy': {
      const suffix = options.suffix!;
      const env = envs.find((e) => e.suffix === suffix);
      if (!env) {
        console.log(`no preview environment "${suffix}": nothing to do`);
        return 0;
      }
      if (!yes && !(await confirm(`Destroy ${env.stacks.map((s) => s.name).join(', ')}?`))) {
        console.error('not confirmed: nothing destroyed (use --yes to skip the question)');
        return 1;
      }
      await destroyEnvironment(cfn, project, env);
      return 0;
    }
    default: {
      const file = options.liveBranches;
      const live = file
        ? new Set(
            readFileSync(file, 'utf8')
              .split('\n')
              .map((l) => l.trim().replace(/^refs\/heads\//, ''))
              .filter(Boolean),
          )
        : undefined;
      const selected = selectForDeletion(envs, now, live);
      for (const { env, reason } of selected)
        console.log(`sweep: ${env.suffix} (${reason}; branch ${env.branch ?? '-'}, expires ${env.expiresAt ?? '-'})`);
      if (selected.length === 0) console.log(`sweep: nothing to delete among ${envs.length} environment(s)`);
      if (!yes) {
        console.log('dry run: add --yes to delete');
        return 0;
      }
      for (const { env } of selected) await destroyEnvironment(cfn, project, env);
      return 0;
    }
  }
}

if (require.main === module) runCli('preview', USAGE, () => main(process.argv.slice(2)));
