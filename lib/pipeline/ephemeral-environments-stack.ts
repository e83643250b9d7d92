import { CfnOutput, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { acknowledgePipelineFindings } from '../compliance/pipeline-findings';
import { EphemeralConfig, Naming, PipelineConfig } from '../config';
import { ArtifactBucket } from '../constructs/artifact-bucket';
import { EncryptedLogGroup } from '../constructs/encrypted-log-group';
import { EncryptionKey } from '../constructs/encryption-key';
import { integrationTestStatements, loadIntegrationBuildSpec, targetsOf } from './integration-test-step';

export interface EphemeralEnvironmentsStackProps extends StackProps {
  /** Repository, connection, account and region (shared with the delivery pipeline). */
  readonly pipeline: PipelineConfig;
  readonly ephemeral: EphemeralConfig;
}

const INSTALL = { 'runtime-versions': { nodejs: 20 }, commands: ['npm ci --no-audit --no-fund'] };
const EPHEMERAL = 'npx ts-node --transpile-only scripts/ephemeral.ts';

/**
 * Per-branch environments, from the same CodeConnections repository as the delivery pipeline:
 * - Deploy pipeline: a push to a matching branch, or a pull request opened or updated against the
 *   base branch, derives the suffix from the branch, checks the cap, `cdk deploy`s the stage with the
 *   ephemeral profile and runs buildspec-integ.yml against it.
 * - Destroy pipeline: a pull request closed or merged destroys that branch's environment.
 * - Sweeper: every hour, destroys environments past their ExpiresAt or whose branch is gone.
 * Builds deploy through the CDK bootstrap roles; they can delete only stacks tagged Ephemeral=true.
 */
export class EphemeralEnvironmentsStack extends Stack {
  public readonly deployPipeline: codepipeline.Pipeline;
  public readonly destroyPipeline: codepipeline.Pipeline;
  public readonly sweeperPipeline: codepipeline.Pipeline;
  public readonly sweepSchedule: events.Rule;

  constructor(scope: Construct, id: string, props: EphemeralEnvironmentsStackProps) {
    const { pipeline: p, ephemeral: e } = props;
    super(scope, id, {
      ...props,
      stackName: `${p.project}-ephemeral`,
      env: { account: p.account, region: p.region },
      description: `Per-branch ephemeral environments of ${p.project}: deploy, destroy and TTL sweeper`,
      tags: { Project: p.project, Component: 'ephemeral-environments', ...props.tags },
    });
    const removalPolicy = p.destroyable ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    const logGroupName = `/${p.project}/ephemeral/codebuild`;
    const key = new EncryptionKey(this, 'Key', {
      alias: `alias/${p.project}/ephemeral-pipelines`,
      description: `Artifacts and build logs of the ${p.project} ephemeral-environment pipelines`,
      removalPolicy,
      pendingWindowDays: p.destroyable ? 7 : 30,
      logGroupNamePatterns: [logGroupName],
    });
    const artifacts = new ArtifactBucket(this, 'Artifacts', { encryptionKey: key.key, destroyable: p.destroyable, logPrefix: 'ephemeral-artifacts/' });
    const logs = new EncryptedLogGroup(this, 'BuildLogs', { logGroupName, encryptionKey: key.key, retentionDays: 90, removalPolicy });

    const account = p.account;
    const bootstrapRoles = ['deploy', 'file-publishing', 'image-publishing'].map((r) => `arn:aws:iam::${account}:role/cdk-hnb659fds-${r}-role-${account}-${p.region}`);
    const listStacks = new iam.PolicyStatement({ sid: 'ListEnvironments', actions: ['cloudformation:DescribeStacks'], resources: ['*'] });
    const deleteEphemeralStacks = new iam.PolicyStatement({
      sid: 'DeleteEphemeralStacksOnly',
      actions: ['cloudformation:DeleteStack'],
      resources: [`arn:aws:cloudformation:${p.region}:${account}:stack/${p.project}-*/*`],
      conditions: { StringEquals: { 'aws:ResourceTag/Ephemeral': 'true' } },
    });

    const project = (name: string, purpose: string, buildSpec: codebuild.BuildSpec, statements: iam.PolicyStatement[], privileged = false) => {
      const proj = new codebuild.PipelineProject(this, name, {
        projectName: `${p.project}-ephemeral-${purpose}`,
        description: `Ephemeral environments: ${purpose}`,
        encryptionKey: key.key,
        environment: { buildImage: codebuild.LinuxBuildImage.STANDARD_7_0, computeType: codebuild.ComputeType.MEDIUM, privileged },
        environmentVariables: {
          PROJECT: { value: p.project },
          MAX_EPHEMERAL_ENVIRONMENTS: { value: String(e.maxEnvironments) },
        },
        logging: { cloudWatch: { logGroup: logs.logGroup } },
        timeout: Duration.minutes(90),
        buildSpec,
      });
      statements.forEach((s) => proj.addToRolePolicy(s));
      return proj;
    };

    const deploy = project('DeployProject', 'deploy', codebuild.BuildSpec.fromObject({
      version: '0.2',
      env: { 'exported-variables': ['ENVIRONMENT_SUFFIX'] },
      phases: {
        install: INSTALL,
        build: {
          commands: [
            `export ENVIRONMENT_SUFFIX=$(${EPHEMERAL} suffix --branch "$BRANCH")`,
            'echo "branch $BRANCH -> environment $ENVIRONMENT_SUFFIX"',
            `${EPHEMERAL} check-cap --suffix "$ENVIRONMENT_SUFFIX" --max "$MAX_EPHEMERAL_ENVIRONMENTS"`,
            'npx cdk deploy --no-lookups --require-approval never -c branch="$BRANCH" "$ENVIRONMENT_SUFFIX/*"',
          ],
        },
      },
    }), [
      new iam.PolicyStatement({ sid: 'DeployThroughBootstrapRoles', actions: ['sts:AssumeRole'], resources: bootstrapRoles }),
      listStacks,
    ], true);

    const integ = project('IntegrationTestProject', 'integ-test', codebuild.BuildSpec.fromObject(loadIntegrationBuildSpec()), integrationTestStatements({
      ...targetsOf(Naming.anySuffix(p.project), p.region, account),
      // Any stack of the project: the environment's four are found by their suffix at run time.
      stacks: [`${p.project}-*`],
    }, 'integ'));

    const destroy = project('DestroyProject', 'destroy', codebuild.BuildSpec.fromObject({
      version: '0.2',
      phases: { install: INSTALL, build: { commands: [`${EPHEMERAL} destroy --branch "$BRANCH" --yes`] } },
    }), [listStacks, deleteEphemeralStacks]);

    const sweep = project('SweepProject', 'sweep', codebuild.BuildSpec.fromObject({
      version: '0.2',
      phases: {
        install: INSTALL,
        build: {
          commands: [
            // The full clone carries the connection's credentials: list the branches that still exist.
            'git ls-remote --heads origin | awk \'{print $2}\' > /tmp/live-branches.txt || : > /tmp/live-branches.txt',
            `if [ -s /tmp/live-branches.txt ]; then ${EPHEMERAL} sweep --yes --live-branches /tmp/live-branches.txt; else ${EPHEMERAL} sweep --yes; fi`,
          ],
        },
      },
    }), [listStacks, deleteEphemeralStacks]);

    const source = (cloneOutput: boolean) => {
      const output = new codepipeline.Artifact('Source');
      const action = new actions.CodeStarConnectionsSourceAction({
        actionName: 'Source',
        connectionArn: p.connectionArn,
        owner: p.repository.split('/')[0],
        repo: p.repository.split('/')[1],
        branch: e.pullRequestBaseBranch,
        output,
        variablesNamespace: 'Source',
        codeBuildCloneOutput: cloneOutput,
        // Filtered triggers start the deploy/destroy runs and a schedule starts the sweeper; never change detection.
        triggerOnPush: false,
      });
      return { output, action };
    };
    const newPipeline = (name: string, mode: codepipeline.ExecutionMode, src: ReturnType<typeof source>, stages: codepipeline.StageProps[]) => new codepipeline.Pipeline(this, name, {
      pipelineName: `${p.project}-ephemeral-${name.replace(/Pipeline$/, '').toLowerCase()}`,
      pipelineType: codepipeline.PipelineType.V2,
      executionMode: mode,
      artifactBucket: artifacts.bucket,
      stages: [{ stageName: 'Source', actions: [src.action] }, ...stages],
    });
    const branchVar = { BRANCH: { value: '#{Source.BranchName}' } };

    const deploySource = source(false);
    this.deployPipeline = newPipeline('DeployPipeline', codepipeline.ExecutionMode.PARALLEL, deploySource, [
      { stageName: 'Deploy', actions: [new actions.CodeBuildAction({ actionName: 'Deploy', project: deploy, input: deploySource.output, environmentVariables: branchVar, variablesNamespace: 'Deploy' })] },
      {
        stageName: 'IntegrationTest',
        actions: [new actions.CodeBuildAction({
          actionName: 'IntegrationTest', project: integ, input: deploySource.output,
          environmentVariables: { ENVIRONMENT_SUFFIX: { value: '#{Deploy.ENVIRONMENT_SUFFIX}' }, INTEG_SUITE: { value: 'integ' } },
        })],
      },
    ]);
    this.deployPipeline.addTrigger({
      providerType: codepipeline.ProviderType.CODE_STAR_SOURCE_CONNECTION,
      gitConfiguration: {
        sourceAction: deploySource.action,
        pushFilter: [{ branchesIncludes: [...e.branchPatterns] }],
        pullRequestFilter: [{ branchesIncludes: [e.pullRequestBaseBranch], events: [codepipeline.GitPullRequestEvent.OPEN, codepipeline.GitPullRequestEvent.UPDATED] }],
      },
    });

    const destroySource = source(false);
    this.destroyPipeline = newPipeline('DestroyPipeline', codepipeline.ExecutionMode.PARALLEL, destroySource, [
      { stageName: 'Destroy', actions: [new actions.CodeBuildAction({ actionName: 'Destroy', project: destroy, input: destroySource.output, environmentVariables: branchVar })] },
    ]);
    this.destroyPipeline.addTrigger({
      providerType: codepipeline.ProviderType.CODE_STAR_SOURCE_CONNECTION,
      gitConfiguration: {
        sourceAction: destroySource.action,
        pullRequestFilter: [{ branchesIncludes: [e.pullRequestBaseBranch], events: [codepipeline.GitPullRequestEvent.CLOSED] }],
      },
    });

    const sweepSource = source(true);
    this.sweeperPipeline = newPipeline('SweeperPipeline', codepipeline.ExecutionMode.SUPERSEDED, sweepSource, [
      { stageName: 'Sweep', actions: [new actions.CodeBuildAction({ actionName: 'Sweep', project: sweep, input: sweepSource.output })] },
    ]);
    this.sweepSchedule = new events.Rule(this, 'SweepSchedule', {
      description: `Hourly sweep of expired or orphaned ${p.project} ephemeral environments`,
      schedule: events.Schedule.rate(Duration.hours(1)),
      targets: [new targets.CodePipeline(this.sweeperPipeline)],
    });

    // Every IAM policy and build project in this stack belongs to its pipelines.
    acknowledgePipelineFindings(this);

    new CfnOutput(this, 'EphemeralDeployPipelineName', { value: this.deployPipeline.pipelineName });
    new CfnOutput(this, 'EphemeralDestroyPipelineName', { value: this.destroyPipeline.pipelineName });
    new CfnOutput(this, 'EphemeralSweeperPipelineName', { value: this.sweeperPipeline.pipelineName });
  }
}
