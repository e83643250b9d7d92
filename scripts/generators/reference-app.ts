/**
 * The reference app of the compliance register and the access-matrix tests: one stage per
 * configuration that changes which findings exist, plus the delivery tooling, in the account layout
 * of cdk.json (tooling 111111111111, non-production 222222222222, production 333333333333, sandbox
 * 444444444444).
 */
import type { App } from 'aws-cdk-lib';
import {
  AppPlan,
  EnvironmentConfig,
  PipelineConfig,
  plannedEnvironments,
  PreviewConfig,
  RawEnvironment,
  resolveApp,
} from '../../lib/config';
import { ToolingNames } from '../../lib/contract';
import { PipelineStack } from '../../lib/pipeline/pipeline-stack';
import { PreviewEnvironmentsStack } from '../../lib/pipeline/preview-environments-stack';
import { PreviewSandboxStack } from '../../lib/pipeline/preview-sandbox-stack';
import { SharedTrailStack } from '../../lib/stacks/shared-trail-stack';
import { PipelineAppStage } from '../../stages/pipeline-app-stage';
import { cdkJsonApp } from '../shared/cdk-app';

/** When the reference configurations are resolved (a preview's ExpiresAt follows from it): fixed, so the register is stable. */
const REFERENCE_NOW = new Date('2026-11-28T09:00:00.000Z');

/** One environment as `cdk synth` resolves it from a cdk.json that holds only it (or the preview of `branch`). */
function referenceConfig(suffix: string, entry: RawEnvironment | { branch: string }): EnvironmentConfig {
  const context =
    'branch' in entry ? { project: 'hipaa-fhir', branch: entry.branch } : { project: 'hipaa-fhir', environments: { [suffix]: entry } };
  return plannedEnvironments(resolveApp(context, {}, REFERENCE_NOW))[0];
}

/**
 * The delivery plan of the reference layout, as `cdk synth` resolves it from cdk.json: a dev (development)
 * and a prod (production) environment in the three-account layout of cdk.json, or both in the tooling
 * account with `sameAccount`, and previews in their own sandbox account.
 */
function referencePlan(
  pipeline: Record<string, unknown>,
  previews: Record<string, unknown>,
  options: { sameAccount?: boolean } = {},
): Extract<AppPlan, { mode: 'delivery' }> {
  const account = (id: string) => (options.sameAccount ? {} : { account: id });
  const plan = resolveApp(
    {
      project: 'hipaa-fhir',
      region: 'eu-west-2',
      pipeline: {
        repository: 'example-org/hipaa-fhir-pipeline',
        connectionArn: 'arn:aws:codeconnections:eu-west-2:111111111111:connection/00000000-0000-4000-8000-000000000000',
        ...pipeline,
      },
      previews: { account: '444444444444', bootstrapQualifier: 'branches', ...previews },
      environments: {
        dev: { profile: 'development', ...account('222222222222') },
        prod: { profile: 'production', ...account('333333333333') },
      },
    },
    {},
    REFERENCE_NOW,
  );
  if (plan.mode !== 'delivery') throw new Error(`the reference layout resolved to a ${plan.mode} plan`);
  return plan;
}

/** The reference pipeline (see referencePlan), with these `pipeline` settings on top. */
export function referencePipelineConfig(overrides: Record<string, unknown> = {}, options: { sameAccount?: boolean } = {}): PipelineConfig {
  return referencePlan(overrides, {}, options).pipeline;
}

/** The preview settings of the reference layout: a sandbox account of its own (444444444444), with these `previews` settings on top. */
export function referencePreviewConfig(overrides: Record<string, unknown> = {}): PreviewConfig {
  return referencePlan({}, overrides).previews;
}

/** The reference stage variants: each changes which findings exist. */
export const REFERENCE_VARIANTS: ReadonlyArray<readonly [string, RawEnvironment]> = [
  ['development', { profile: 'development' }],
  ['development-dedicated-trail', { profile: 'development', trailMode: 'dedicated' }],
  ['production', { profile: 'production' }],
];

/** The reference app: one stage per configuration variant, a preview, the shared trail and the delivery tooling. */
export function referenceApp(): App {
  const app = cdkJsonApp();
  for (const [id, overrides] of REFERENCE_VARIANTS) {
    const config = referenceConfig('ref', overrides);
    new PipelineAppStage(app, id, { config });
  }
  // A preview environment: its network stack carries the deploy-time cap (EnvironmentCap).
  const branch = 'feature/reference';
  const preview = referenceConfig('preview', { branch });
  new PipelineAppStage(app, 'preview', { config: preview, maxPreviews: referencePreviewConfig().maxEnvironments });
  new SharedTrailStack(app, 'SharedTrail', { naming: new ToolingNames('hipaa-fhir').sharedTrailNaming, env: { region: 'eu-west-2' } });
  const pipeline = referencePipelineConfig();
  new PipelineStack(app, 'Pipeline', { pipeline });
  const previews = referencePreviewConfig();
  new PreviewEnvironmentsStack(app, 'Previews', { pipeline, previews });
  new PreviewSandboxStack(app, 'PreviewSandbox', { pipeline, previews });
  return app;
}
