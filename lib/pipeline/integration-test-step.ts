import { readFileSync } from 'fs';
import * as path from 'path';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as iam from 'aws-cdk-lib/aws-iam';
import { CodeBuildStep, IFileSetProducer } from 'aws-cdk-lib/pipelines';
import { parse } from 'yaml';
import type { EnvironmentConfig } from '../config';
import { postDeployStatements, PostDeploySuite, PostDeployTargets, targetsOf } from '../constructs/post-deploy-role';

/** The one integration build definition, shared with the preview-environment builds. */
export const BUILDSPEC_PATH = path.join(__dirname, '..', '..', 'buildspec-integ.yml');

export function loadIntegrationBuildSpec(file = BUILDSPEC_PATH): Record<string, unknown> {
  return parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

export type IntegrationSuite = PostDeploySuite;
export type IntegrationTargets = PostDeployTargets;
/** Kept for callers of the earlier names; the statements now live on the stage's PostDeployRole. */
export { postDeployStatements as integrationTestStatements, targetsOf };

export interface IntegrationTestStepProps {
  /** The repository checkout. */
  readonly input: IFileSetProducer;
  /** The environment under test. */
  readonly environment: EnvironmentConfig;
  /** `integ` writes test records and verifies them in the database; `smoke` only reads. */
  readonly suite: IntegrationSuite;
  /** The step's CodeBuild role in the pipeline account (named, so the stage's role can trust exactly it). */
  readonly role: iam.IRole;
  /** The stage's PostDeployRole, assumed by buildspec-integ.yml for every AWS call. */
  readonly postDeployRoleArn: string;
  /** Turn on termination protection of the environment's stacks (production). @default false */
  readonly protectStacks?: boolean;
}

/**
 * Runs buildspec-integ.yml against one deployed environment: assumes the stage's PostDeployRole in
 * the environment's account, writes cfn-outputs/flat-outputs.json from its stacks, runs the suite,
 * and publishes JUnit reports. The step's own role may only assume that one role.
 */
export class IntegrationTestStep extends CodeBuildStep {
  constructor(id: string, props: IntegrationTestStepProps) {
    const env = props.environment;
    super(id, {
      input: props.input,
      commands: [],
      partialBuildSpec: codebuild.BuildSpec.fromObject(loadIntegrationBuildSpec()),
      env: {
        ENVIRONMENT_SUFFIX: env.environmentSuffix,
        PROJECT: env.project,
        INTEG_SUITE: props.suite,
        POST_DEPLOY_ROLE_ARN: props.postDeployRoleArn,
        PROTECT_STACKS: props.protectStacks ? 'true' : 'false',
      },
      role: props.role,
      rolePolicyStatements: [
        new iam.PolicyStatement({ sid: 'AssumeStagePostDeployRole', actions: ['sts:AssumeRole'], resources: [props.postDeployRoleArn] }),
      ],
      projectName: env.naming.postDeployProjectName(props.suite),
    });
  }
}
