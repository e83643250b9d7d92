import { CfnOutput, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { acknowledgePipelineFindings } from '../compliance/pipeline-findings';
import type { PipelineConfig, PreviewConfig } from '../config';
import { Naming, ToolingNames } from '../contract';
import { ArtifactBucket } from '../constructs/artifact-bucket';
import { EncryptedLogGroup } from '../constructs/encrypted-log-group';
import { EncryptionKey } from '../constructs/encryption-key';
import { BUILD_IMAGE, NODE_RUNTIME_PHASE } from './build-environment';
import { grantUseConnection, sourceActionRoles } from './connection';
import { loadIntegrationBuildSpec } from './integration-test-step';

export interface PreviewEnvironmentsStackProps extends StackProps {
  /** Repository, connection, account and region (shared with the delivery pipeline). */
  readonly pipeline: PipelineConfig;
  readonly previews: PreviewConfig;
}

/**
 * Tooling scripts reach the sandbox account only through its manager role (PreviewSandboxStack):
 * a profile the SDK resolves by assuming it with the build's own credentials.
 */
const SANDBOX_PROFILE = [
  'export AWS_CONFIG_FILE=/tmp/sandbox-aws-config',
  'printf \'[profile sandbox]\\nrole_arn = %s\\ncredential_source = EcsContainer\\nregion = %s\\n\' "$SANDBOX_MANAGER_ROLE_ARN" "$AWS_REGION" > "$AWS_CONFIG_FILE"',
];
const INSTALL = { ...NODE_RUNTIME_PHASE, commands: ['npm ci --no-audit --no-fund', ...SANDBOX_PROFILE] };
const PREVIEW = 'AWS_PROFILE=sandbox npx ts-node --transpile-only scripts/operations/preview.ts';

/**
 * Preview environments (one per branch), from the same CodeConnections repository as the delivery
 * pipeline:
 * - Deploy pipeline: a push to a matching branch, or a pull request opened or updated against the
 *   base branch, derives the suffix from the branch, checks the cap, `cdk deploy`s the stage with the
 *   development profile and runs buildspec-integ.yml against it.
 * - Destroy pipeline: a pull request closed or merged destroys that branch's environment.
 * - Sweeper: every hour, destroys environments past their ExpiresAt or whose branch is gone.
 * Builds deploy through the CDK bootstrap roles; they can delete only stacks tagged Preview=true.
 */
export class PreviewEnvironmentsStack extends Stack {
  public readonly deployPipeline: codepipeline.Pipeline;
  public readonly destroyPipeline: codepipeline.Pipeline;
  public readonly sweeperPipeline: codepipeline.Pipeline;
  public readonly sweepSchedule: events.Rule;

  constructor(scope: Construct, id: string, props: PreviewEnvironmentsStackProps) {
    const { pipeline: p, previews: e } = props;
    const names = new ToolingNames(p.project);
    super(scope, id, {
      ...props,
      stackName: names.previewsStackName,
      env: { account: p.account, region: p.region },
      description: `Preview environments of ${p.project}: deploy, destroy and TTL sweeper`,
      tags: { Project: p.project, Component: 'preview-environments', ...props.tags },
    });
    const removalPolicy = p.destroyable ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    const logGroupName = names.previewsBuildLogGroupName;
    const key = new EncryptionKey(this, 'Key', {
      alias: names.previewsKeyAlias,
      description: `Artifacts and build logs of the ${p.project} preview-environment pipelines`,
      removalPolicy,
      pendingWindowDays: p.destroyable ? 7 : 30,
      logGroupNamePatterns: [logGroupName],
    });
    const artifacts = new ArtifactBucket(this, 'Artifacts', {
      encryptionKey: key.key,
      destroyable: p.destroyable,
      logPrefix: 'preview-artifacts/',
    });
    const logs = new EncryptedLogGroup(this, 'BuildLogs', { logGroupName, encryptionKey: key.key, retentionDays: 90, removalPolicy });

    // Preview environments live in the sandbox account; these builds hold no permission anywhere
    // else. They assume only the sandbox's own bootstrap roles (its qualifier), its manager role,
    // and the post-deploy role each preview stage creates.
    const sandbox = e.account ?? p.account;
    const q = e.bootstrapQualifier;
    const bootstrapRoles = ['deploy', 'file-publishing', 'image-publishing'].map(
      (r) => `arn:aws:iam::${sandbox}:role/cdk-${q}-${r}-role-${sandbox}-${p.region}`,
    );
    const managerRoleArn = `arn:aws:iam::${sandbox}:role/${names.previewManagerRoleName}`;
    const assumeManager = new iam.PolicyStatement({
      sid: 'AssumeSandboxManagerRole',
      actions: ['sts:AssumeRole'],
      resources: [managerRoleArn],
    });
    const roleNames = names.previewBuildRoleNames;

    const project = (
      name: string,
      purpose: 'deploy' | 'integ-test' | 'destroy' | 'sweep',
      buildSpec: codebuild.BuildSpec,
      statements: iam.PolicyStatement[],
      privileged = false,
    ) => {
      const roleName = roleNames[purpose === 'integ-test' ? 'integ' : purpose];
      const proj = new codebuild.PipelineProject(this, name, {
        projectName: names.previewProjectName(purpose),
        description: `Preview environments: ${purpose}`,
        encryptionKey: key.key,
        role: new iam.Role(this, `${name}Role`, {
          roleName,
          assumedBy: new iam.ServicePrincipal('codebuild.amazonaws.com'),
          description: `Preview environments: ${purpose} build`,
        }),
        environment: { buildImage: BUILD_IMAGE, computeType: codebuild.ComputeType.MEDIUM, privileged },
        environmentVariables: {
          PROJECT: { value: p.project },
          MAX_PREVIEW_ENVIRONMENTS: { value: String(e.maxEnvironments) },
          SANDBOX_MANAGER_ROLE_ARN: { value: managerRoleArn },
        },
        logging: { cloudWatch: { logGroup: logs.logGroup } },
        timeout: Duration.minutes(90),
        buildSpec,
      });
      statements.forEach((s) => proj.addToRolePolicy(s));
      return proj;
    };

    const deploy = project(
      'DeployProject',
      'deploy',
      codebuild.BuildSpec.fromObject({
        version: '0.2',
        env: { 'exported-variables': ['ENVIRONMENT_SUFFIX'] },
        phases: {
          install: INSTALL,
          build: {
            commands: [
              // A pull request's source branch, else the pushed branch (see branchVars below).
              'export BRANCH="${PR_SOURCE_BRANCH:-$PUSH_BRANCH}"',
              `export ENVIRONMENT_SUFFIX=$(${PREVIEW} suffix --branch "$BRANCH")`,
              'echo "branch $BRANCH -> environment $ENVIRONMENT_SUFFIX"',
              `${PREVIEW} check-cap --suffix "$ENVIRONMENT_SUFFIX" --max "$MAX_PREVIEW_ENVIRONMENTS"`,
              'npx cdk deploy --no-lookups --require-approval never -c branch="$BRANCH" "$ENVIRONMENT_SUFFIX/*"',
            ],
          },
        },
      }),
      [
        new iam.PolicyStatement({ sid: 'DeployThroughSandboxBootstrapRoles', actions: ['sts:AssumeRole'], resources: bootstrapRoles }),
        assumeManager,
      ],
      true,
    );

    // The preview stage's own post-deploy role: `<project>-post-deploy-br-*` never matches a
    // long-lived environment (no configured suffix may start with br-, see PREVIEW_SUFFIX_PREFIX).
    const integ = project('IntegrationTestProject', 'integ-test', codebuild.BuildSpec.fromObject(loadIntegrationBuildSpec()), [
      new iam.PolicyStatement({
        sid: 'AssumePreviewPostDeployRoles',
        actions: ['sts:AssumeRole'],
        resources: [`arn:aws:iam::${sandbox}:role/${Naming.anyPreview(p.project).postDeployRoleName}`],
      }),
    ]);

    const destroy = project(
      'DestroyProject',
      'destroy',
      codebuild.BuildSpec.fromObject({
        version: '0.2',
        phases: { install: INSTALL, build: { commands: [`${PREVIEW} destroy --branch "$PR_SOURCE_BRANCH" --yes`] } },
      }),
      [assumeManager],
    );

    const sweep = project(
      'SweepProject',
      'sweep',
      codebuild.BuildSpec.fromObject({
        version: '0.2',
        phases: {
          install: INSTALL,
          build: {
            commands: [
              // The full clone carries the connection's credentials: list the branches that still exist.
              "git ls-remote --heads origin | awk '{print $2}' > /tmp/live-branches.txt || : > /tmp/live-branches.txt",
              `if [ -s /tmp/live-branches.txt ]; then ${PREVIEW} sweep --yes --live-branches /tmp/live-branches.txt; else ${PREVIEW} sweep --yes; fi`,
            ],
          },
        },
      }),
      [assumeManager],
    );
    // The sweeper's full clone uses the connection from the build (git ls-remote): either prefix.
    grantUseConnection(sweep, p.connectionArn);

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
    const newPipeline = (
      name: string,
      mode: codepipeline.ExecutionMode,
      src: ReturnType<typeof source>,
      stages: codepipeline.StageProps[],
    ) =>
      new codepipeline.Pipeline(this, name, {
        pipelineName: names.previewPipelineName(name.replace(/Pipeline$/, '').toLowerCase() as 'deploy' | 'destroy' | 'sweeper'),
        pipelineType: codepipeline.PipelineType.V2,
        executionMode: mode,
        artifactBucket: artifacts.bucket,
        stages: [{ stageName: 'Source', actions: [src.action] }, ...stages],
      });
    // A push names its branch in BranchName. A pull-request execution names the pull request's
    // source and destination branches in SourceBranchName and DestinationBranchName (BranchName is the
    // action's configured branch, the base): the builds take the source branch when it is set.
    // https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodestarConnectionSource.html
    // https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-filter.html
    const branchVars = {
      PUSH_BRANCH: { value: '#{Source.BranchName}' },
      PR_SOURCE_BRANCH: { value: '#{Source.SourceBranchName}' },
      PR_DESTINATION_BRANCH: { value: '#{Source.DestinationBranchName}' },
    };

    const deploySource = source(false);
    // QUEUED: a push and a pull-request update of the same branch start two executions; queued, they
    // deploy the same stacks one after the other (the second finds them current), never at once.
    // PARALLEL would race two `cdk deploy`s of one stack; SUPERSEDED could stop a deploy midway.
    // https://docs.aws.amazon.com/codepipeline/latest/userguide/concepts-how-it-works.html#concepts-how-it-works-executions
    this.deployPipeline = newPipeline('DeployPipeline', codepipeline.ExecutionMode.QUEUED, deploySource, [
      {
        stageName: 'Deploy',
        actions: [
          new actions.CodeBuildAction({
            actionName: 'Deploy',
            project: deploy,
            input: deploySource.output,
            environmentVariables: branchVars,
            variablesNamespace: 'Deploy',
          }),
        ],
      },
      {
        stageName: 'IntegrationTest',
        actions: [
          new actions.CodeBuildAction({
            actionName: 'IntegrationTest',
            project: integ,
            input: deploySource.output,
            environmentVariables: {
              ENVIRONMENT_SUFFIX: { value: '#{Deploy.ENVIRONMENT_SUFFIX}' },
              INTEG_SUITE: { value: 'integ' },
              POST_DEPLOY_ROLE_ARN: {
                value: `arn:aws:iam::${sandbox}:role/${Naming.ofPipelineVariable(p.project, '#{Deploy.ENVIRONMENT_SUFFIX}').postDeployRoleName}`,
              },
            },
          }),
        ],
      },
    ]);
    this.deployPipeline.addTrigger({
      providerType: codepipeline.ProviderType.CODE_STAR_SOURCE_CONNECTION,
      gitConfiguration: {
        sourceAction: deploySource.action,
        pushFilter: [{ branchesIncludes: [...e.branchPatterns] }],
        pullRequestFilter: [
          {
            branchesIncludes: [e.pullRequestBaseBranch],
            events: [codepipeline.GitPullRequestEvent.OPEN, codepipeline.GitPullRequestEvent.UPDATED],
          },
        ],
      },
    });

    const destroySource = source(false);
    this.destroyPipeline = newPipeline('DestroyPipeline', codepipeline.ExecutionMode.PARALLEL, destroySource, [
      {
        stageName: 'Destroy',
        actions: [
          new actions.CodeBuildAction({
            actionName: 'Destroy',
            project: destroy,
            input: destroySource.output,
            environmentVariables: { PR_SOURCE_BRANCH: branchVars.PR_SOURCE_BRANCH },
          }),
        ],
      },
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
      description: `Hourly sweep of expired or orphaned ${p.project} preview environments`,
      schedule: events.Schedule.rate(Duration.hours(1)),
      targets: [new targets.CodePipeline(this.sweeperPipeline)],
    });

    for (const pipeline of [this.deployPipeline, this.destroyPipeline, this.sweeperPipeline]) {
      for (const role of sourceActionRoles(pipeline)) grantUseConnection(role, p.connectionArn);
    }

    // Every IAM policy and build project in this stack belongs to its pipelines.
    acknowledgePipelineFindings(this);

    new CfnOutput(this, 'PreviewDeployPipelineName', { value: this.deployPipeline.pipelineName });
    new CfnOutput(this, 'PreviewDestroyPipelineName', { value: this.destroyPipeline.pipelineName });
    new CfnOutput(this, 'PreviewSweeperPipelineName', { value: this.sweeperPipeline.pipelineName });
  }
}
