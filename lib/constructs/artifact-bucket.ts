import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge, hipaaAndNist } from '../compliance/acknowledge';

export interface ArtifactBucketProps {
  readonly encryptionKey: kms.IKey;
  /** Emptied and deleted with the stack (non-production pipelines), or retained. */
  readonly destroyable: boolean;
  /** S3 server access log prefix. */
  readonly logPrefix: string;
}

/** A pipeline artifact bucket: KMS, versioned, TLS-only, private, with its own access-log bucket. */
export class ArtifactBucket extends Construct {
  public readonly bucket: s3.Bucket;
  public readonly accessLogs: s3.Bucket;

  constructor(scope: Construct, id: string, props: ArtifactBucketProps) {
    super(scope, id);
    const removalPolicy = props.destroyable ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    const common = {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      removalPolicy,
      autoDeleteObjects: props.destroyable,
    };
    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      ...common,
      encryption: s3.BucketEncryption.S3_MANAGED,
      lifecycleRules: [{ expiration: Duration.days(365), noncurrentVersionExpiration: Duration.days(30) }],
    });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      ...common,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: props.encryptionKey,
      bucketKeyEnabled: true,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: props.logPrefix,
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(30) }],
    });

    const sseS3Reason =
      'S3 server access log delivery supports only SSE-S3 on the target bucket; it holds request metadata of the artifact bucket, never PHI, and blocks public access and non-TLS requests.';
    acknowledge(this.accessLogs, ...hipaaAndNist('S3DefaultEncryptionKMS', sseS3Reason));
    const replicationReason =
      'Pipeline artifacts are reproducible from the repository at any commit, so a second-region copy adds no recovery capability; the bucket is versioned and KMS-encrypted.';
    for (const bucket of [this.bucket, this.accessLogs]) {
      acknowledge(bucket, ...hipaaAndNist('S3BucketReplicationEnabled', replicationReason));
    }
  }
}
