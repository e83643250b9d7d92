/**
 * The shape of one environment, as every part of the product sees it: its layers in deploy order and
 * the outputs each layer's stack publishes. The stage, the stacks, the post-deploy roles, the
 * integration step, scripts/operations/preview.ts, scripts/operations/write-flat-outputs.ts and the tests all read these
 * lists; adding a layer starts here (and the compiler then asks for its stack in the stage).
 *
 * No CDK and no runtime imports: infrastructure, scripts and the processor may all import this.
 */

/** The stack layers of one environment, in deployment order (teardown is the reverse). */
export const LAYERS = ['network', 'data', 'audit', 'compute'] as const;
export type Layer = (typeof LAYERS)[number];

/** Deletion order: the reverse of deployment. */
export const LAYERS_TEARDOWN: readonly Layer[] = [...LAYERS].reverse();

/** What each layer holds; `phi` layers are tagged DataClassification=PHI. */
export const LAYER_INFO: Readonly<Record<Layer, { readonly description: string; readonly phi: boolean }>> = {
  network: { description: 'Isolated VPC, VPC endpoints and flow logs', phi: false },
  data: { description: 'PHI stores: Kinesis stream and RDS PostgreSQL', phi: true },
  audit: { description: 'Audit trail, audit log groups and security alarms', phi: false },
  compute: { description: 'ECS Fargate FHIR processor', phi: true },
};

/**
 * The CloudFormation outputs of each layer's stack. Keys are unique across the layers, so
 * `cfn-outputs/flat-outputs.json` can merge them into one `{OutputKey: OutputValue}` map.
 * `optional` outputs exist only in some configurations (named in the comment).
 */
export const LAYER_OUTPUTS = {
  network: {
    required: [
      'EnvironmentSuffix',
      'AwsRegion',
      'VpcId',
      'WorkloadSubnetIds',
      'DatabaseSubnetIds',
      'WorkloadSecurityGroupId',
      'FlowLogGroupName',
      'FlowLogKeyArn',
    ],
    optional: [],
  },
  data: {
    required: [
      'StreamName',
      'StreamArn',
      'StreamKeyArn',
      'ProducerRoleArn',
      'DatabaseInstanceIdentifier',
      'DatabaseEndpointAddress',
      'DatabaseEndpointPort',
      'DatabaseName',
      'DatabaseSecretArn',
      'DatabaseKeyArn',
      'DatabaseLogKeyArn',
      'DatabaseLogGroupName',
    ],
    // BackupVaultName: the production profile's AWS Backup plan. DatabaseSecretName: an existing secret (not a
    // preview's, whose secret RDS names).
    optional: ['BackupVaultName', 'DatabaseSecretName'],
  },
  audit: {
    required: ['AuditKeyArn', 'ApplicationAuditLogGroupName', 'SecurityAlarmTopicArn', 'TrailMode', 'TrailName', 'AuditArchiveBucketName'],
    optional: [],
  },
  compute: {
    required: [
      'ProcessorClusterName',
      'ProcessorServiceName',
      'ProcessorTaskDefinitionArn',
      'ProcessorLogGroupName',
      'ProcessorLogKeyArn',
      'DashboardName',
      'DashboardUrl',
      'AuditChainRuleName',
      'ReadApiUrl',
    ],
    // PostDeployRoleArn: a stage deployed by a pipeline (the post-deploy step assumes it).
    // RestoreDrill*: the restore drill, when enabled (production profile by default).
    // ReaderRoleArn: an environment with readers in cdk.json, or whose post-deploy step reads back.
    // SecretRotationFunctionName: an environment that rotates its existing master secret (databaseRotationDays).
    optional: ['PostDeployRoleArn', 'RestoreDrillTaskDefinitionArn', 'RestoreDrillRuleName', 'ReaderRoleArn', 'SecretRotationFunctionName'],
  },
} as const satisfies Record<Layer, { readonly required: readonly string[]; readonly optional: readonly string[] }>;

/** An output key of one layer's stack. */
export type LayerOutputKey<L extends Layer> = (typeof LAYER_OUTPUTS)[L]['required'][number] | (typeof LAYER_OUTPUTS)[L]['optional'][number];
/** An output key of any layer. */
export type OutputKey = { [L in Layer]: LayerOutputKey<L> }[Layer];
/** Keys every deployed stage has. */
export type RequiredOutputKey = { [L in Layer]: (typeof LAYER_OUTPUTS)[L]['required'][number] }[Layer];

/** Every output key, in layer order. */
export const OUTPUT_KEYS: readonly OutputKey[] = LAYERS.flatMap((layer) => [
  ...LAYER_OUTPUTS[layer].required,
  ...LAYER_OUTPUTS[layer].optional,
]);

/**
 * Keys the local stack (`npm run local`) adds to its flat outputs: the emulator endpoint and the
 * local database login. Never present for an AWS environment.
 */
export const LOCAL_OUTPUT_KEYS = ['KinesisEndpoint', 'LocalDatabaseUser', 'LocalDatabasePassword'] as const;
export type LocalOutputKey = (typeof LOCAL_OUTPUT_KEYS)[number];

/** `cfn-outputs/flat-outputs.json`: every required key, the optional ones where they exist. */
export type FlatOutputs = Readonly<
  Record<RequiredOutputKey, string> & Partial<Record<Exclude<OutputKey, RequiredOutputKey> | LocalOutputKey, string>>
>;

/** The layer whose stack publishes an output key. */
export function layerOfOutput(key: string): Layer | undefined {
  return LAYERS.find(
    (layer) =>
      (LAYER_OUTPUTS[layer].required as readonly string[]).includes(key) ||
      (LAYER_OUTPUTS[layer].optional as readonly string[]).includes(key),
  );
}
