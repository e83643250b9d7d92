import { CfnOutput, DefaultStackSynthesizer, Stage, StageProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { EnvironmentConfig } from '../lib/config';
import { BRANCH_SUFFIX_PREFIX } from '../lib/config/branch-suffix';
import { EnvironmentCap } from '../lib/constructs/environment-cap';
import type { EncryptedLogGroup } from '../lib/constructs/encrypted-log-group';
import type { PostDeploySuite } from '../lib/constructs/post-deploy-role';
import { AuditStack } from '../lib/stacks/audit-stack';
import { ComputeStack } from '../lib/stacks/compute-stack';
import { DataStack } from '../lib/stacks/data-stack';
import { NetworkStack } from '../lib/stacks/network-stack';

export interface PipelineAppStageProps extends StageProps {
  readonly config: EnvironmentConfig;
  /** The role the post-deploy step assumes (see ComputeStackProps.postDeploy). @default - none */
  readonly postDeploy?: { readonly trustedRoleArn: string; readonly suite: PostDeploySuite; readonly protectStacks?: boolean };
  /**
   * Deploy through the CDK bootstrap with this qualifier (per-branch environments: the sandbox
   * account's own bootstrap, see EphemeralConfig.bootstrapQualifier). @default - the default bootstrap
   */
  readonly bootstrapQualifier?: string;
  /**
   * For a per-branch environment: the most per-branch environments that may exist at once
   * (`ephemeral.maxEnvironments`), enforced at deploy time by its network stack (EnvironmentCap).
   * @default - no cap (long-lived environments)
   */
  readonly maxEnvironments?: number;
}

/**
 * One environment of the product: the network, data, audit and compute stacks for one
 * environmentSuffix. It only composes stacks and exposes their outputs.
 */
export class PipelineAppStage extends Stage {
  public readonly config: EnvironmentConfig;
  public readonly network: NetworkStack;
  public readonly data: DataStack;
  public readonly audit: AuditStack;
  public readonly compute: ComputeStack;
  /** Outputs the post-deploy steps read, by output key. */
  public readonly outputs: Readonly<Record<string, CfnOutput>>;

  constructor(scope: Construct, id: string, props: PipelineAppStageProps) {
    const { config } = props;
    super(scope, id, { ...props, env: props.env ?? { account: config.account, region: config.region } });
    this.config = config;
    const synth = () => (props.bootstrapQualifier ? { synthesizer: new DefaultStackSynthesizer({ qualifier: props.bootstrapQualifier }) } : {});

    this.network = new NetworkStack(this, 'Network', { config, ...synth() });
    if (props.maxEnvironments !== undefined) {
      if (!config.ephemeral) throw new Error(`maxEnvironments is for per-branch environments only; stage ${id} has no branch`);
      // The first stack of the environment checks the cap before its VPC is created.
      new EnvironmentCap(this.network, 'EnvironmentCap', {
        project: config.project,
        environmentSuffix: config.environmentSuffix,
        maxEnvironments: props.maxEnvironments,
        firstStackPrefix: `${config.project}-network-${BRANCH_SUFFIX_PREFIX}`,
        logGroup: (this.network.node.findChild('CustomResourceLogs') as EncryptedLogGroup).logGroup,
        before: [this.network.network],
      });
    }
    this.data = new DataStack(this, 'Data', {
      ...synth(),
      config,
      vpc: this.network.vpc,
      databaseSecurityGroup: this.network.network.databaseSecurityGroup,
    });
    this.audit = new AuditStack(this, 'Audit', {
      ...synth(),
      config,
      stream: this.data.recordStream.stream,
      databaseLogGroup: this.data.database.logGroups.postgresql.logGroup,
    });
    this.compute = new ComputeStack(this, 'Compute', {
      ...synth(),
      config,
      vpc: this.network.vpc,
      workloadSecurityGroup: this.network.network.workloadSecurityGroup,
      stream: this.data.recordStream.stream,
      database: this.data.database.instance,
      databaseSecret: this.data.database.masterSecret,
      alarmTopic: this.audit.alarmTopic.topic,
      postDeploy: props.postDeploy,
    });


    const outputs: Record<string, CfnOutput> = {};
    for (const stack of [this.network, this.data, this.audit, this.compute]) {
      for (const child of stack.node.children) {
        if (!(child instanceof CfnOutput)) continue;
        // flat-outputs.json merges all stacks' outputs by key; a repeated key would lose a value.
        if (outputs[child.node.id]) throw new Error(`output key "${child.node.id}" is defined twice in stage ${id}: output keys must be unique across its stacks`);
        outputs[child.node.id] = child;
      }
    }
    this.outputs = outputs;
  }
}
