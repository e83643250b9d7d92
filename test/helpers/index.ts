import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { EnvironmentConfig, parseEnvironmentConfig, RawEnvironmentConfig } from '../../lib/config';
import { Layer, LAYERS } from '../../lib/contract';
import { PipelineAppStage } from '../../stages/pipeline-app-stage';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- cdk.json is JSON outside the TypeScript project
const cdkJson = require('../../cdk.json') as { context: Record<string, unknown> };

/** An App with the feature flags of cdk.json, exactly as `cdk synth` builds it. */
export function testApp(): App {
  return new App({ context: { ...cdkJson.context } });
}

/** The CDK context of cdk.json. */
export function cdkJsonContext(): Record<string, unknown> {
  return { ...cdkJson.context };
}

export function testConfig(overrides: RawEnvironmentConfig = {}): EnvironmentConfig {
  return parseEnvironmentConfig({ project: 'hipaa-fhir', environmentSuffix: 'dev', ...overrides });
}

export interface SynthesizedStage {
  readonly app: App;
  readonly stage: PipelineAppStage;
  readonly stacks: readonly Stack[];
  readonly templates: Readonly<Record<Layer, Template>>;
}

export function synthStage(overrides: RawEnvironmentConfig = {}): SynthesizedStage {
  const app = testApp();
  const config = testConfig(overrides);
  const stage = new PipelineAppStage(app, config.environmentSuffix, { config });
  return {
    app,
    stage,
    stacks: stage.stackList,
    templates: Object.fromEntries(LAYERS.map((layer) => [layer, Template.fromStack(stage.stacks[layer])])) as Record<Layer, Template>,
  };
}

/** All resources of a template, as [logicalId, resource] pairs. */
export function resourcesOf(template: Template): Array<[string, { Type: string; Properties?: Record<string, unknown>; DeletionPolicy?: string; UpdateReplacePolicy?: string }]> {
  return Object.entries(template.toJSON().Resources ?? {});
}
