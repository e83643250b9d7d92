import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import { ArtifactBucket } from '../../../lib/constructs/artifact-bucket';
import { getAtt, logicalIdOf, testStack, tlsOnlyBucketPolicy } from '../../helpers';

function build(destroyable: boolean) {
  const stack = testStack();
  const key = new kms.Key(stack, 'PipelineKey');
  const artifacts = new ArtifactBucket(stack, 'Artifacts', { encryptionKey: key, destroyable, logPrefix: 'artifacts/' });
  return { key, artifacts, template: Template.fromStack(stack) };
}

const PRIVATE = { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true };

describe('ArtifactBucket', () => {
  const kept = build(false);
  const destroyable = build(true);
  const { template, artifacts, key } = kept;

  test('artifacts: KMS with the given key, versioned, private, access-logged under the given prefix; old versions expire after 30 days', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          { BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: getAtt(key) } },
        ],
      },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: PRIVATE,
      LoggingConfiguration: { DestinationBucketName: { Ref: logicalIdOf(artifacts.accessLogs) }, LogFilePrefix: 'artifacts/' },
      LifecycleConfiguration: { Rules: [{ NoncurrentVersionExpiration: { NoncurrentDays: 30 }, Status: 'Enabled' }] },
    });
  });

  test('access logs: SSE-S3 (all that log delivery supports), versioned, private, kept a year', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: PRIVATE,
      LifecycleConfiguration: {
        Rules: [{ ExpirationInDays: 365, NoncurrentVersionExpiration: { NoncurrentDays: 30 }, Status: 'Enabled' }],
      },
    });
  });

  test('both buckets refuse requests without TLS, or with TLS older than 1.2', () => {
    for (const bucket of [artifacts.bucket, artifacts.accessLogs]) {
      template.hasResourceProperties('AWS::S3::BucketPolicy', tlsOnlyBucketPolicy(bucket));
    }
  });

  test('kept (production pipeline): both buckets retained, nothing empties them', () => {
    template.resourceCountIs('AWS::S3::Bucket', 2);
    template.allResources('AWS::S3::Bucket', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });

  test('destroyable (non-production pipeline): both buckets emptied and deleted with the stack', () => {
    destroyable.template.resourceCountIs('AWS::S3::Bucket', 2);
    destroyable.template.allResources('AWS::S3::Bucket', { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
    destroyable.template.resourceCountIs('Custom::S3AutoDeleteObjects', 2);
    for (const bucket of [destroyable.artifacts.bucket, destroyable.artifacts.accessLogs]) {
      destroyable.template.hasResourceProperties('Custom::S3AutoDeleteObjects', { BucketName: { Ref: logicalIdOf(bucket) } });
    }
  });
});
