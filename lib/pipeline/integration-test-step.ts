import { readFileSync } from 'fs';
import * as path from 'path';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as iam from 'aws-cdk-lib/aws-iam';
import { CodeBuildStep, IFileSetProducer } from 'aws-cdk-lib/pipelines';
import { parse } from 'yaml';
import type { EnvironmentConfig } from '../config';

/** The one integration build definition, shared with the ephemeral-environment builds. */
export const BUILDSPEC_PATH = path.join(__dirname, '..', '..', 'buildspec-integ.yml');

export function loadIntegrationBuildSpec(file = BUILDSPEC_PATH): Record<string, unknown> {
  return parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

export type IntegrationSuite = 'integ' | 'smoke';

export interface IntegrationTestStepProps {
  /** The repository checkout. */
  readonly input: IFileSetProducer;
  /** The environment under test; its names scope every permission. */
  readonly environment: EnvironmentConfig;
  /** `integ` writes test records and verifies them in the database; `smoke` only reads. */
  readonly suite: IntegrationSuite;
  /** The account the environment is deployed to (the pipeline's, unless the environment names one). */
  readonly account: string;
}

/**
 * Runs buildspec-integ.yml against one deployed environment: writes cfn-outputs/flat-outputs.json
 * from its stacks, runs the suite, and publishes JUnit reports. Its role can read only this
 * environment's stacks, put records only on its stream, and run only its processor task.
 */
export class IntegrationTestStep extends CodeBuildStep {
  constructor(id: string, props: IntegrationTestStepProps) {
    const env = props.environment;
    const { naming, region, project, environmentSuffix: suffix } = env;
    const { account } = props;
    const arn = (service: string, resource: string) => `arn:aws:${service}:${region}:${account}:${resource}`;
    const statements = [
      new iam.PolicyStatement({ sid: 'ListStacks', actions: ['cloudformation:ListStacks'], resources: ['*'] }),
      new iam.PolicyStatement({ sid: 'ReadStageStacks', actions: ['cloudformation:DescribeStacks'], resources: (['network', 'data', 'audit', 'compute'] as const).map((layer) => arn('cloudformation', `stack/${naming.stackName(layer)}/*`)) }),
      new iam.PolicyStatement({ sid: 'DescribeStream', actions: ['kinesis:DescribeStreamSummary'], resources: [arn('kinesis', `stream/${naming.streamName}`)] }),
      new iam.PolicyStatement({ sid: 'ReadService', actions: ['ecs:DescribeServices'], resources: [arn('ecs', `service/${naming.resourceName('cluster')}/*`)] }),
    ];
    if (props.suite === 'integ') {
      statements.push(
        new iam.PolicyStatement({ sid: 'PutTestRecords', actions: ['kinesis:PutRecords', 'kinesis:PutRecord'], resources: [arn('kinesis', `stream/${naming.streamName}`)] }),
        new iam.PolicyStatement({
          sid: 'EncryptTestRecords',
          actions: ['kms:GenerateDataKey'],
          resources: [arn('kms', 'key/*')],
          conditions: { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': naming.kmsAlias('stream') } },
        }),
        new iam.PolicyStatement({
          sid: 'RunVerifyTask',
          actions: ['ecs:RunTask'],
          resources: [arn('ecs', `task-definition/${naming.resourceName('processor')}:*`)],
          conditions: { ArnEquals: { 'ecs:cluster': arn('ecs', `cluster/${naming.resourceName('cluster')}`) } },
        }),
        new iam.PolicyStatement({ sid: 'WatchVerifyTask', actions: ['ecs:DescribeTasks'], resources: [arn('ecs', `task/${naming.resourceName('cluster')}/*`)] }),
        new iam.PolicyStatement({
          sid: 'PassProcessorRoles',
          actions: ['iam:PassRole'],
          resources: [`arn:aws:iam::${account}:role/${naming.resourceName('processor-task')}`, `arn:aws:iam::${account}:role/${naming.resourceName('processor-exec')}`],
          conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
        }),
        new iam.PolicyStatement({ sid: 'ReadVerifyOutput', actions: ['logs:GetLogEvents'], resources: [arn('logs', `log-group:${naming.logGroupName('processor')}:log-stream:processor/processor/*`)] }),
      );
    }
    super(id, {
      input: props.input,
      commands: [],
      partialBuildSpec: codebuild.BuildSpec.fromObject(loadIntegrationBuildSpec()),
      env: { ENVIRONMENT_SUFFIX: suffix, PROJECT: project, INTEG_SUITE: props.suite },
      rolePolicyStatements: statements,
      projectName: naming.resourceName(props.suite === 'integ' ? 'integ-test' : 'smoke-test'),
    });
  }
}
