import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { acknowledge } from '../compliance/acknowledge';
import type { StreamSettings } from '../config';

export interface RecordStreamProps {
  readonly streamName: string;
  readonly encryptionKey: kms.IKey;
  /** Capacity (a shard count of 0 selects on-demand), retention and the largest record accepted. */
  readonly settings: StreamSettings;
  readonly removalPolicy: RemovalPolicy;
}

/** The ingestion stream: FHIR R4 resources or Bundles (plain, KPL-aggregated, gzip/zlib, NDJSON), partition key = patient id. */
export class RecordStream extends Construct {
  public readonly stream: kinesis.Stream;
  /** The largest record the stream accepts (bytes, partition key included): the processor's MAX_RECORD_BYTES follows it. */
  public readonly maxRecordBytes: number;

  constructor(scope: Construct, id: string, props: RecordStreamProps) {
    super(scope, id);
    const { shardCount, retentionHours, maxRecordSizeKiB } = props.settings;
    const onDemand = shardCount === 0;
    this.stream = new kinesis.Stream(this, 'Stream', {
      streamName: props.streamName,
      encryption: kinesis.StreamEncryption.KMS,
      encryptionKey: props.encryptionKey,
      streamMode: onDemand ? kinesis.StreamMode.ON_DEMAND : kinesis.StreamMode.PROVISIONED,
      shardCount: onDemand ? undefined : shardCount,
      retentionPeriod: Duration.hours(retentionHours),
      removalPolicy: props.removalPolicy,
    });
    // The L2 has no prop for it yet; CloudFormation has MaxRecordSizeInKiB (1024-10240), applied with UpdateMaxRecordSize:
    // https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-kinesis-stream.html#cfn-kinesis-stream-maxrecordsizeinkib
    (this.stream.node.defaultChild as kinesis.CfnStream).maxRecordSizeInKiB = maxRecordSizeKiB;
    this.maxRecordBytes = maxRecordSizeKiB * 1024;
    acknowledge(this.stream, {
      id: 'AwsSolutions-KDS3',
      reason:
        'The stream carries PHI: a customer managed key is required so that key policy limits who can decrypt, every use is in CloudTrail, and disabling the key crypto-shreds the data.',
    });
  }
}
