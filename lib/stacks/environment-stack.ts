import { Stack, StackProps, Tags } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { EnvironmentConfig, Layer } from '../config';

export interface EnvironmentStackProps extends StackProps {
  readonly config: EnvironmentConfig;
}

/** Layers that hold PHI get DataClassification=PHI. */
const PHI_LAYERS: readonly Layer[] = ['data', 'compute'];

/**
 * Base of the four layer stacks: named `<project>-<layer>-<suffix>`, tagged, protected from
 * deletion in production, and with availability zones pinned from config so synth needs no look-up.
 */
export abstract class EnvironmentStack extends Stack {
  public readonly config: EnvironmentConfig;
  private readonly pinnedAzs: string[];

  protected constructor(scope: Construct, id: string, layer: Layer, description: string, props: EnvironmentStackProps) {
    const tags = { ...props.config.tags, ...(PHI_LAYERS.includes(layer) ? { DataClassification: 'PHI' } : {}), ...props.tags };
    super(scope, id, {
      ...props,
      stackName: props.config.naming.stackName(layer),
      description: `${description} (${props.config.project}, environment ${props.config.environmentSuffix}, ${props.config.profile} profile)`,
      terminationProtection: props.config.profile === 'production',
      // Stack tags are explicit (@aws-cdk/core:explicitStackTags): the ephemeral-environment
      // tooling finds environments by them.
      tags,
    });
    // The same tags on every taggable resource, in the template itself.
    for (const [key, value] of Object.entries(tags)) Tags.of(this).add(key, value);
    this.config = props.config;
    this.pinnedAzs = [...props.config.network.availabilityZones];
  }

  override get availabilityZones(): string[] {
    return this.pinnedAzs;
  }
}
