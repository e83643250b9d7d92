import { RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { RecordStream } from '../../../lib/constructs/record-stream';
import { getAtt, testStack } from '../../helpers';

describe('RecordStream', () => {
  const stack = testStack();
  const key = new kms.Key(stack, 'StreamKey');
  new RecordStream(stack, 'Provisioned', {
    streamName: 'hipaa-fhir-records-dev',
    encryptionKey: key,
    settings: { shardCount: 1, retentionHours: 24, maxRecordSizeKiB: 1024 },
    removalPolicy: RemovalPolicy.DESTROY,
  });
  new RecordStream(stack, 'OnDemand', {
    streamName: 'hipaa-fhir-records-prod',
    encryptionKey: key,
    settings: { shardCount: 0, retentionHours: 168, maxRecordSizeKiB: 10240 },
    removalPolicy: RemovalPolicy.RETAIN,
  });
  const template = Template.fromStack(stack);
  const streams = stack.node.findAll().filter((c): c is RecordStream => c instanceof RecordStream);

  test('the stream is encrypted with the given customer managed key, under the given name', () => {
    template.resourceCountIs('AWS::Kinesis::Stream', 2);
    template.allResourcesProperties('AWS::Kinesis::Stream', { StreamEncryption: { EncryptionType: 'KMS', KeyId: getAtt(key) } });
  });

  test('a shard count provisions that many shards, with the given retention', () => {
    template.hasResource('AWS::Kinesis::Stream', {
      Properties: {
        Name: 'hipaa-fhir-records-dev',
        StreamModeDetails: { StreamMode: 'PROVISIONED' },
        ShardCount: 1,
        RetentionPeriodHours: 24,
      },
      DeletionPolicy: 'Delete',
      UpdateReplacePolicy: 'Delete',
    });
  });

  test('a shard count of 0 selects on-demand capacity (no shard count), with the given retention and removal policy', () => {
    template.hasResource('AWS::Kinesis::Stream', {
      Properties: {
        Name: 'hipaa-fhir-records-prod',
        StreamModeDetails: { StreamMode: 'ON_DEMAND' },
        ShardCount: Match.absent(),
        RetentionPeriodHours: 168,
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  test('the largest record the stream accepts is set on the stream (MaxRecordSizeInKiB) and given in bytes to its processor', () => {
    template.hasResourceProperties('AWS::Kinesis::Stream', { Name: 'hipaa-fhir-records-dev', MaxRecordSizeInKiB: 1024 });
    template.hasResourceProperties('AWS::Kinesis::Stream', { Name: 'hipaa-fhir-records-prod', MaxRecordSizeInKiB: 10240 });
    expect(streams.map((s) => s.maxRecordBytes)).toEqual([1_048_576, 10_485_760]);
  });
});
