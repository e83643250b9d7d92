import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge, hipaaAndNist } from '../compliance/acknowledge';

/** Which Kinesis streams the trail records data events (GetRecords, PutRecords, ...) for. */
export type StreamSelector = { readonly kind: 'arns'; readonly arns: string[] } | { readonly kind: 'arnPrefix'; readonly prefix: string };

export interface SecurityTrailProps {
  readonly trailName: string;
  /** Encrypts log files and the bucket; its policy must admit this trail (EncryptionKey.cloudTrailName). */
  readonly encryptionKey: kms.IKey;
  /** CMK-encrypted group the trail also delivers to, for metric filters and queries. */
  readonly logGroup: logs.ILogGroup;
  readonly streams: StreamSelector;
  /** Log file retention in the bucket. */
  readonly retentionDays: number;
  /** DESTROY also empties the buckets so the stack deletes cleanly. */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * A CloudTrail trail for management events (read and write) and Kinesis data events, with log
 * file validation, KMS encryption, a TLS-only bucket that blocks public access, and S3 server
 * access logging of that bucket.
 */
export class SecurityTrail extends Construct {
  public readonly trail: cloudtrail.Trail;
  public readonly bucket: s3.Bucket;
  public readonly accessLogsBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: SecurityTrailProps) {
    super(scope, id);
    const destroy = props.removalPolicy === RemovalPolicy.DESTROY;

    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogsBucket', {
      // S3 server access log delivery supports SSE-S3 only.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      lifecycleRules: [{ expiration: Duration.days(props.retentionDays), noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy: props.removalPolicy,
      autoDeleteObjects: destroy,
    });

    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: props.encryptionKey,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'trail-bucket/',
      lifecycleRules: [{ expiration: Duration.days(props.retentionDays), noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy: props.removalPolicy,
      autoDeleteObjects: destroy,
    });

    this.trail = new cloudtrail.Trail(this, 'Trail', {
      trailName: props.trailName,
      bucket: this.bucket,
      encryptionKey: props.encryptionKey,
      enableFileValidation: true,
      includeGlobalServiceEvents: true,
      isMultiRegionTrail: false,
      sendToCloudWatchLogs: true,
      cloudWatchLogGroup: props.logGroup,
    });

    const sseS3Reason =
      'S3 server access log delivery supports only SSE-S3 on the target bucket; the bucket holds request metadata of the trail bucket, never PHI, and blocks public access and non-TLS requests.';
    acknowledge(this.accessLogsBucket, ...hipaaAndNist('S3DefaultEncryptionKMS', sseS3Reason));
    const replicationReason =
      'Trail files are versioned, digest-validated and kept for the retention period in a multi-AZ S3 bucket; copying audit logs to another region or a log-archive account is done centrally (organization trail), not per environment.';
    for (const bucket of [this.bucket, this.accessLogsBucket]) {
      acknowledge(bucket, ...hipaaAndNist('S3BucketReplicationEnabled', replicationReason));
    }
    const inlineReason =
      "CDK generates this role's policy for CloudTrail delivery to exactly one log group; as an inline policy it cannot be attached to, or widened for, any other principal.";
    acknowledge(this.trail.node.findChild('LogsRole'), ...hipaaAndNist('IAMNoInlinePolicy', inlineReason));

    const streamField: cloudtrail.CfnTrail.AdvancedFieldSelectorProperty =
      props.streams.kind === 'arns'
        ? { field: 'resources.ARN', equalTo: props.streams.arns }
        : { field: 'resources.ARN', startsWith: [props.streams.prefix] };
    // Advanced selectors replace basic ones (a trail may not have both); management events must be selected here too.
    const cfnTrail = this.trail.node.defaultChild as cloudtrail.CfnTrail;
    cfnTrail.eventSelectors = undefined;
    cfnTrail.advancedEventSelectors = [
      { name: 'Management events', fieldSelectors: [{ field: 'eventCategory', equalTo: ['Management'] }] },
      {
        name: 'Kinesis data events for patient-record streams',
        fieldSelectors: [
          { field: 'eventCategory', equalTo: ['Data'] },
          { field: 'resources.type', equalTo: ['AWS::Kinesis::Stream'] },
          streamField,
        ],
      },
    ];
  }
}
