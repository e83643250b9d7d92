import { CfnOutput, DefaultStackSynthesizer, Stage, StageProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { EnvironmentConfig } from '../lib/config';
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
