import { CfnOutput, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgePipelineFindings } from '../compliance/pipeline-findings';
import type { PipelineConfig, PreviewConfig } from '../config';
import { Naming, PREVIEW_NO_BRANCH, ToolingNames } from '../contract';
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
const OPERATE = 'AWS_PROFILE=sandbox npx ts-node --transpile-only scripts/operations/preview-operate.ts';

/**
 * The source-action variables AWS defines for each trigger kind of a CodeStarSourceConnection action.
 * SourceBranchName and DestinationBranchName exist only in executions a pull-request trigger started;
 * an action that references a variable its execution lacks fails. Every `#{Source.X}` a preview
 * pipeline references must be in the list of each trigger kind that starts it (tested).
 * https://docs.aws.amazon.com/codepipeline/latest/userguide/reference-variables.html
 * https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodestarConnectionSource.html
 */
export const SOURCE_VARIABLES = {
  push: ['AuthorDate', 'BranchName', 'CommitId', 'CommitMessage', 'ConnectionArn', 'FullRepositoryName'],
  pullRequest: [
    'AuthorDate',
    'BranchName',
    'CommitId',
    'CommitMessage',
    'ConnectionArn',
    'FullRepositoryName',
    'SourceBranchName',
    'DestinationBranchName',
    'PullRequestId',
  ],
} as const;

/**
 * Preview environments (one per branch), from the same CodeConnections repository as the delivery
 * pipeline. Every change to them goes through one queue, so two never act on a branch at once:
 * - `operate` (QUEUED, started only by the pipelines below and the hourly schedule): one build deploys,
 *   destroys or sweeps, as its pipeline variables say, then, after a deploy, the integration suite.
 * - `push` (a push to a matching branch) and `pull-request` (opened or updated against the base
 *   branch) each ask `operate` to deploy that branch at that commit; `pull-request-closed` asks it to
 *   destroy the branch's environment. One pipeline per trigger kind, because the variables naming the
 *   branch differ by kind (SOURCE_VARIABLES).
 * A destroy queued behind a deploy of its branch runs after it; a deploy that reaches its turn after
 * its branch was deleted destroys instead. Builds deploy through the CDK bootstrap roles; they can
 * delete only stacks tagged Preview=true.
 */
export class PreviewEnvironmentsStack extends Stack {
  public readonly operatePipeline: codepipeline.Pipeline;
  /** The pipeline of each trigger kind: `push`, `pullRequest`, `pullRequestClosed`. */
  public readonly triggerPipelines: Readonly<Record<'push' | 'pullRequest' | 'pullRequestClosed', codepipeline.Pipeline>>;
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
    const shared = this.addShared(p, e, names);

    const operate = this.addOperateProject(shared);
    const integ = this.addIntegrationTestProject(shared);
    // Both builds read the operate pipeline's full clone, and operate lists the repository's branches
    // (git ls-remote), through the connection: CDK grants only the codestar-connections prefix, so both.
    for (const build of [operate, integ]) grantUseConnection(build, p.connectionArn);

    const queue = queueVariables();
    this.operatePipeline = this.addOperatePipeline(shared, queue, operate, integ);
    this.triggerPipelines = this.addTriggerPipelines(shared, queue);

    // Started with no variables, the queue sweeps (OPERATION's default).
    this.sweepSchedule = new events.Rule(this, 'SweepSchedule', {
      description: `Hourly sweep of expired or orphaned ${p.project} preview environments`,
      schedule: events.Schedule.rate(Duration.hours(1)),
      targets: [new targets.CodePipeline(this.operatePipeline)],
    });

    for (const pipeline of [this.operatePipeline, ...Object.values(this.triggerPipelines)]) {
      for (const role of sourceActionRoles(pipeline)) grantUseConnection(role, p.connectionArn);
    }

    // Every IAM policy and build project in this stack belongs to its pipelines.
    acknowledgePipelineFindings(this);

    new CfnOutput(this, 'PreviewOperatePipelineName', { value: this.operatePipeline.pipelineName });
  }

  /** The key, artifact bucket and build log group every pipeline and build here shares, and the sandbox account. */
  private addShared(p: PipelineConfig, e: PreviewConfig, names: ToolingNames): Shared {
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
    const buildLogs = new EncryptedLogGroup(this, 'BuildLogs', { logGroupName, encryptionKey: key.key, retentionDays: 90, removalPolicy });
    // Preview environments live in the sandbox account; these builds hold no permission anywhere else.
    const sandbox = e.account ?? p.account;
    return {
      p,
      e,
      names,
      sandbox,
      managerRoleArn: `arn:aws:iam::${sandbox}:role/${names.previewManagerRoleName}`,
      key: key.key,
      artifactBucket: artifacts.bucket,
      logGroup: buildLogs.logGroup,
    };
  }

  /** A build project of the preview pipelines, with a role of its own holding only `statements`. */
  private addProject(
    shared: Shared,
    name: string,
    purpose: 'operate' | 'integ-test',
    buildSpec: codebuild.BuildSpec,
    statements: iam.PolicyStatement[],
    privileged = false,
  ): codebuild.PipelineProject {
    const { p, e, names } = shared;
    const roleName = names.previewBuildRoleNames[purpose === 'integ-test' ? 'integ' : purpose];
    const proj = new codebuild.PipelineProject(this, name, {
      projectName: names.previewProjectName(purpose),
      description: `Preview environments: ${purpose}`,
      encryptionKey: shared.key,
      role: new iam.Role(this, `${name}Role`, {
        roleName,
        assumedBy: new iam.ServicePrincipal('codebuild.amazonaws.com'),
        description: `Preview environments: ${purpose} build`,
      }),
      environment: { buildImage: BUILD_IMAGE, computeType: codebuild.ComputeType.MEDIUM, privileged },
      environmentVariables: {
        PROJECT: { value: p.project },
        MAX_PREVIEW_ENVIRONMENTS: { value: String(e.maxEnvironments) },
        SANDBOX_MANAGER_ROLE_ARN: { value: shared.managerRoleArn },
      },
      logging: { cloudWatch: { logGroup: shared.logGroup } },
      timeout: Duration.minutes(90),
      buildSpec,
    });
    statements.forEach((s) => proj.addToRolePolicy(s));
    return proj;
  }

  /**
   * Deploys, destroys or sweeps, as OPERATION and BRANCH (the pipeline variables of the execution) say.
   * It assumes only the sandbox's own bootstrap roles (its qualifier) and its manager role.
   */
  private addOperateProject(shared: Shared): codebuild.PipelineProject {
    const { p, e, sandbox } = shared;
    const bootstrapRoles = ['deploy', 'file-publishing', 'image-publishing'].map(
      (r) => `arn:aws:iam::${sandbox}:role/cdk-${e.bootstrapQualifier}-${r}-role-${sandbox}-${p.region}`,
    );
    return this.addProject(
      shared,
      'OperateProject',
      'operate',
      codebuild.BuildSpec.fromObject({
        version: '0.2',
        env: { 'exported-variables': ['ENVIRONMENT_SUFFIX', 'PREVIEW_DEPLOYED'] },
        phases: {
          install: INSTALL,
          build: {
            commands: [
              `${OPERATE} "$OPERATION" --branch "$BRANCH" --outcome /tmp/preview-outcome.env`,
              'export $(cat /tmp/preview-outcome.env)',
              'echo "$OPERATION $BRANCH: environment $ENVIRONMENT_SUFFIX, deployed $PREVIEW_DEPLOYED"',
            ],
          },
        },
      }),
      [
        new iam.PolicyStatement({ sid: 'DeployThroughSandboxBootstrapRoles', actions: ['sts:AssumeRole'], resources: bootstrapRoles }),
        new iam.PolicyStatement({ sid: 'AssumeSandboxManagerRole', actions: ['sts:AssumeRole'], resources: [shared.managerRoleArn] }),
      ],
      true,
    );
  }

  /**
   * The integration suite after a deploy, through the preview stage's own post-deploy role:
   * `<project>-post-deploy-br-*` never matches a long-lived environment (no configured suffix may
   * start with br-, see PREVIEW_SUFFIX_PREFIX).
   */
  private addIntegrationTestProject(shared: Shared): codebuild.PipelineProject {
    return this.addProject(shared, 'IntegrationTestProject', 'integ-test', codebuild.BuildSpec.fromObject(loadIntegrationBuildSpec()), [
      new iam.PolicyStatement({
        sid: 'AssumePreviewPostDeployRoles',
        actions: ['sts:AssumeRole'],
        resources: [`arn:aws:iam::${shared.sandbox}:role/${Naming.anyPreview(shared.p.project).postDeployRoleName}`],
      }),
    ]);
  }

  /**
   * A QUEUED pipeline runs its executions one by one in arrival order, a stage at a time: deploys,
   * destroys and sweeps share the Operate stage, so they never overlap. (An integration suite may
   * still run while the next execution operates; a destroy then fails the closed branch's suite.)
   * https://docs.aws.amazon.com/codepipeline/latest/userguide/concepts-how-it-works.html#concepts-how-it-works-executions
   */
  private addOperatePipeline(
    shared: Shared,
    queue: QueueVariables,
    operate: codebuild.IProject,
    integ: codebuild.IProject,
  ): codepipeline.Pipeline {
    const { p, names } = shared;
    const { operation, branch } = queue;
    // A full clone: the build lists the branches that still exist (git ls-remote) with the connection.
    const operateSource = sourceAction(shared, true);
    return new codepipeline.Pipeline(this, 'OperatePipeline', {
      pipelineName: names.previewPipelineName('operate'),
      pipelineType: codepipeline.PipelineType.V2,
      executionMode: codepipeline.ExecutionMode.QUEUED,
      artifactBucket: shared.artifactBucket,
      variables: [operation, branch],
      stages: [
        { stageName: 'Source', actions: [operateSource.action] },
        {
          stageName: 'Operate',
          actions: [
            new actions.CodeBuildAction({
              actionName: 'Operate',
              project: operate,
              input: operateSource.output,
              environmentVariables: { OPERATION: { value: operation.reference() }, BRANCH: { value: branch.reference() } },
              variablesNamespace: 'Operate',
            }),
          ],
        },
        {
          stageName: 'IntegrationTest',
          // Only after a deploy: a destroy, a sweep, or a deploy that found its branch gone skip the suite.
          // https://docs.aws.amazon.com/codepipeline/latest/userguide/stage-conditions.html
          // https://docs.aws.amazon.com/codepipeline/latest/userguide/rule-reference-VariableCheck.html
          beforeEntry: {
            conditions: [
              {
                result: codepipeline.Result.SKIP,
                rules: [
                  new codepipeline.Rule({
                    name: 'DeployedThisRun',
                    provider: 'VariableCheck',
                    version: '1',
                    configuration: { Variable: '#{Operate.PREVIEW_DEPLOYED}', Value: 'true', Operator: 'EQ' },
                  }),
                ],
              },
            ],
          },
          actions: [
            new actions.CodeBuildAction({
              actionName: 'IntegrationTest',
              project: integ,
              input: operateSource.output,
              environmentVariables: {
                ENVIRONMENT_SUFFIX: { value: '#{Operate.ENVIRONMENT_SUFFIX}' },
                INTEG_SUITE: { value: 'integ' },
                POST_DEPLOY_ROLE_ARN: {
                  value: `arn:aws:iam::${shared.sandbox}:role/${Naming.ofPipelineVariable(p.project, '#{Operate.ENVIRONMENT_SUFFIX}').postDeployRoleName}`,
                },
              },
            }),
          ],
        },
      ],
    });
  }

  private addTriggerPipelines(shared: Shared, queue: QueueVariables): PreviewEnvironmentsStack['triggerPipelines'] {
    const { e } = shared;
    const base = e.pullRequestBaseBranch;
    return {
      // A push execution names the pushed branch in BranchName (the trigger overrides the action's branch).
      // https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-filter.html
      push: this.addRequestPipeline(
        shared,
        queue,
        'PushPipeline',
        'push',
        { operation: 'deploy', branchVariable: 'BranchName' },
        {
          pushFilter: [{ branchesIncludes: [...e.branchPatterns] }],
        },
      ),
      pullRequest: this.addRequestPipeline(
        shared,
        queue,
        'PullRequestPipeline',
        'pull-request',
        { operation: 'deploy', branchVariable: 'SourceBranchName' },
        {
          pullRequestFilter: [
            { branchesIncludes: [base], events: [codepipeline.GitPullRequestEvent.OPEN, codepipeline.GitPullRequestEvent.UPDATED] },
          ],
        },
      ),
      pullRequestClosed: this.addRequestPipeline(
        shared,
        queue,
        'PullRequestClosedPipeline',
        'pull-request-closed',
        { operation: 'destroy', branchVariable: 'SourceBranchName' },
        {
          pullRequestFilter: [{ branchesIncludes: [base], events: [codepipeline.GitPullRequestEvent.CLOSED] }],
        },
      ),
    };
  }

  /**
   * Each trigger kind hands its request to the queue: the operation, the branch (from the variable
   * AWS defines for that kind) and, for a deploy, the exact commit the trigger fetched.
   * https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-PipelineInvoke.html
   * https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-trigger-source-overrides.html (a commit of any branch)
   */
  private addRequestPipeline(
    shared: Shared,
    queue: QueueVariables,
    id: string,
    kind: 'push' | 'pull-request' | 'pull-request-closed',
    request: { operation: 'deploy' | 'destroy'; branchVariable: 'BranchName' | 'SourceBranchName' },
    git: Omit<codepipeline.GitConfiguration, 'sourceAction'>,
  ): codepipeline.Pipeline {
    const src = sourceAction(shared, false);
    const pipeline = new codepipeline.Pipeline(this, id, {
      pipelineName: shared.names.previewPipelineName(kind),
      pipelineType: codepipeline.PipelineType.V2,
      // Requests are cheap and independent: each execution only starts one of operate's.
      executionMode: codepipeline.ExecutionMode.PARALLEL,
      artifactBucket: shared.artifactBucket,
      stages: [
        { stageName: 'Source', actions: [src.action] },
        {
          stageName: 'Request',
          actions: [
            new actions.PipelineInvokeAction({
              actionName: 'Request',
              targetPipeline: this.operatePipeline,
              variables: [
                { name: queue.operation.variableName, value: request.operation },
                { name: queue.branch.variableName, value: `#{Source.${request.branchVariable}}` },
              ],
              // A destroy runs the base branch's code; a deploy the commit that was pushed.
              sourceRevisions:
                request.operation === 'deploy'
                  ? [{ actionName: 'Source', revisionType: actions.RevisionType.COMMIT_ID, revisionValue: '#{Source.CommitId}' }]
                  : undefined,
            }),
          ],
        },
      ],
    });
    pipeline.addTrigger({
      providerType: codepipeline.ProviderType.CODE_STAR_SOURCE_CONNECTION,
      gitConfiguration: { sourceAction: src.action, ...git },
    });
    return pipeline;
  }
}

/** What the parts of the stack share: the configuration, the sandbox account and the common resources. */
interface Shared {
  readonly p: PipelineConfig;
  readonly e: PreviewConfig;
  readonly names: ToolingNames;
  /** The account the preview environments live in. */
  readonly sandbox: string;
  /** The sandbox's manager role, through which tooling scripts reach the sandbox account. */
  readonly managerRoleArn: string;
  readonly key: kms.IKey;
  readonly artifactBucket: s3.IBucket;
  readonly logGroup: logs.ILogGroup;
}

/** The operate pipeline's variables: what each execution does, and to which branch. */
interface QueueVariables {
  readonly operation: codepipeline.Variable;
  readonly branch: codepipeline.Variable;
}

function queueVariables(): QueueVariables {
  return {
    operation: new codepipeline.Variable({
      variableName: 'OPERATION',
      defaultValue: 'sweep',
      description: 'deploy, destroy or sweep; the hourly schedule starts the pipeline with the default',
    }),
    branch: new codepipeline.Variable({
      variableName: 'BRANCH',
      defaultValue: PREVIEW_NO_BRANCH,
      description: `The branch to deploy or destroy (${PREVIEW_NO_BRANCH} for a sweep)`,
    }),
  };
}

/** The repository's base branch through the connection; filtered triggers start the trigger pipelines. */
function sourceAction(
  { p, e }: Shared,
  cloneOutput: boolean,
): { output: codepipeline.Artifact; action: actions.CodeStarConnectionsSourceAction } {
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
    // Filtered triggers start the trigger pipelines; nothing starts `operate` on a change by itself.
    triggerOnPush: false,
  });
  return { output, action };
}
