import { projectProblem, suffixFromBranch, ToolingNames } from '../contract';
import { accountLayoutProblem, resolveAccounts } from './account-layout';
import { PERSONAL_OVERRIDE_KEYS, validateContext } from './context';
import { EnvironmentConfig, resolveEnvironment } from './environment-config';
import { pipelineConfig, PipelineConfig } from './pipeline-config';
import type { PreviewConfig } from './preview-config';
import { Problems } from './problems';

/** What the process environment may contribute (the CDK CLI's defaults from the caller's profile). */
export interface AppEnvironment {
  readonly CDK_DEFAULT_REGION?: string;
  readonly CDK_DEFAULT_ACCOUNT?: string;
}

/** The account-wide shared trail of the environments in `shared` trail mode. */
export interface SharedTrailPlan {
  readonly project: string;
  readonly account?: string;
  readonly region: string;
}

/** What one synth builds, fully validated. bin/app.ts turns it into stacks and nothing else. */
export type AppPlan =
  /** The delivery pipeline (with every configured environment as a stage) and the preview tooling. */
  | {
      readonly mode: 'delivery';
      readonly pipeline: PipelineConfig;
      readonly previews: PreviewConfig;
      readonly sharedTrail?: SharedTrailPlan;
      /** The sandbox account's shared trail (previews are always `shared`), unless `sharedTrail` is that trail. */
      readonly sandboxTrail?: SharedTrailPlan;
    }
  /** One branch's preview environment (`-c branch=<name>`), in the sandbox account through its own bootstrap. */
  | {
      readonly mode: 'preview';
      readonly environment: EnvironmentConfig;
      readonly previews: PreviewConfig;
      /** The preview integration build its post-deploy role trusts (when a pipeline is configured). */
      readonly postDeployTrustedRoleArn?: string;
      readonly sharedTrail?: SharedTrailPlan;
    }
  /** One personal environment (`-c environmentSuffix=<name>`). */
  | { readonly mode: 'personal'; readonly environments: readonly EnvironmentConfig[]; readonly sharedTrail?: SharedTrailPlan }
  /** No pipeline configured: every environment of cdk.json as a plain stage. */
  | { readonly mode: 'environments'; readonly environments: readonly EnvironmentConfig[]; readonly sharedTrail?: SharedTrailPlan };

/** The environments a plan deploys as stages. */
export function plannedEnvironments(plan: AppPlan): readonly EnvironmentConfig[] {
  switch (plan.mode) {
    case 'delivery':
      return plan.pipeline.environments;
    case 'preview':
      return [plan.environment];
    default:
      return plan.environments;
  }
}

/**
 * Everything `cdk synth` decides, from the CDK context, the CLI's default account and region, and the
 * time (a preview's ExpiresAt). Pure: no construct, no look-up, no clock or environment of its own.
 * Throws one ConfigError listing every problem of the configuration, one line each.
 */
export function resolveApp(rawContext: Readonly<Record<string, unknown>>, env: AppEnvironment, now: Date): AppPlan {
  // The CLI's defaults count as if written in the context, so the schema checks them too.
  const context = validateContext({
    ...rawContext,
    region: rawContext.region ?? env.CDK_DEFAULT_REGION,
    account: rawContext.account ?? env.CDK_DEFAULT_ACCOUNT,
  });
  const problems = new Problems();
  const { project, region, account, branch, environmentSuffix } = context;
  const projectIssue = projectProblem(project);
  if (projectIssue) {
    problems.invalid('project', project, projectIssue);
    problems.throwIfAny();
  }
  const { previews } = context;
  const declared = context.environments ?? {};
  const base = { project, region, account };

  // Every configured environment, whatever this synth builds: the account layout is checked against them all.
  const longLived = Object.entries(declared).map(([suffix, entry]) =>
    resolveEnvironment({ ...base, environmentSuffix: suffix, entry, pathOf: (key) => `environments.${suffix}.${key}` }, problems),
  );
  let selected: (EnvironmentConfig | undefined)[];
  if (branch !== undefined) {
    // TTL counts from the last deploy: every push to the branch moves ExpiresAt forward.
    const expiresAt = new Date(now.getTime() + previews.ttlHours * 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    // Preview environments deploy into the sandbox account only; each database gets an RDS-managed master password.
    const entry = { account: previews.account, profile: 'development' as const };
    const input = { ...base, environmentSuffix: suffixFromBranch(branch), entry, preview: { branch, expiresAt } };
    // Stryker disable next-line ArrowFunction,StringLiteral: unreachable, no rule of checkEnvironment can fail for the preview's fixed entry and the schema's defaults
    selected = [resolveEnvironment({ ...input, pathOf: (key) => `previews.${key}` }, problems)];
  } else if (environmentSuffix !== undefined) {
    // A developer's own environment: the development profile unless -c profile=... says otherwise.
    const overrides = Object.fromEntries(
      PERSONAL_OVERRIDE_KEYS.filter((key) => context[key] !== undefined).map((key) => [key, context[key]]),
    );
    const entry = { ...declared[environmentSuffix], ...overrides };
    const pathOf = (key: string) => (key in overrides ? key : `environments.${environmentSuffix}.${key}`);
    selected = [resolveEnvironment({ ...base, environmentSuffix, entry, pathOf }, problems)];
  } else {
    selected = longLived;
  }

  const resolved = (configs: (EnvironmentConfig | undefined)[]) => configs.filter((c): c is EnvironmentConfig => c !== undefined);
  const pipeline = context.pipeline
    ? // Stryker disable next-line ConditionalExpression,EqualityOperator: the pipeline's environments are read in delivery mode only, where selected is longLived
      pipelineConfig(context.pipeline, base, resolved(longLived.length > 0 ? longLived : selected), problems)
    : undefined;
  if (pipeline && problems.count === 0) {
    const layout = accountLayoutProblem(resolveAccounts(pipeline.account, resolved(longLived), previews), resolved(longLived));
    if (layout) problems.add(layout);
  }
  problems.throwIfAny();

  const configs = selected as EnvironmentConfig[];
  const shared = configs.find((c) => c.audit.trailMode === 'shared');
  const sharedTrail = shared ? { project: shared.project, account: shared.account, region: shared.region } : undefined;
  if (branch !== undefined) {
    // The preview's post-deploy role trusts the preview integration build of the tooling account.
    const postDeployTrustedRoleArn = pipeline
      ? `arn:aws:iam::${pipeline.account}:role/${new ToolingNames(pipeline.project).previewBuildRoleNames.integ}`
      : undefined;
    return { mode: 'preview', environment: configs[0], previews, postDeployTrustedRoleArn, sharedTrail };
  }
  if (environmentSuffix !== undefined) return { mode: 'personal', environments: configs, sharedTrail };
  if (pipeline) {
    // Previews use the development profile (a shared trail) in the sandbox account: that account needs its own.
    const sandbox = { project: pipeline.project, account: previews.account ?? pipeline.account, region: pipeline.region };
    const same = sharedTrail && sharedTrail.account === sandbox.account && sharedTrail.region === sandbox.region;
    return { mode: 'delivery', pipeline, previews, sharedTrail, sandboxTrail: same ? undefined : sandbox };
  }
  return { mode: 'environments', environments: configs, sharedTrail };
}
