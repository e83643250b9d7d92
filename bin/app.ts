#!/usr/bin/env node
/**
 * The only file that reads CDK context and the process environment. It hands both to the pure
 * resolveApp() (lib/config) and builds the stacks of the plan it returns.
 *
 *   npx cdk synth --no-lookups                                the delivery pipeline (with every environment in cdk.json),
 *                                                             or, with no "pipeline" context, the environments as plain stages
 *   npx cdk synth --no-lookups -c environmentSuffix=alice     one personal environment (development profile)
 *   npx cdk synth --no-lookups -c branch=feature/ABC-1_labs   the preview environment of a branch (suffix from the branch, TTL-tagged)
 */
import { App } from 'aws-cdk-lib';
import { applyComplianceGate } from '../lib/compliance/compliance-gate';
import { AppPlan, resolveApp } from '../lib/config';
import { ConfigError, ToolingNames } from '../lib/contract';
import { PipelineStack } from '../lib/pipeline/pipeline-stack';
import { PreviewEnvironmentsStack } from '../lib/pipeline/preview-environments-stack';
import { PreviewSandboxStack } from '../lib/pipeline/preview-sandbox-stack';
import { SharedTrailStack } from '../lib/stacks/shared-trail-stack';
import { PipelineAppStage } from '../stages/pipeline-app-stage';

/** Builds the stacks of a plan into `app`; returns the environment stages it built. */
export function buildApp(app: App, plan: AppPlan): PipelineAppStage[] {
  let stages: PipelineAppStage[];
  switch (plan.mode) {
    case 'delivery':
      stages = new PipelineStack(app, 'Pipeline', { pipeline: plan.pipeline }).stages;
      new PreviewEnvironmentsStack(app, 'Previews', { pipeline: plan.pipeline, previews: plan.previews });
      new PreviewSandboxStack(app, 'PreviewSandbox', { pipeline: plan.pipeline, previews: plan.previews });
      break;
    case 'preview': {
      const { environment: config, previews } = plan;
      // The preview deploys through the sandbox's own bootstrap and checks the preview cap at deploy time.
      const postDeploy = plan.postDeployTrustedRoleArn
        ? { trustedRoleArn: plan.postDeployTrustedRoleArn, suite: 'integ' as const }
        : undefined;
      stages = [
        new PipelineAppStage(app, config.environmentSuffix, {
          config,
          postDeploy,
          bootstrapQualifier: previews.bootstrapQualifier,
          maxPreviews: previews.maxEnvironments,
        }),
      ];
      break;
    }
    default:
      stages = plan.environments.map((config) => new PipelineAppStage(app, config.environmentSuffix, { config }));
  }
  if (plan.sharedTrail) {
    const { project, account, region } = plan.sharedTrail;
    new SharedTrailStack(app, 'SharedTrail', { naming: new ToolingNames(project).sharedTrailNaming, env: { account, region } });
  }
  applyComplianceGate(app);
  return stages;
}

function main(): void {
  const app = new App();
  const { CDK_DEFAULT_REGION, CDK_DEFAULT_ACCOUNT } = process.env;
  const stages = buildApp(app, resolveApp(app.node.getAllContext(), { CDK_DEFAULT_REGION, CDK_DEFAULT_ACCOUNT }, new Date()));
  app.synth();
  // `cdk synth` lists only top-level stacks; say which stage stacks were built and checked.
  for (const stage of stages) {
    console.error(`stage ${stage.stageName} (${stage.config.profile}): ${stage.stackList.map((stack) => stack.stackName).join(', ')}`);
  }
}

if (require.main === module) {
  try {
    main();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // Every problem at once, one line each, so one edit of cdk.json can fix them all.
    for (const problem of error.problems) console.error(`Invalid configuration: ${problem}`);
    process.exit(1);
  }
}
