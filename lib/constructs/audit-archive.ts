import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge, hipaaAndNist } from '../compliance/acknowledge';

export interface AuditBucketOptions {
  /** How long an object is kept. */
  readonly retentionDays: number;
  /** DESTROY also empties the buckets so the stack deletes cleanly (never with Object Lock). */
  readonly removalPolicy: RemovalPolicy;
  /** Object Lock in compliance mode for this many days. @default - no Object Lock */
  readonly objectLockDays?: number;
}

/**
 * Props of an audit bucket (KMS, TLS only, no public access, versioned, optionally Object-Locked) and of the
 * bucket its server access logs go to. Object Lock needs versioning, which both have; a locked version cannot
 * be deleted before its retention ends, so non-current versions are kept at least that long, and never less
 * than the retention (a deleted or overwritten file stays recoverable for as long as the current one would).
 * Object Lock on a new bucket: https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-configure.html
 * (CloudFormation: ObjectLockEnabled and ObjectLockConfiguration of AWS::S3::Bucket).
 */
export function auditBucketProps(options: AuditBucketOptions): { accessLogs: s3.BucketProps; bucket: s3.BucketProps } {
  const destroy = options.removalPolicy === RemovalPolicy.DESTROY;
  const lockDays = options.objectLockDays ?? 0;
  if (lockDays > 0 && destroy)
    throw new Error('an Object-Locked audit bucket cannot be destroyed with its stack: use RETAIN, or no Object Lock');
  const keepDays = Math.max(options.retentionDays, lockDays);
  const common = {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    versioned: true,
    removalPolicy: options.removalPolicy,
    autoDeleteObjects: destroy,
  } satisfies s3.BucketProps;
  return {
    // S3 server access log delivery supports SSE-S3 only, and not into an Object-Locked bucket.
    accessLogs: {
      ...common,
      encryption: s3.BucketEncryption.S3_MANAGED,
      lifecycleRules: [
        { expiration: Duration.days(options.retentionDays), noncurrentVersionExpiration: Duration.days(options.retentionDays) },
      ],
    },
    bucket: {
      ...common,
      encryption: s3.BucketEncryption.KMS,
      bucketKeyEnabled: true,
      lifecycleRules: [{ expiration: Duration.days(options.retentionDays), noncurrentVersionExpiration: Duration.days(keepDays) }],
      ...(lockDays > 0
        ? { objectLockEnabled: true, objectLockDefaultRetention: s3.ObjectLockRetention.compliance(Duration.days(lockDays)) }
        : {}),
    },
  };
}

export interface AuditArchiveProps extends AuditBucketOptions {
  readonly bucketName: string;
  readonly encryptionKey: kms.IKey;
}

/**
 * The environment's archive of audit evidence that must outlive the people it audits: the exported heads of
 * the audit_event hash chains (lib/processor/tasks/audit-chain). Object-Locked in compliance mode where the
 * profile says so, with its own server access log bucket. It holds chain positions and hashes, never PHI.
 */
export class AuditArchive extends Construct {
  public readonly bucket: s3.Bucket;
  public readonly accessLogsBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: AuditArchiveProps) {
    super(scope, id);
    const buckets = auditBucketProps(props);
    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogsBucket', buckets.accessLogs);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      ...buckets.bucket,
      bucketName: props.bucketName,
      encryptionKey: props.encryptionKey,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'archive-bucket/',
    });
    acknowledge(
      this.accessLogsBucket,
      ...hipaaAndNist(
        'S3DefaultEncryptionKMS',
        'S3 server access log delivery supports only SSE-S3 on the target bucket; the bucket holds request metadata of the archive bucket, never PHI, and blocks public access and non-TLS requests.',
      ),
    );
    const replicationReason =
      'The archive holds audit chain heads (positions and hashes, no PHI), versioned and Object-Locked in production in a multi-AZ S3 bucket; a copy in another account is the log-archive account’s organization-level replication, not a per-environment bucket.';
    for (const bucket of [this.bucket, this.accessLogsBucket]) {
      acknowledge(bucket, ...hipaaAndNist('S3BucketReplicationEnabled', replicationReason));
    }
  }
}
