import { CfnOutput, Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { CodeBuildStep, CodePipeline, CodePipelineSource, ManualApprovalStep } from 'aws-cdk-lib/pipelines';
import { Construct } from 'constructs';
import { acknowledgePipelineFindings } from '../compliance/pipeline-findings';
import type { PipelineConfig } from '../config';
import { ArtifactBucket } from '../constructs/artifact-bucket';
import { EncryptedLogGroup } from '../constructs/encrypted-log-group';
import { EncryptionKey } from '../constructs/encryption-key';
import { PipelineAppStage } from '../../stages/pipeline-app-stage';
import { IntegrationTestStep } from './integration-test-step';

export interface PipelineStackProps extends StackProps {
  readonly pipeline: PipelineConfig;
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
    super(scope, id, {
      ...props,
      stackName: `${p.project}-pipeline`,
      env: { account: p.account, region: p.region },
      description: `Delivery pipeline of ${p.project} (${p.repository}@${p.branch})`,
      terminationProtection: !p.destroyable,
      tags: { Project: p.project, Component: 'delivery-pipeline', ...props.tags },
    });
    const removalPolicy = p.destroyable ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    const buildLogGroupName = `/${p.project}/pipeline/codebuild`;

    const key = new EncryptionKey(this, 'PipelineKey', {
      alias: `alias/${p.project}/pipeline`,
      description: `Artifacts, build logs and notifications of the ${p.project} pipeline`,
      removalPolicy,
      pendingWindowDays: p.destroyable ? 7 : 30,
      logGroupNamePatterns: [buildLogGroupName],
    });
    key.key.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowCodeStarNotificationsToPublishEncrypted',
      principals: [new iam.ServicePrincipal('codestar-notifications.amazonaws.com')],
      actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
      resources: ['*'],
      conditions: { StringEquals: { 'kms:ViaService': `sns.${p.region}.amazonaws.com` } },
    }));

    const artifacts = new ArtifactBucket(this, 'Artifacts', { encryptionKey: key.key, destroyable: p.destroyable, logPrefix: 'artifacts/' });
    const artifactBucket = artifacts.bucket;

    const buildLogs = new EncryptedLogGroup(this, 'BuildLogs', {
      logGroupName: buildLogGroupName,
      encryptionKey: key.key,
      retentionDays: 365,
      removalPolicy,
    });

    // DetectChanges off: the filtered V2 trigger below decides which pushes start a run (AWS pairs filters with it off).
    const source = CodePipelineSource.connection(p.repository, p.branch, { connectionArn: p.connectionArn, triggerOnPush: false });
    const synth = new CodeBuildStep('Synth', {
      input: source,
      installCommands: ['npm ci --no-audit --no-fund'],
      // npm test: typecheck, unit tests (compliance gate included), local integration suite.
      commands: ['npm test', 'npx cdk synth --no-lookups'],
      primaryOutputDirectory: 'cdk.out',
    });

    const crossAccount = p.environments.some((e) => e.account !== undefined && e.account !== p.account);
    this.codePipeline = new CodePipeline(this, 'Pipeline', {
      pipelineName: `${p.project}-pipeline`,
      pipelineType: codepipeline.PipelineType.V2,
      synth,
      selfMutation: true,
      crossAccountKeys: crossAccount,
      enableKeyRotation: crossAccount ? true : undefined,
      artifactBucket,
      useChangeSets: true,
      publishAssetsInParallel: false,
      codeBuildDefaults: {
        buildEnvironment: { buildImage: codebuild.LinuxBuildImage.STANDARD_7_0, computeType: codebuild.ComputeType.MEDIUM },
        logging: { cloudWatch: { logGroup: buildLogs.logGroup } },
        timeout: Duration.minutes(60),
      },
    });

    for (const environment of p.environments) {
      const stage = new PipelineAppStage(this, environment.environmentSuffix, {
        config: environment,
        env: { account: environment.account ?? p.account, region: environment.region },
      });
      this.stages.push(stage);
      const production = environment.profile === 'production';
      const previous = p.environments.filter((e) => e.profile !== 'production').map((e) => e.environmentSuffix);
      this.codePipeline.addStage(stage, {
        pre: production ? [new ManualApprovalStep(`Approve-${environment.environmentSuffix}`, {
          comment: `Promote to ${environment.environmentSuffix}: ${previous.join(', ') || 'no'} environment(s) deployed and passed integration tests. Review their outputs before approving.`,
          reviewUrl: `https://${p.region}.console.aws.amazon.com/cloudformation/home?region=${p.region}#/stacks?filteringText=${p.project}-&filteringStatus=active`,
        })] : [],
        post: [new IntegrationTestStep(production ? 'SmokeTest' : 'IntegrationTest', { input: source, environment, suite: production ? 'smoke' : 'integ', account: environment.account ?? p.account })],
      });
    }
    this.codePipeline.buildPipeline();

    // V2 trigger: a push to the branch starts a run unless it only touches documentation.
    const sourceAction = this.codePipeline.pipeline.stages[0].actions[0];
    this.codePipeline.pipeline.addTrigger({
      providerType: codepipeline.ProviderType.CODE_STAR_SOURCE_CONNECTION,
      gitConfiguration: {
        sourceAction,
        pushFilter: [{ branchesIncludes: [p.branch], filePathsExcludes: [...p.ignoredPaths] }],
      },
    });
    // The connection action role may use either ARN prefix (codestar-connections and codeconnections).
    const connectionResource = p.connectionArn;
    const altConnectionResource = connectionResource.includes(':codeconnections:')
      ? connectionResource.replace(':codeconnections:', ':codestar-connections:')
      : connectionResource.replace(':codestar-connections:', ':codeconnections:');
    const sourceRole = this.codePipeline.pipeline.node.findAll()
      .find((c): c is iam.Role => c instanceof iam.Role && c.node.id === 'CodePipelineActionRole' && c.node.scope?.node.scope?.node.id === 'Source');
    if (!sourceRole) throw new Error('the source action role was not found; CDK Pipelines changed its layout');
    sourceRole.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['codestar-connections:UseConnection', 'codeconnections:UseConnection'],
      resources: [connectionResource, altConnectionResource],
    }));

    this.notificationTopic = new sns.Topic(this, 'Notifications', {
      topicName: `${p.project}-pipeline-notifications`,
      masterKey: key.key,
      enforceSSL: true,
    });
    if (p.notificationEmail) this.notificationTopic.addSubscription(new subscriptions.EmailSubscription(p.notificationEmail));
    this.codePipeline.pipeline.notifyOn('PipelineNotifications', this.notificationTopic, {
      notificationRuleName: `${p.project}-pipeline`,
      events: [
        codepipeline.PipelineNotificationEvents.PIPELINE_EXECUTION_FAILED,
        codepipeline.PipelineNotificationEvents.ACTION_EXECUTION_FAILED,
        codepipeline.PipelineNotificationEvents.MANUAL_APPROVAL_NEEDED,
        codepipeline.PipelineNotificationEvents.PIPELINE_EXECUTION_SUCCEEDED,
      ],
    });

    acknowledgePipelineFindings(this.codePipeline);

    new CfnOutput(this, 'PipelineName', { value: this.codePipeline.pipeline.pipelineName });
    new CfnOutput(this, 'PipelineNotificationTopicArn', { value: this.notificationTopic.topicArn });
    new CfnOutput(this, 'ArtifactBucketName', { value: artifactBucket.bucketName });
  }
}
