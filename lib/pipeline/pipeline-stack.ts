import { CfnOutput, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { CodeBuildStep, CodePipeline, CodePipelineSource, ManualApprovalStep } from 'aws-cdk-lib/pipelines';
import { Construct } from 'constructs';
import { acknowledgePipelineFindings } from '../compliance/pipeline-findings';
import type { EnvironmentConfig, PipelineConfig } from '../config';
import { ToolingNames } from '../contract';
import { ArtifactBucket } from '../constructs/artifact-bucket';
import { EncryptedLogGroup } from '../constructs/encrypted-log-group';
import { EncryptionKey } from '../constructs/encryption-key';
import { PipelineAppStage } from '../../stages/pipeline-app-stage';
import { BUILD_IMAGE, cdkToolVersions, NODE_RUNTIME_PHASE } from './build-environment';
import { grantUseConnection, sourceActionRoles } from './connection';
import { IntegrationTestStep } from './integration-test-step';
import { MutationTestStep } from './mutation-test-step';

export interface PipelineStackProps extends StackProps {
  readonly pipeline: PipelineConfig;
  /**
   * The CDK CLI of the self-mutation build and the cdk-assets of the asset builds.
   * @default - the aws-cdk and cdk-assets versions of package-lock.json (cdkToolVersions())
   */
  readonly toolVersions?: { readonly cli: string; readonly cdkAssets: string };
}

/** The SBOM the Synth step writes into its output artifact (cdk.out). */
export const SBOM_FILE = 'sbom.cdx.json';

/** npm ci, the audit, `npm test` and cdk synth, with the SBOM beside the templates in cdk.out. */
export class SynthStep extends CodeBuildStep {
  constructor(input: CodePipelineSource) {
    super('Synth', {
      input,
      installCommands: ['npm ci --no-audit --no-fund'],
      commands: [
        // Known high or critical advisories in any dependency fail the build before anything else runs.
        // https://docs.npmjs.com/cli/v11/commands/npm-audit
        'npm audit --audit-level=high',
        // npm test: typecheck, unit tests (compliance gate included), local integration suite.
        'npm test',
        'npx cdk synth --no-lookups',
        // The runtime dependency inventory (CycloneDX), kept in the synth output artifact beside the
        // templates it was built with. https://docs.npmjs.com/cli/v11/commands/npm-sbom
        `npm sbom --sbom-format cyclonedx --omit dev > cdk.out/${SBOM_FILE}`,
      ],
      primaryOutputDirectory: 'cdk.out',
    });
  }
}

/**
 * The self-mutating delivery pipeline: a push to the branch (other than documentation) runs
 * Synth (npm ci, typecheck, unit tests with the compliance gate, local integration suite, cdk
 * synth), updates the pipeline itself, publishes the processor image, then deploys each
 * non-production environment followed by its integration suite, and, after a manual approval,
 * each production environment followed by a read-only smoke suite.
 */
export class PipelineStack extends Stack {
  public readonly codePipeline: CodePipeline;
  public readonly stages: PipelineAppStage[] = [];
  public readonly notificationTopic: sns.Topic;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    const p = props.pipeline;
    const names = new ToolingNames(p.project);
    super(scope, id, {
      ...props,
      stackName: names.pipelineStackName,
      env: { account: p.account, region: p.region },
      description: `Delivery pipeline of ${p.project} (${p.repository}@${p.branch})`,
      terminationProtection: !p.destroyable,
      tags: { Project: p.project, Component: 'delivery-pipeline', ...props.tags },
    });
    const removalPolicy = p.destroyable ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    const key = this.addKey(p, names, removalPolicy);
    const artifacts = new ArtifactBucket(this, 'Artifacts', {
      encryptionKey: key,
      destroyable: p.destroyable,
      logPrefix: 'artifacts/',
    });
    const buildLogs = new EncryptedLogGroup(this, 'BuildLogs', {
      logGroupName: names.pipelineBuildLogGroupName,
      encryptionKey: key,
      retentionDays: 365,
      removalPolicy,
    });

    // DetectChanges off: the filtered V2 trigger below decides which pushes start a run (AWS pairs filters with it off).
    const source = CodePipelineSource.connection(p.repository, p.branch, { connectionArn: p.connectionArn, triggerOnPush: false });
    this.codePipeline = this.addPipeline(props, names, new SynthStep(source), artifacts.bucket, buildLogs.logGroup);
    const stepRoles = p.environments.map((environment) => this.addEnvironment(p, environment, source));
    this.codePipeline.buildPipeline();
    this.addTrigger(p);
    this.notificationTopic = this.addNotifications(p, names, key);

    acknowledgePipelineFindings(this.codePipeline);
    // The step roles sit beside the CDK Pipelines construct; CDK Pipelines writes the same grants into them.
    stepRoles.forEach((role) => acknowledgePipelineFindings(role));

    new CfnOutput(this, 'PipelineName', { value: this.codePipeline.pipeline.pipelineName });
    new CfnOutput(this, 'PipelineNotificationTopicArn', { value: this.notificationTopic.topicArn });
    new CfnOutput(this, 'ArtifactBucketName', { value: artifacts.bucket.bucketName });
  }

  /** The key of artifacts, build logs and notifications. */
  private addKey(p: PipelineConfig, names: ToolingNames, removalPolicy: RemovalPolicy): kms.IKey {
    const key = new EncryptionKey(this, 'PipelineKey', {
      alias: names.pipelineKeyAlias,
      description: `Artifacts, build logs and notifications of the ${p.project} pipeline`,
      removalPolicy,
      pendingWindowDays: p.destroyable ? 7 : 30,
      logGroupNamePatterns: [names.pipelineBuildLogGroupName],
    });
    key.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowCodeStarNotificationsToPublishEncrypted',
        principals: [new iam.ServicePrincipal('codestar-notifications.amazonaws.com')],
        actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        resources: ['*'],
        conditions: { StringEquals: { 'kms:ViaService': `sns.${p.region}.amazonaws.com` } },
      }),
    );
    return key.key;
  }

  private addPipeline(
    props: PipelineStackProps,
    names: ToolingNames,
    synth: SynthStep,
    artifactBucket: s3.IBucket,
    buildLogs: logs.ILogGroup,
  ): CodePipeline {
    const p = props.pipeline;
    const crossAccount = p.environments.some((e) => e.account !== undefined && e.account !== p.account);
    // Every CodeBuild project CDK Pipelines makes (synth, self-mutation, assets, post-deploy steps)
    // inherits these defaults: the image with Node.js 24 and the runtime pinned in the install phase.
    const pinnedNode = codebuild.BuildSpec.fromObject({ version: '0.2', phases: { install: NODE_RUNTIME_PHASE } });
    // Self-mutation installs `aws-cdk@<cliVersion>` and the asset builds `cdk-assets@<cdkAssetsCliVersion>`;
    // unpinned they would take `2` and `latest`, whatever npm serves on the day.
    const tools = props.toolVersions ?? cdkToolVersions();
    return new CodePipeline(this, 'Pipeline', {
      pipelineName: names.pipelineName,
      cliVersion: tools.cli,
      cdkAssetsCliVersion: tools.cdkAssets,
      pipelineType: codepipeline.PipelineType.V2,
      synth,
      selfMutation: true,
      crossAccountKeys: crossAccount,
      enableKeyRotation: crossAccount ? true : undefined,
      artifactBucket,
      useChangeSets: true,
      publishAssetsInParallel: false,
      codeBuildDefaults: {
        buildEnvironment: { buildImage: BUILD_IMAGE, computeType: codebuild.ComputeType.MEDIUM },
        partialBuildSpec: pinnedNode,
        logging: { cloudWatch: { logGroup: buildLogs } },
        timeout: Duration.minutes(60),
      },
    });
  }

  /** One environment's stage: an approval first in production, its integration or smoke suite after. Returns the suite step's role. */
  private addEnvironment(p: PipelineConfig, environment: EnvironmentConfig, source: CodePipelineSource): iam.Role {
    const production = environment.profile === 'production';
    const suite = production ? 'smoke' : 'integ';
    const envAccount = environment.account ?? p.account;
    // The step's CodeBuild role here (tooling account) and the role it assumes in the environment's
    // account: each trusts exactly the other, by name (see PostDeployRole).
    const stepRoleName = environment.naming.postDeployStepRoleName;
    const stepRole = new iam.Role(this, `PostDeployStepRole-${environment.environmentSuffix}`, {
      roleName: stepRoleName,
      assumedBy: new iam.ServicePrincipal('codebuild.amazonaws.com'),
      description: `CodeBuild role of the ${suite} step of ${environment.environmentSuffix}: may only assume that stage's post-deploy role`,
    });
    const postDeployRoleArn = `arn:aws:iam::${envAccount}:role/${environment.naming.postDeployRoleName}`;
    const stage = new PipelineAppStage(this, environment.environmentSuffix, {
      config: environment,
      env: { account: envAccount, region: environment.region },
      // A literal ARN: a token would make the stage depend on this stack across the stage boundary.
      postDeploy: { trustedRoleArn: `arn:aws:iam::${p.account}:role/${stepRoleName}`, suite, protectStacks: production },
    });
    this.stages.push(stage);
    const previous = p.environments.filter((e) => e.profile !== 'production').map((e) => e.environmentSuffix);
    this.codePipeline.addStage(stage, {
      pre: production
        ? [
            new ManualApprovalStep(`Approve-${environment.environmentSuffix}`, {
              comment: `Promote to ${environment.environmentSuffix}: ${previous.join(', ') || 'no'} environment(s) deployed and passed integration tests. Review their outputs before approving.`,
              reviewUrl: `https://${p.region}.console.aws.amazon.com/cloudformation/home?region=${p.region}#/stacks?filteringText=${p.project}-&filteringStatus=active`,
            }),
          ]
        : [],
      post: [
        new IntegrationTestStep(production ? 'SmokeTest' : 'IntegrationTest', {
          input: source,
          environment,
          suite,
          role: stepRole,
          postDeployRoleArn,
          // CDK Pipelines deploys without terminationProtection (aws/aws-cdk#17871): the smoke step sets it.
          protectStacks: production,
        }),
        // Mutation testing once per run, beside the first non-production suite (see MutationTestStep).
        ...(p.environments.find((e) => e.profile !== 'production') === environment ? [new MutationTestStep(source)] : []),
      ],
    });
    return stepRole;
  }

  /** V2 trigger: a push to the branch starts a run unless it only touches documentation. */
  private addTrigger(p: PipelineConfig): void {
    const sourceAction = this.codePipeline.pipeline.stages[0].actions[0];
    this.codePipeline.pipeline.addTrigger({
      providerType: codepipeline.ProviderType.CODE_STAR_SOURCE_CONNECTION,
      gitConfiguration: {
        sourceAction,
        pushFilter: [{ branchesIncludes: [p.branch], filePathsExcludes: [...p.ignoredPaths] }],
      },
    });
    // The connection action role may use either ARN prefix (codestar-connections and codeconnections).
    for (const role of sourceActionRoles(this.codePipeline.pipeline)) grantUseConnection(role, p.connectionArn);
  }

  private addNotifications(p: PipelineConfig, names: ToolingNames, key: kms.IKey): sns.Topic {
    const topic = new sns.Topic(this, 'Notifications', {
      topicName: names.pipelineTopicName,
      masterKey: key,
      enforceSSL: true,
    });
    if (p.notificationEmail) topic.addSubscription(new subscriptions.EmailSubscription(p.notificationEmail));
    this.codePipeline.pipeline.notifyOn('PipelineNotifications', topic, {
      notificationRuleName: names.pipelineName,
      events: [
        codepipeline.PipelineNotificationEvents.PIPELINE_EXECUTION_FAILED,
        codepipeline.PipelineNotificationEvents.ACTION_EXECUTION_FAILED,
        codepipeline.PipelineNotificationEvents.MANUAL_APPROVAL_NEEDED,
        codepipeline.PipelineNotificationEvents.PIPELINE_EXECUTION_SUCCEEDED,
      ],
    });
    return topic;
  }
}
