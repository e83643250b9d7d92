#!/usr/bin/env node
/**
 * The only file that reads CDK context and the process environment. Everything below receives
 * a typed, validated EnvironmentConfig.
 *
 *   npx cdk synth --no-lookups                                   the pipeline (with every environment in cdk.json)
 *                                                                or, with no "pipeline" context, the environments as plain stages
 *   npx cdk synth --no-lookups -c environmentSuffix=alice        one ephemeral sandbox stage
 *   npx cdk synth --no-lookups -c branch=feature/ABC-1_labs      one per-branch environment (suffix from the branch, TTL-tagged)
 */
import { App } from 'aws-cdk-lib';
import { applyComplianceGate } from '../lib/compliance/compliance-gate';
import { checkAccountLayout, ConfigError, Naming, parseEnvironmentConfig, parseEphemeralConfig, parsePipelineConfig, RawEnvironmentConfig, resolveAccounts, SANDBOX_OVERRIDE_KEYS, SHARED_SUFFIX, suffixFromBranch, validateContext } from '../lib/config';
import { EphemeralEnvironmentsStack, ephemeralBuildRoleNames } from '../lib/pipeline/ephemeral-environments-stack';
import { EphemeralSandboxStack } from '../lib/pipeline/ephemeral-sandbox-stack';
import { PipelineStack } from '../lib/pipeline/pipeline-stack';
import { SharedTrailStack } from '../lib/stacks/shared-trail-stack';
import { PipelineAppStage } from '../stages/pipeline-app-stage';

function objectContext(app: App, key: string): Record<string, unknown> {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined) return {};
  if (typeof value === 'string') {
    try {
      return JSON.parse(value) as Record<string, unknown>;
    } catch {
      throw new ConfigError(`context "${key}" is not valid JSON`);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(`context "${key}" must be an object`);
  return value as Record<string, unknown>;
}

function main(): void {
  const app = new App();
  // The whole context against lib/config/cdk-context.schema.json: unknown keys, dotted -c overrides, empty environments.
  const context = validateContext(app.node.getAllContext());
  const project = app.node.tryGetContext('project') as unknown;
  const region = (app.node.tryGetContext('region') as unknown) ?? process.env.CDK_DEFAULT_REGION;
  const account = (app.node.tryGetContext('account') as unknown) ?? process.env.CDK_DEFAULT_ACCOUNT;
  const environments = objectContext(app, 'environments');
  const branch = app.node.tryGetContext('branch') as unknown;
  if (branch !== undefined && app.node.tryGetContext('environmentSuffix') !== undefined) {
    throw new ConfigError('use either -c branch=<name> or -c environmentSuffix=<name>, not both');
  }
  if (branch !== undefined && (typeof branch !== 'string' || branch.trim() === '')) throw new ConfigError('branch must be a git branch name');
  const ephemeral = parseEphemeralConfig(objectContext(app, 'ephemeral'), typeof project === 'string' ? project : 'project');
  const sandboxSuffix = branch !== undefined ? suffixFromBranch(branch as string) : app.node.tryGetContext('environmentSuffix') as unknown;

  const raws: RawEnvironmentConfig[] = [];
  if (branch !== undefined) {
    // TTL counts from the last deploy: every push to the branch moves ExpiresAt forward.
    const expiresAt = new Date(Date.now() + ephemeral.ttlHours * 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    // Per-branch environments deploy into the sandbox account only.
    raws.push({
      project, region, account: ephemeral.account ?? account, profile: 'ephemeral', environmentSuffix: sandboxSuffix, branch, expiresAt,
      databaseSecretName: ephemeral.databaseSecretName, databaseSecretKeyArn: ephemeral.databaseSecretKeyArn,
    });
  } else if (sandboxSuffix !== undefined) {
    // A developer's own stage: the ephemeral profile unless -c profile=... says otherwise.
    const overrides: Record<string, unknown> = {};
    for (const key of Object.keys(SANDBOX_OVERRIDE_KEYS)) {
      const value = context[key];
      if (value !== undefined) overrides[key] = value;
    }
    const declared = typeof sandboxSuffix === 'string' ? environments[sandboxSuffix] : undefined;
    raws.push({ project, region, account, ...(declared as object | undefined), ...overrides, environmentSuffix: sandboxSuffix });
  } else {
    for (const [suffix, entry] of Object.entries(environments)) {
      if (typeof entry !== 'object' || entry === null) throw new ConfigError(`environments.${suffix} must be an object`);
      raws.push({ project, region, account, ...entry, environmentSuffix: suffix });
    }
  }

  const configs = raws.map(parseEnvironmentConfig);
  const pipelineContext = objectContext(app, 'pipeline');
  const hasPipeline = Object.keys(pipelineContext).length > 0;
  // The layout is checked against every configured environment, whatever this synth builds.
  const longLived = Object.entries(environments).map(([suffix, entry]) => parseEnvironmentConfig({ project, region, account, ...(entry as object), environmentSuffix: suffix }));
  const pipeline = hasPipeline
    ? parsePipelineConfig(pipelineContext, { project: configs[0].project, region: configs[0].region, account: typeof account === 'string' ? account : undefined }, longLived.length > 0 ? longLived : configs)
    : undefined;
  if (pipeline) checkAccountLayout(resolveAccounts(pipeline.account, longLived, ephemeral), longLived);
  let stages: PipelineAppStage[];
  if (pipeline && sandboxSuffix === undefined) {
    stages = new PipelineStack(app, 'Pipeline', { pipeline }).stages;
    new EphemeralEnvironmentsStack(app, 'Ephemeral', { pipeline, ephemeral });
    new EphemeralSandboxStack(app, 'EphemeralSandbox', { pipeline, ephemeral });
  } else if (branch !== undefined) {
    // The per-branch stage deploys through the sandbox's own bootstrap, and its post-deploy role
    // trusts the per-branch integration build of the tooling account.
    const postDeploy = pipeline ? { trustedRoleArn: `arn:aws:iam::${pipeline.account}:role/${ephemeralBuildRoleNames(pipeline.project).integ}`, suite: 'integ' as const } : undefined;
    stages = configs.map((config) => new PipelineAppStage(app, config.environmentSuffix, { config, postDeploy, bootstrapQualifier: ephemeral.bootstrapQualifier, maxEnvironments: ephemeral.maxEnvironments }));
  } else {
    stages = configs.map((config) => new PipelineAppStage(app, config.environmentSuffix, { config }));
  }
  if (configs.some((c) => c.audit.trailMode === 'shared')) {
    const first = configs[0];
    new SharedTrailStack(app, 'SharedTrail', {
      naming: new Naming(first.project, SHARED_SUFFIX),
      env: { account: first.account, region: first.region },
    });
  }

  applyComplianceGate(app);
  app.synth();
  // `cdk synth` lists only top-level stacks; say which stage stacks were built and checked.
  for (const stage of stages) {
    const names = [stage.network, stage.data, stage.audit, stage.compute].map((stack) => stack.stackName).join(', ');
    console.error(`stage ${stage.stageName} (${stage.config.profile}): ${names}`);
  }
}

try {
  main();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`Invalid configuration: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
