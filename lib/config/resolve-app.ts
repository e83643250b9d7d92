import { ConfigError, PREVIEW_SUFFIX_PREFIX, suffixFromBranch, ToolingNames } from '../contract';
import { checkAccountLayout, resolveAccounts } from './account-layout';
import { PERSONAL_OVERRIDE_KEYS, RawContext, validateContext } from './context';
import { EnvironmentConfig, parseEnvironmentConfig, RawEnvironmentConfig } from './environment-config';
import { parsePipelineConfig, PipelineConfig } from './pipeline-config';
import { parsePreviewConfig, PreviewConfig } from './preview-config';

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

function objectAt(context: RawContext & Record<string, unknown>, key: 'pipeline' | 'previews' | 'environments'): Record<string, unknown> {
  // validateContext has parsed JSON given on the command line and checked the shape.
  return (context[key] as Record<string, unknown> | undefined) ?? {};
}

/**
 * Everything `cdk synth` decides, from the CDK context, the CLI's default account and region, and the
 * time (a preview's ExpiresAt). Pure: no construct, no look-up, no clock or environment of its own.
 * Throws a one-line ConfigError for any configuration that cannot be deployed as written.
 */
export function resolveApp(rawContext: Readonly<Record<string, unknown>>, env: AppEnvironment, now: Date): AppPlan {
  // The whole context against lib/config/cdk-context.schema.json: unknown keys, dotted -c overrides, empty environments.
  const context = validateContext(rawContext);
  const project = context.project;
  const region = context.region ?? env.CDK_DEFAULT_REGION;
  const account = context.account ?? env.CDK_DEFAULT_ACCOUNT;
  const environments = objectAt(context, 'environments');
  const { branch, environmentSuffix } = context;
  if (branch !== undefined && branch.trim() === '') throw new ConfigError('branch must be a git branch name');
  const previews = parsePreviewConfig(objectAt(context, 'previews'), typeof project === 'string' ? project : 'project');

  let raws: RawEnvironmentConfig[];
  if (branch !== undefined) {
    // TTL counts from the last deploy: every push to the branch moves ExpiresAt forward.
    const expiresAt = new Date(now.getTime() + previews.ttlHours * 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    // Preview environments deploy into the sandbox account only.
    raws = [
      {
        project,
        region,
        account: previews.account ?? account,
        profile: 'development',
        environmentSuffix: suffixFromBranch(branch),
        branch,
        expiresAt,
        databaseSecretName: previews.databaseSecretName,
        databaseSecretKeyArn: previews.databaseSecretKeyArn,
      },
    ];
  } else if (environmentSuffix !== undefined) {
    // A developer's own environment: the development profile unless -c profile=... says otherwise.
    const overrides = Object.fromEntries(
      Object.keys(PERSONAL_OVERRIDE_KEYS)
        .filter((key) => context[key] !== undefined)
        .map((key) => [key, context[key]]),
    );
    const declared = environments[environmentSuffix] as object | undefined;
    raws = [{ project, region, account, ...declared, ...overrides, environmentSuffix }];
  } else {
    raws = Object.entries(environments).map(([suffix, entry]) => ({
      project,
      region,
      account,
      ...(entry as object),
      environmentSuffix: suffix,
    }));
  }
  const configs = raws.map(parseEnvironmentConfig);

  const pipelineContext = objectAt(context, 'pipeline');
  // The layout is checked against every configured environment, whatever this synth builds.
  const longLived = Object.entries(environments).map(([suffix, entry]) =>
    parseEnvironmentConfig({ project, region, account, ...(entry as object), environmentSuffix: suffix }),
  );
  const pipeline =
    Object.keys(pipelineContext).length > 0
      ? parsePipelineConfig(
          pipelineContext,
          { project: configs[0].project, region: configs[0].region, account },
          longLived.length > 0 ? longLived : configs,
        )
      : undefined;
  if (pipeline) checkAccountLayout(resolveAccounts(pipeline.account, longLived, previews), longLived);

  const shared = configs.find((c) => c.audit.trailMode === 'shared');
  const sharedTrail = shared ? { project: shared.project, account: shared.account, region: shared.region } : undefined;
  if (branch !== undefined) {
    const environment = configs[0];
    if (!environment.environmentSuffix.startsWith(PREVIEW_SUFFIX_PREFIX))
      throw new Error(`preview suffix ${environment.environmentSuffix} lacks ${PREVIEW_SUFFIX_PREFIX}`);
    // The preview's post-deploy role trusts the preview integration build of the tooling account.
    const postDeployTrustedRoleArn = pipeline
      ? `arn:aws:iam::${pipeline.account}:role/${new ToolingNames(pipeline.project).previewBuildRoleNames.integ}`
      : undefined;
    return { mode: 'preview', environment, previews, postDeployTrustedRoleArn, sharedTrail };
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
