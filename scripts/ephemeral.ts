/**
 * Per-branch (ephemeral) environments: list, enforce the cap, destroy, sweep.
 *
 *   npx ts-node --transpile-only scripts/ephemeral.ts suffix --branch feature/ABC-1_x     (prints the suffix; no AWS call)
 *   npx ts-node --transpile-only scripts/ephemeral.ts list
 *   npx ts-node --transpile-only scripts/ephemeral.ts check-cap --suffix abc-123 [--max 5]
 *   npm run destroy -- --suffix abc-123 [--yes]            (or --branch <name>; asks for confirmation without --yes)
 *   npx ts-node --transpile-only scripts/ephemeral.ts sweep [--yes] [--live-branches branches.txt]
 *
 * An environment is the stacks tagged Ephemeral=true with one EnvironmentSuffix. Nothing
 * without that tag, or tagged Profile=production, is ever destroyed by this script.
 */
import { readFileSync } from 'fs';
import { createInterface } from 'readline';
import { CloudFormationClient, DeleteStackCommand, DescribeStacksCommand, Stack, waitUntilStackDeleteComplete } from '@aws-sdk/client-cloudformation';
import { suffixFromBranch } from '../lib/config/branch-suffix';

/** Deletion order: the reverse of deployment. */
export const LAYERS_REVERSED = ['compute', 'audit', 'data', 'network'] as const;

export interface EphemeralEnvironment {
  readonly suffix: string;
  readonly branch?: string;
  readonly expiresAt?: string;
  readonly stacks: Array<{ readonly name: string; readonly status: string; readonly tags: Record<string, string> }>;
}

export type DeletionReason = 'expired' | 'branch-gone';

export class CapReachedError extends Error {}
export class NotEphemeralError extends Error {}

const tagsOf = (s: Stack) => Object.fromEntries((s.Tags ?? []).map((t) => [t.Key!, t.Value ?? '']));

/** Every environment tagged Ephemeral=true for the project, from one paginated DescribeStacks. */
export async function listEphemeralEnvironments(cfn: CloudFormationClient, project: string): Promise<EphemeralEnvironment[]> {
  const bySuffix = new Map<string, EphemeralEnvironment>();
  let token: string | undefined;
  do {
    const page = await cfn.send(new DescribeStacksCommand({ NextToken: token }));
    for (const stack of page.Stacks ?? []) {
      const tags = tagsOf(stack);
      if (tags.Ephemeral !== 'true' || tags.Project !== project || !tags.EnvironmentSuffix || stack.StackStatus === 'DELETE_COMPLETE') continue;
      const env = bySuffix.get(tags.EnvironmentSuffix) ?? { suffix: tags.EnvironmentSuffix, branch: tags.Branch, expiresAt: tags.ExpiresAt, stacks: [] };
      env.stacks.push({ name: stack.StackName!, status: stack.StackStatus!, tags });
      // The newest deploy wins: a later ExpiresAt on any stack extends the environment.
      const expiresAt = !env.expiresAt || (tags.ExpiresAt && tags.ExpiresAt > env.expiresAt) ? tags.ExpiresAt : env.expiresAt;
      bySuffix.set(tags.EnvironmentSuffix, { ...env, expiresAt });
    }
    token = page.NextToken;
  } while (token);
  return [...bySuffix.values()].sort((a, b) => a.suffix.localeCompare(b.suffix));
}

/**
 * Which environments the sweeper deletes, and why: past ExpiresAt, or (when the live branches are
 * known) built from a branch that no longer exists. Environments mid-operation are left alone.
 */
export function selectForDeletion(envs: readonly EphemeralEnvironment[], now: Date, liveBranches?: ReadonlySet<string>): Array<{ env: EphemeralEnvironment; reason: DeletionReason }> {
  const selected: Array<{ env: EphemeralEnvironment; reason: DeletionReason }> = [];
  for (const env of envs) {
    if (env.stacks.some((s) => s.status.endsWith('_IN_PROGRESS'))) continue;
    if (env.expiresAt && Date.parse(env.expiresAt) <= now.getTime()) selected.push({ env, reason: 'expired' });
    else if (liveBranches && env.branch && !liveBranches.has(env.branch)) selected.push({ env, reason: 'branch-gone' });
  }
  return selected;
}

/** Throws when creating `suffix` would exceed the cap; updating an existing environment is always allowed. */
export function enforceCap(envs: readonly EphemeralEnvironment[], suffix: string, max: number): void {
  if (envs.some((e) => e.suffix === suffix)) return;
  if (envs.length >= max) {
    throw new CapReachedError(`ephemeral environment cap reached: ${envs.length} of ${max} in use (${envs.map((e) => e.suffix).join(', ')}); merge or close a branch, or run npm run destroy -- --suffix <name>`);
  }
}

/** Deletes an environment's stacks in reverse dependency order, waiting for each. */
export async function destroyEnvironment(cfn: CloudFormationClient, project: string, env: EphemeralEnvironment, log: (line: string) => void = console.log, maxWaitSeconds = 3600): Promise<void> {
  for (const stack of env.stacks) {
    if (stack.tags.Ephemeral !== 'true' || stack.tags.Profile === 'production') {
      throw new NotEphemeralError(`refusing to destroy ${stack.name}: it is not tagged Ephemeral=true with a non-production profile`);
    }
  }
  for (const layer of LAYERS_REVERSED) {
    const name = `${project}-${layer}-${env.suffix}`;
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
        if (attempt >= 2) throw new Error(`could not delete ${name}: ${(error as Error).message}`);
      }
    }
  }
}

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await new Promise<string>((resolve) => rl.question(`${question} [y/N] `, resolve));
  rl.close();
  return /^y(es)?$/i.test(answer.trim());
}

export async function main(argv: string[], cfn = new CloudFormationClient({ region: process.env.AWS_REGION ?? 'eu-west-2' }), now = new Date()): Promise<number> {
  const [command] = argv;
  const project = flag(argv, 'project') ?? process.env.PROJECT ?? 'hipaa-fhir';
  const yes = argv.includes('--yes');
  const branch = flag(argv, 'branch');
  const suffixArg = flag(argv, 'suffix') ?? (branch ? suffixFromBranch(branch) : undefined);
  if (command === 'suffix') {
    if (!branch) throw new Error('--branch is required');
    console.log(suffixFromBranch(branch));
    return 0;
  }
  const envs = await listEphemeralEnvironments(cfn, project);
  switch (command) {
    case 'list':
      for (const e of envs) console.log(`${e.suffix}\tbranch=${e.branch ?? '-'}\texpires=${e.expiresAt ?? '-'}\t${e.stacks.map((s) => `${s.name}:${s.status}`).join(' ')}`);
      console.log(`${envs.length} ephemeral environment(s)`);
      return 0;
    case 'check-cap': {
      const suffix = suffixArg;
      if (!suffix) throw new Error('--suffix or --branch is required');
      enforceCap(envs, suffix, Number(flag(argv, 'max') ?? process.env.MAX_EPHEMERAL_ENVIRONMENTS ?? 5));
      console.log(`cap ok: ${envs.length} in use`);
      return 0;
    }
    case 'destroy': {
      const suffix = suffixArg;
      if (!suffix) throw new Error('--suffix or --branch is required');
      const env = envs.find((e) => e.suffix === suffix);
      if (!env) {
        console.log(`no ephemeral environment "${suffix}": nothing to do`);
        return 0;
      }
      if (!yes && !(await confirm(`Destroy ${env.stacks.map((s) => s.name).join(', ')}?`))) {
        console.error('not confirmed: nothing destroyed (use --yes to skip the question)');
        return 1;
      }
      await destroyEnvironment(cfn, project, env);
      return 0;
    }
    case 'sweep': {
      const file = flag(argv, 'live-branches');
      const live = file ? new Set(readFileSync(file, 'utf8').split('\n').map((l) => l.trim().replace(/^refs\/heads\//, '')).filter(Boolean)) : undefined;
      const selected = selectForDeletion(envs, now, live);
      for (const { env, reason } of selected) console.log(`sweep: ${env.suffix} (${reason}; branch ${env.branch ?? '-'}, expires ${env.expiresAt ?? '-'})`);
      if (selected.length === 0) console.log(`sweep: nothing to delete among ${envs.length} environment(s)`);
      if (!yes) {
        console.log('dry run: add --yes to delete');
        return 0;
      }
      for (const { env } of selected) await destroyEnvironment(cfn, project, env);
      return 0;
    }
    default:
      throw new Error('usage: ephemeral.ts suffix --branch B | list | check-cap --suffix S | destroy (--suffix S | --branch B) [--yes] | sweep [--yes] [--live-branches FILE]');
  }
}

if (require.main === module) {
  // exitCode, not exit(): stdout may be a pipe that is still draining.
  const cfn = new CloudFormationClient({ region: process.env.AWS_REGION ?? 'eu-west-2' });
  main(process.argv.slice(2), cfn).then((code) => { process.exitCode = code; }, (error) => {
    console.error(`ephemeral: ${(error as Error).message}`);
    process.exitCode = 1;
  }).finally(() => cfn.destroy());
}
