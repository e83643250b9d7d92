import { CfnOutput, DefaultStackSynthesizer, Stage, StageProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { EnvironmentConfig } from '../lib/config';
import { Layer, LAYERS } from '../lib/contract';
import { AuditStack } from '../lib/stacks/audit-stack';
import { ComputeStack, PostDeployProps } from '../lib/stacks/compute-stack';
import { DataStack } from '../lib/stacks/data-stack';
import type { EnvironmentStack } from '../lib/stacks/environment-stack';
import { NetworkStack } from '../lib/stacks/network-stack';

export interface PipelineAppStageProps extends StageProps {
  readonly config: EnvironmentConfig;
  /** The role the post-deploy step assumes (see ComputeStackProps.postDeploy). @default - none */
  readonly postDeploy?: PostDeployProps;
  /**
   * Deploy through the CDK bootstrap with this qualifier (preview environments: the sandbox
   * account's own bootstrap, see PreviewConfig.bootstrapQualifier). @default - the default bootstrap
   */
  readonly bootstrapQualifier?: string;
  /**
   * For a preview environment: the most preview environments that may exist at once
   * (`previews.maxEnvironments`), enforced at deploy time by its network stack (EnvironmentCap).
   * @default - no cap (long-lived environments)
   */
  readonly maxPreviews?: number;
}

/**
 * One environment of the product: a stack per layer of the environment contract (lib/contract), for
 * one environmentSuffix. It only composes the stacks, hands each the typed resources of the layers
 * below it, and exposes their outputs.
 */
export class PipelineAppStage extends Stage {
  public readonly config: EnvironmentConfig;
  /** The stack of each layer. */
  public readonly stacks: { readonly [L in Layer]: EnvironmentStack<L> };
  public readonly network: NetworkStack;
  public readonly data: DataStack;
  public readonly audit: AuditStack;
  public readonly compute: ComputeStack;
  /** Outputs the post-deploy steps read, by output key (keys are unique across layers: see the contract). */
  public readonly outputs: Readonly<Record<string, CfnOutput>>;

  constructor(scope: Construct, id: string, props: PipelineAppStageProps) {
    const { config } = props;
    super(scope, id, { ...props, env: props.env ?? { account: config.account, region: config.region } });
    this.config = config;
    const common = {
      config,
      ...(props.bootstrapQualifier ? { synthesizer: new DefaultStackSynthesizer({ qualifier: props.bootstrapQualifier }) } : {}),
    };

    const network = (this.network = new NetworkStack(this, 'Network', { ...common, maxPreviews: props.maxPreviews }));
    const data = (this.data = new DataStack(this, 'Data', { ...common, network }));
    const audit = (this.audit = new AuditStack(this, 'Audit', { ...common, data }));
    this.compute = new ComputeStack(this, 'Compute', { ...common, network, data, audit, postDeploy: props.postDeploy });
    // Adding a layer to the contract makes this object incomplete: the compiler asks for its stack.
    this.stacks = { network, data, audit, compute: this.compute };

    const outputs: Record<string, CfnOutput> = {};
    for (const layer of LAYERS) {
      for (const child of this.stacks[layer].node.children) {
        if (child instanceof CfnOutput) outputs[child.node.id] = child;
      }
    }
    this.outputs = outputs;
  }

  /** The stacks in deployment order. */
  get stackList(): readonly EnvironmentStack<Layer>[] {
    return LAYERS.map((layer) => this.stacks[layer]);
  }
}
