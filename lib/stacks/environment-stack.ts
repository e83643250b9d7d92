import { CfnOutput, Stack, StackProps, Tags } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { EnvironmentConfig } from '../config';
import { Layer, LAYER_INFO, LayerOutputKey } from '../contract';

export interface EnvironmentStackProps extends StackProps {
  readonly config: EnvironmentConfig;
}

/**
 * Base of the layer stacks of an environment: named `<project>-<layer>-<suffix>`, tagged, protected
 * from deletion in production, with availability zones pinned from config so synth needs no
 * look-up, and outputs limited to the keys the environment contract declares for its layer.
 */
export abstract class EnvironmentStack<L extends Layer> extends Stack {
  public readonly config: EnvironmentConfig;
  public readonly layer: L;
  private readonly pinnedAzs: string[];

  protected constructor(scope: Construct, id: string, layer: L, props: EnvironmentStackProps) {
    const { config } = props;
    const tags = { ...config.tags, ...(LAYER_INFO[layer].phi ? { DataClassification: 'PHI' } : {}), ...props.tags };
    super(scope, id, {
      ...props,
      stackName: config.naming.stackName(layer),
      description: `${LAYER_INFO[layer].description} (${config.project}, environment ${config.environmentSuffix}, ${config.profile} profile)`,
      terminationProtection: config.profile === 'production',
      // Stack tags are explicit (@aws-cdk/core:explicitStackTags): the preview-environment tooling
      // finds environments by them.
      tags,
    });
    // The same tags on every taggable resource, in the template itself.
    for (const [key, value] of Object.entries(tags)) Tags.of(this).add(key, value);
    this.config = config;
    this.layer = layer;
    this.pinnedAzs = [...config.network.availabilityZones];
  }

  override get availabilityZones(): string[] {
    return this.pinnedAzs;
  }

  /** A stack output; its key must be one the environment contract declares for this layer. */
  protected output(key: LayerOutputKey<L>, value: string, description?: string): CfnOutput {
    return new CfnOutput(this, key, { value, ...(description ? { description } : {}) });
  }
}
