/**
 * The one build that changes preview environments (the `<project>-preview-operate` pipeline, QUEUED):
 * every deploy, destroy and sweep passes through it, one at a time in arrival order, so two of them
 * never act on one branch's stacks at once.
 *
 *   AWS_PROFILE=sandbox npx ts-node --transpile-only scripts/operations/preview-operate.ts deploy --branch feature/x --outcome /tmp/outcome.env
 *   AWS_PROFILE=sandbox npx ts-node --transpile-only scripts/operations/preview-operate.ts destroy --branch feature/x --outcome /tmp/outcome.env
 *   AWS_PROFILE=sandbox npx ts-node --transpile-only scripts/operations/preview-operate.ts sweep --outcome /tmp/outcome.env
 *
 * deploy: when the branch no longer exists (merged and deleted while the deploy waited in the queue),
 *   it destroys the environment instead; otherwise it checks the cap and runs `cdk deploy` (with the
 *   build's own credentials, not the sandbox profile).
 * destroy: deletes the branch's environment, if any.
 * sweep: deletes environments past ExpiresAt and those whose branch is gone. When the branches cannot
 *   be listed it still deletes the expired ones, then fails: a silent fallback to the TTL alone would
 *   leave environments of deleted branches running unnoticed.
 * Run from a full clone (CODEBUILD_CLONE_REF): `git ls-remote` uses the connection's credentials.
 * The outcome file (`ENVIRONMENT_SUFFIX=`, `PREVIEW_DEPLOYED=`) is what the build exports.
 */
import { execFile, spawn } from 'child_process';
import { writeFileSync } from 'fs';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { PREVIEW_NO_BRANCH, PREVIEW_SUFFIX_PREFIX, suffixFromBranch } from '../../lib/contract';
import { parseFlags, runCli, UsageError } from '../shared/cli';
import { destroyEnvironment, enforceCap, listPreviewEnvironments, previewCap, SDK_RETRY, selectForDeletion } from './preview';

export const OPERATIONS = ['deploy', 'destroy', 'sweep'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** The operate pipeline's BRANCH when no branch applies (a sweep). */
export const NO_BRANCH = PREVIEW_NO_BRANCH;

export const USAGE = `usage: preview-operate.ts <deploy|destroy|sweep> [--branch B] --outcome FILE [--project P] [--max N]
  deploy --branch B     deploy the branch's preview (or destroy it when the branch is gone)
  destroy --branch B    destroy the branch's preview, if any
  sweep                 destroy expired previews and those of deleted branches
  --outcome FILE        where to write ENVIRONMENT_SUFFIX= and PREVIEW_DEPLOYED= for the build to export
  --project P           project tag (default $PROJECT or hipaa-fhir)
  --max N               preview cap (default $MAX_PREVIEW_ENVIRONMENTS or 5)`;

/** The repository's branches could not be listed: the build must fail, visibly. */
export class BranchListError extends Error {}

export interface OperateRequest {
  readonly operation: Operation;
  readonly branch?: string;
  readonly project: string;
  readonly max: number;
}

export interface OperateOptions extends OperateRequest {
  readonly outcome: string;
}

export interface Outcome {
  /** The environment acted on (`none` for a sweep). */
  readonly environmentSuffix: string;
  /** True only when this run deployed the environment: the integration stage runs only then. */
  readonly deployed: boolean;
}

export interface OperateDeps {
  readonly cfn: CloudFormationClient;
  /** The repository's branch names; throws BranchListError when they cannot be listed. */
  readonly listBranches: () => Promise<ReadonlySet<string>>;
  /** `cdk deploy` of the branch's preview stage. */
  readonly deploy: (branch: string, suffix: string) => Promise<void>;
  readonly log: (line: string) => void;
  readonly now: Date;
}

/** Branch names from `git ls-remote --heads` output (`<sha>\trefs/heads/<name>` per line). */
export function parseLsRemote(stdout: string): Set<string> {
  const branches = new Set<string>();
  for (const line of stdout.split('\n')) {
    const ref = line.split('\t')[1]?.trim();
    if (ref?.startsWith('refs/heads/')) branches.add(ref.slice('refs/heads/'.length));
  }
  return branches;
}

export async function operate(request: OperateRequest, deps: OperateDeps): Promise<Outcome> {
  const { cfn, log } = deps;
  if (request.operation === 'sweep') {
    let live: ReadonlySet<string> | undefined;
    let failure: Error | undefined;
    try {
      live = await deps.listBranches();
    } catch (error) {
      failure = error as Error;
      log(`sweep: could not list branches (${failure.message}): deleting expired environments only`);
    }
    const envs = await listPreviewEnvironments(cfn, request.project);
    const selected = selectForDeletion(envs, deps.now, live);
    for (const { env, reason } of selected) {
      log(`sweep: ${env.suffix} (${reason}; branch ${env.branch ?? '-'}, expires ${env.expiresAt ?? '-'})`);
      await destroyEnvironment(cfn, request.project, env, log);
    }
    if (selected.length === 0) log(`sweep: nothing to delete among ${envs.length} environment(s)`);
    if (failure) {
      throw new BranchListError(
        `swept by TTL only: the repository's branches could not be listed (${failure.message}); environments of deleted branches stay until their ExpiresAt`,
      );
    }
    return { environmentSuffix: 'none', deployed: false };
  }

  const branch = request.branch!;
  const suffix = suffixFromBranch(branch);
  const destroy = async (why: string) => {
    const env = (await listPreviewEnvironments(cfn, request.project)).find((e) => e.suffix === suffix);
    if (!env) log(`${why}: no preview environment ${suffix}, nothing to do`);
    else {
      log(`${why}: destroying ${suffix}`);
      await destroyEnvironment(cfn, request.project, env, log);
    }
    return { environmentSuffix: suffix, deployed: false };
  };
  if (request.operation === 'destroy') return destroy(`destroy ${branch}`);

  // A deploy that waited in the queue behind its branch's merge must not bring the environment back.
  const live = await deps.listBranches();
  if (!live.has(branch)) return destroy(`branch ${branch} no longer exists`);
  enforceCap(await listPreviewEnvironments(cfn, request.project), request.project, suffix, request.max);
  log(`deploy: branch ${branch} -> environment ${suffix}`);
  await deps.deploy(branch, suffix);
  return { environmentSuffix: suffix, deployed: true };
}

export function formatOutcome(outcome: Outcome): string {
  return `ENVIRONMENT_SUFFIX=${outcome.environmentSuffix}\nPREVIEW_DEPLOYED=${outcome.deployed}\n`;
}

/** Strict flags, checked before any AWS client exists. undefined means --help. */
export function parseOperateArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): OperateOptions | undefined {
  const parsed = parseFlags(
    argv,
    { branch: { type: 'string' }, outcome: { type: 'string' }, project: { type: 'string' }, max: { type: 'integer', min: 1 } },
    { positionals: true },
  );
  if (!parsed) return undefined;
  const { flags, positionals } = parsed;
  const [operation, ...extra] = positionals;
  if (operation === undefined) throw new UsageError('an operation is required');
  if (!OPERATIONS.includes(operation as Operation))
    throw new UsageError(`unknown operation "${operation}": use one of ${OPERATIONS.join(', ')}`);
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  if (!flags.outcome) throw new UsageError('--outcome is required');
  const branch = flags.branch === NO_BRANCH ? undefined : flags.branch;
  if (operation === 'sweep' && branch !== undefined)
    throw new UsageError('sweep acts on every preview environment: it does not take --branch');
  if (operation !== 'sweep' && !branch?.trim()) throw new UsageError(`${operation} needs --branch (the branch of the preview environment)`);
  if (branch !== undefined && !suffixFromBranch(branch).startsWith(PREVIEW_SUFFIX_PREFIX))
    throw new UsageError(`--branch "${branch}" does not make a preview suffix`);
  const max = previewCap(flags.max, env);
  return { operation: operation as Operation, branch, project: flags.project ?? env.PROJECT ?? 'hipaa-fhir', max, outcome: flags.outcome };
}

/** `git ls-remote --heads origin`, from the full clone the build runs in. */
export function gitBranches(run: typeof execFile = execFile): () => Promise<ReadonlySet<string>> {
  return () =>
    new Promise((resolve, reject) => {
      run('git', ['ls-remote', '--heads', 'origin'], { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
        if (error) reject(new BranchListError(`git ls-remote failed: ${String(stderr).trim().split('\n')[0] || error.message}`));
        else resolve(parseLsRemote(String(stdout)));
      });
    });
}

/** `cdk deploy` with the build's own role (it assumes the sandbox bootstrap roles), not the sandbox profile. */
function cdkDeploy(branch: string, suffix: string): Promise<void> {
  const env = { ...process.env };
  delete env.AWS_PROFILE;
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['cdk', 'deploy', '--no-lookups', '--require-approval', 'never', '-c', `branch=${branch}`, `${suffix}/*`], {
      stdio: 'inherit',
      env,
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`cdk deploy of ${suffix} exited with ${code}`))));
  });
}

export async function main(argv: string[], deps?: Partial<OperateDeps>): Promise<number> {
  const options = parseOperateArgs(argv);
  if (!options) {
    console.log(USAGE);
    return 0;
  }
  const cfn = deps?.cfn ?? new CloudFormationClient({ region: process.env.AWS_REGION ?? 'eu-west-2', ...SDK_RETRY });
  try {
    const outcome = await operate(options, {
      cfn,
      listBranches: deps?.listBranches ?? gitBranches(),
      deploy: deps?.deploy ?? cdkDeploy,
      log: deps?.log ?? console.log,
      now: deps?.now ?? new Date(),
    });
    writeFileSync(options.outcome, formatOutcome(outcome));
    return 0;
  } finally {
    if (!deps?.cfn) cfn.destroy();
  }
}

if (require.main === module) runCli('preview-operate', USAGE, () => main(process.argv.slice(2)));
