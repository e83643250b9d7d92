import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudtrail from 'aws-cdk-lib/aws-cloudtrail';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge, hipaaAndNist } from '../compliance/acknowledge';
import { auditBucketProps } from './audit-archive';

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
  /** Record management events of every region, not only the stack's. @default false */
  readonly multiRegion?: boolean;
  /**
   * S3 Object Lock in compliance mode on the trail bucket: no one, the root user included, can delete or
   * overwrite a log file version for this many days. @default - no Object Lock
   */
  readonly objectLockDays?: number;
  /** DESTROY also empties the buckets so the stack deletes cleanly. */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * A CloudTrail trail for management events (read and write) and Kinesis data events, with log
 * file validation, KMS encryption, a TLS-only bucket that blocks public access, and S3 server
 * access logging of that bucket; optionally multi-region and with the bucket Object-Locked in
 * compliance mode. Only this trail (aws:SourceArn) of this account may write into the bucket.
 */
export class SecurityTrail extends Construct {
  public readonly trail: cloudtrail.Trail;
  public readonly bucket: s3.Bucket;
  public readonly accessLogsBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: SecurityTrailProps) {
    super(scope, id);

    const buckets = auditBucketProps(props);
    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogsBucket', buckets.accessLogs);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      ...buckets.bucket,
      encryptionKey: props.encryptionKey,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'trail-bucket/',
    });

    // The trail is given the bucket as a reference: CDK would otherwise add its own CloudTrail statements,
    // which have no aws:SourceArn or aws:SourceAccount. These name this trail, so no other trail (of any
    // account) can have CloudTrail write into or read the ACL of this bucket (the confused deputy).
    // https://docs.aws.amazon.com/awscloudtrail/latest/userguide/create-s3-bucket-policy-for-cloudtrail.html
    const { account, region, partition } = Stack.of(this);
    const trailArn = `arn:${partition}:cloudtrail:${region}:${account}:trail/${props.trailName}`;
    const fromThisTrail = { 'aws:SourceArn': trailArn, 'aws:SourceAccount': account };
    const cloudTrail = new iam.ServicePrincipal('cloudtrail.amazonaws.com');
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AWSCloudTrailAclCheck',
        principals: [cloudTrail],
        actions: ['s3:GetBucketAcl'],
        resources: [this.bucket.bucketArn],
        conditions: { StringEquals: fromThisTrail },
      }),
    );
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AWSCloudTrailWrite',
        principals: [cloudTrail],
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects(`AWSLogs/${account}/*`)],
        conditions: { StringEquals: { 's3:x-amz-acl': 'bucket-owner-full-control', ...fromThisTrail } },
      }),
    );
    const bucketReference = s3.Bucket.fromBucketAttributes(this, 'BucketReference', {
      bucketArn: this.bucket.bucketArn,
      bucketName: this.bucket.bucketName,
    });

    this.trail = new cloudtrail.Trail(this, 'Trail', {
      trailName: props.trailName,
      bucket: bucketReference,
      encryptionKey: props.encryptionKey,
      enableFileValidation: true,
      includeGlobalServiceEvents: true,
      isMultiRegionTrail: props.multiRegion ?? false,
      sendToCloudWatchLogs: true,
      cloudWatchLogGroup: props.logGroup,
    });
    // CloudTrail checks it can write when the trail is created: the policy must exist first.
    this.trail.node.addDependency(this.bucket.policy!);

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
