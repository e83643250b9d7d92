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
import { App, PERMISSIONS_BOUNDARY_CONTEXT_KEY } from 'aws-cdk-lib';
import { applyComplianceGate } from '../lib/compliance/compliance-gate';
import { AppPlan, plannedEnvironments, resolveApp, SharedTrailPlan } from '../lib/config';
import { InputError, ToolingNames } from '../lib/contract';
import { PipelineStack } from '../lib/pipeline/pipeline-stack';
import { PreviewEnvironmentsStack } from '../lib/pipeline/preview-environments-stack';
import { PreviewSandboxStack } from '../lib/pipeline/preview-sandbox-stack';
import { SharedTrailStack } from '../lib/stacks/shared-trail-stack';
import { PipelineAppStage } from '../stages/pipeline-app-stage';

function planProject(plan: AppPlan): string {
  return plan.mode === 'delivery' ? plan.pipeline.project : plannedEnvironments(plan)[0].project;
}

/** One account's shared trail: CloudTrail allows five per region, so every `shared` environment of the account uses this one. */
function sharedTrailStack(app: App, id: string, { project, account, region }: SharedTrailPlan): SharedTrailStack {
  return new SharedTrailStack(app, id, { naming: new ToolingNames(project).sharedTrailNaming, env: { account, region } });
}

/** Builds the stacks of a plan into `app`; returns the environment stages it built. */
export function buildApp(app: App, plan: AppPlan): PipelineAppStage[] {
  // Every role the stacks create carries the account's permissions boundary (CDK's documented context key,
  // https://docs.aws.amazon.com/cdk/v2/guide/customize-permissions-boundaries.html); `npm run bootstrap:policy`
  // writes that policy, and the execution policy lets CloudFormation create roles only with it attached.
  app.node.setContext(PERMISSIONS_BOUNDARY_CONTEXT_KEY, { name: new ToolingNames(planProject(plan)).permissionsBoundaryName });
  let stages: PipelineAppStage[];
  switch (plan.mode) {
    case 'delivery':
      stages = new PipelineStack(app, 'Pipeline', { pipeline: plan.pipeline }).stages;
      new PreviewEnvironmentsStack(app, 'Previews', { pipeline: plan.pipeline, previews: plan.previews });
      new PreviewSandboxStack(app, 'PreviewSandbox', { pipeline: plan.pipeline, previews: plan.previews });
      if (plan.sandboxTrail) sharedTrailStack(app, 'PreviewSharedTrail', plan.sandboxTrail);
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
  if (plan.sharedTrail) sharedTrailStack(app, 'SharedTrail', plan.sharedTrail);
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
    // A bug keeps its stack trace; bad input is one line per problem, so one edit of cdk.json can fix them all.
    if (!(error instanceof InputError)) throw error;
    for (const problem of error.problems) console.error(`Invalid configuration: ${problem}`);
    process.exit(error.exitCode);
  }
}
