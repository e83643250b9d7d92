/**
 * The reference app of the compliance register and the access-matrix tests: one stage per
 * configuration that changes which findings exist, plus the delivery tooling, in the account layout
 * of cdk.json (tooling 111111111111, non-production 222222222222, production 333333333333, sandbox
 * 444444444444).
 */
import type { App } from 'aws-cdk-lib';
import { parseEnvironmentConfig, parsePipelineConfig, parsePreviewConfig, PipelineConfig, PreviewConfig } from '../../lib/config';
import { suffixFromBranch, ToolingNames } from '../../lib/contract';
import { PipelineStack } from '../../lib/pipeline/pipeline-stack';
import { PreviewEnvironmentsStack } from '../../lib/pipeline/preview-environments-stack';
import { PreviewSandboxStack } from '../../lib/pipeline/preview-sandbox-stack';
import { SharedTrailStack } from '../../lib/stacks/shared-trail-stack';
import { PipelineAppStage } from '../../stages/pipeline-app-stage';
import { cdkJsonApp } from '../shared/cdk-app';

/**
 * The reference pipeline: a dev (development) and a prod (production) environment in the
 * three-account layout of cdk.json, or all in the tooling account with `sameAccount`.
 */
export function referencePipelineConfig(overrides: Record<string, unknown> = {}, options: { sameAccount?: boolean } = {}): PipelineConfig {
  const account = (id: string) => (options.sameAccount ? {} : { account: id });
  const environments = [
    parseEnvironmentConfig({ project: 'hipaa-fhir', environmentSuffix: 'dev', profile: 'development', ...account('222222222222') }),
    parseEnvironmentConfig({ project: 'hipaa-fhir', environmentSuffix: 'prod', profile: 'production', ...account('333333333333') }),
  ];
  return parsePipelineConfig(
    {
      repository: 'example-org/hipaa-fhir-pipeline',
      connectionArn: 'arn:aws:codeconnections:eu-west-2:111111111111:connection/00000000-0000-4000-8000-000000000000',
      ...overrides,
    },
    { project: 'hipaa-fhir', region: 'eu-west-2' },
    environments,
  );
}

/** The preview settings of the reference layout: a sandbox account of its own (444444444444). */
export function referencePreviewConfig(overrides: Record<string, unknown> = {}): PreviewConfig {
  return parsePreviewConfig({ account: '444444444444', bootstrapQualifier: 'branches', ...overrides }, 'hipaa-fhir');
}

/** The reference stage variants: each changes which findings exist. */
export const REFERENCE_VARIANTS: ReadonlyArray<readonly [string, Record<string, unknown>]> = [
  ['development', { profile: 'development' }],
  ['development-dedicated-trail', { profile: 'development', trailMode: 'dedicated' }],
  ['production', { profile: 'production' }],
];

/** The reference app: one stage per configuration variant, a preview, the shared trail and the delivery tooling. */
export function referenceApp(): App {
  const app = cdkJsonApp();
  for (const [id, overrides] of REFERENCE_VARIANTS) {
    const config = parseEnvironmentConfig({ project: 'hipaa-fhir', environmentSuffix: 'ref', ...overrides });
    new PipelineAppStage(app, id, { config });
  }
  // A preview environment: its network stack carries the deploy-time cap (EnvironmentCap).
  const branch = 'feature/reference';
  const preview = parseEnvironmentConfig({
    project: 'hipaa-fhir',
    environmentSuffix: suffixFromBranch(branch),
    branch,
    expiresAt: '2030-01-01T00:00:00Z',
  });
  new PipelineAppStage(app, 'preview', { config: preview, maxPreviews: referencePreviewConfig().maxEnvironments });
  new SharedTrailStack(app, 'SharedTrail', { naming: new ToolingNames('hipaa-fhir').sharedTrailNaming, env: { region: 'eu-west-2' } });
  const pipeline = referencePipelineConfig();
  new PipelineStack(app, 'Pipeline', { pipeline });
  const previews = referencePreviewConfig();
  new PreviewEnvironmentsStack(app, 'Previews', { pipeline, previews });
  new PreviewSandboxStack(app, 'PreviewSandbox', { pipeline, previews });
  return app;
}
