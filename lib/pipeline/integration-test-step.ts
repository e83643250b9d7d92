import { readFileSync } from 'fs';
import * as path from 'path';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as iam from 'aws-cdk-lib/aws-iam';
import { CodeBuildStep, IFileSetProducer } from 'aws-cdk-lib/pipelines';
import { parse } from 'yaml';
import type { EnvironmentConfig, Naming } from '../config';

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

/** Names (or name patterns with `*`) of what an integration build may touch. */
export interface IntegrationTargets {
  readonly project: string;
  readonly region: string;
  readonly account: string;
  /** Stack names (patterns allowed). */
  readonly stacks: readonly string[];
  readonly stream: string;
  readonly streamKeyAlias: string;
  readonly cluster: string;
  readonly taskFamily: string;
  readonly taskRoles: readonly string[];
  readonly processorLogGroup: string;
}

/**
 * What an integration build may touch, from the names the stacks use: one environment's names,
 * or (with Naming.anySuffix) patterns matching every per-branch environment.
 */
export function targetsOf(naming: Naming, region: string, account: string): IntegrationTargets {
  return {
    project: naming.project,
    region,
    account,
    stacks: (['network', 'data', 'audit', 'compute'] as const).map((layer) => naming.stackName(layer)),
    stream: naming.streamName,
    streamKeyAlias: naming.streamKeyAlias,
    cluster: naming.clusterName,
    taskFamily: naming.processorFamily,
    taskRoles: [naming.processorRoleNames.task, naming.processorRoleNames.execution],
    processorLogGroup: naming.processorLogGroupName,
  };
}

/**
 * Least-privilege statements for buildspec-integ.yml: read the environment's stacks, and for the
 * `integ` suite put records on its stream, run its processor task once, and read that task's log.
 */
export function integrationTestStatements(t: IntegrationTargets, suite: IntegrationSuite): iam.PolicyStatement[] {
  const arn = (service: string, resource: string) => `arn:aws:${service}:${t.region}:${t.account}:${resource}`;
  const aliasCondition = t.streamKeyAlias.includes('*') ? 'ForAnyValue:StringLike' : 'ForAnyValue:StringEquals';
  const clusterCondition = t.cluster.includes('*') ? 'ArnLike' : 'ArnEquals';
  const statements = [
    new iam.PolicyStatement({ sid: 'ListStacks', actions: ['cloudformation:ListStacks'], resources: ['*'] }),
    new iam.PolicyStatement({ sid: 'ReadStageStacks', actions: ['cloudformation:DescribeStacks'], resources: t.stacks.map((name) => arn('cloudformation', `stack/${name}/*`)) }),
    new iam.PolicyStatement({ sid: 'DescribeStream', actions: ['kinesis:DescribeStreamSummary'], resources: [arn('kinesis', `stream/${t.stream}`)] }),
    new iam.PolicyStatement({ sid: 'ReadService', actions: ['ecs:DescribeServices'], resources: [arn('ecs', `service/${t.cluster}/*`)] }),
  ];
  if (suite === 'integ') {
    statements.push(
      new iam.PolicyStatement({ sid: 'PutTestRecords', actions: ['kinesis:PutRecords', 'kinesis:PutRecord'], resources: [arn('kinesis', `stream/${t.stream}`)] }),
      new iam.PolicyStatement({
        sid: 'EncryptTestRecords',
        actions: ['kms:GenerateDataKey'],
        resources: [arn('kms', 'key/*')],
        conditions: { [aliasCondition]: { 'kms:ResourceAliases': t.streamKeyAlias } },
      }),
      new iam.PolicyStatement({
        sid: 'RunVerifyTask',
        actions: ['ecs:RunTask'],
        resources: [arn('ecs', `task-definition/${t.taskFamily}:*`)],
        conditions: { [clusterCondition]: { 'ecs:cluster': arn('ecs', `cluster/${t.cluster}`) } },
      }),
      new iam.PolicyStatement({ sid: 'WatchVerifyTask', actions: ['ecs:DescribeTasks'], resources: [arn('ecs', `task/${t.cluster}/*`)] }),
      new iam.PolicyStatement({
        sid: 'PassProcessorRoles',
        actions: ['iam:PassRole'],
        resources: t.taskRoles.map((name) => `arn:aws:iam::${t.account}:role/${name}`),
        conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      }),
      new iam.PolicyStatement({ sid: 'ReadVerifyOutput', actions: ['logs:GetLogEvents'], resources: [arn('logs', `log-group:${t.processorLogGroup}:log-stream:processor/processor/*`)] }),
    );
  }
  return statements;
}

/**
 * Runs buildspec-integ.yml against one deployed environment: writes cfn-outputs/flat-outputs.json
 * from its stacks, runs the suite, and publishes JUnit reports. Its role can read only this
 * environment's stacks, put records only on its stream, and run only its processor task.
 */
export class IntegrationTestStep extends CodeBuildStep {
  constructor(id: string, props: IntegrationTestStepProps) {
    const env = props.environment;
    super(id, {
      input: props.input,
      commands: [],
      partialBuildSpec: codebuild.BuildSpec.fromObject(loadIntegrationBuildSpec()),
      env: { ENVIRONMENT_SUFFIX: env.environmentSuffix, PROJECT: env.project, INTEG_SUITE: props.suite },
      rolePolicyStatements: integrationTestStatements(targetsOf(env.naming, env.region, props.account), props.suite),
      projectName: env.naming.resourceName(props.suite === 'integ' ? 'integ-test' : 'smoke-test'),
    });
  }
}
