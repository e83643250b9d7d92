import { RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { SecurityTrail, StreamSelector } from '../../../lib/constructs/security-trail';
import { getAtt, logicalIdOf, testStack, tlsOnlyBucketPolicy } from '../../helpers';

const STREAM_ARN = 'arn:aws:kinesis:eu-west-2:123456789012:stream/hipaa-fhir-records-dev';

function build(
  streams: StreamSelector,
  removalPolicy: RemovalPolicy,
  retentionDays: number,
  options: { multiRegion?: boolean; objectLockDays?: number } = {},
) {
  const stack = testStack();
  const key = new kms.Key(stack, 'AuditKey');
  const logGroup = new logs.LogGroup(stack, 'TrailLogs');
  const trail = new SecurityTrail(stack, 'Trail', {
    trailName: 'hipaa-fhir-trail-dev',
    encryptionKey: key,
    logGroup,
    streams,
    retentionDays,
    removalPolicy,
    ...options,
  });
  return { key, logGroup, trail, template: Template.fromStack(stack) };
}

describe('SecurityTrail', () => {
  const dedicated = build({ kind: 'arns', arns: [STREAM_ARN] }, RemovalPolicy.DESTROY, 7);
  const shared = build(
    { kind: 'arnPrefix', prefix: 'arn:aws:kinesis:eu-west-2:123456789012:stream/hipaa-fhir-records-' },
    RemovalPolicy.RETAIN,
    365,
  );
  const locked = build({ kind: 'arns', arns: [STREAM_ARN] }, RemovalPolicy.RETAIN, 2192, { multiRegion: true, objectLockDays: 2192 });
  const { template, trail, key, logGroup } = dedicated;
  const kinesisSelector = (resources: Record<string, unknown>) => ({
    Name: 'Kinesis data events for patient-record streams',
    FieldSelectors: [
      { Field: 'eventCategory', Equals: ['Data'] },
      { Field: 'resources.type', Equals: ['AWS::Kinesis::Stream'] },
      { Field: 'resources.ARN', ...resources },
    ],
  });

  test('one single-region trail with log file validation, global service events, KMS and CloudWatch Logs delivery to the given group', () => {
    template.resourceCountIs('AWS::CloudTrail::Trail', 1);
    template.hasResourceProperties('AWS::CloudTrail::Trail', {
      TrailName: 'hipaa-fhir-trail-dev',
      EnableLogFileValidation: true,
      IncludeGlobalServiceEvents: true,
      IsMultiRegionTrail: false,
      IsLogging: true,
      KMSKeyId: getAtt(key),
      S3BucketName: { Ref: logicalIdOf(trail.bucket) },
      CloudWatchLogsLogGroupArn: getAtt(logGroup),
    });
    // The delivery role may write into that group only.
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [{ Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Effect: 'Allow', Resource: getAtt(logGroup) }],
      },
      Roles: [{ Ref: logicalIdOf(trail.trail.node.findChild('LogsRole')) }],
    });
  });

  test('management events and the Kinesis data events of exactly the given streams, with advanced selectors only', () => {
    template.hasResourceProperties('AWS::CloudTrail::Trail', {
      AdvancedEventSelectors: [
        { Name: 'Management events', FieldSelectors: [{ Field: 'eventCategory', Equals: ['Management'] }] },
        kinesisSelector({ Equals: [STREAM_ARN] }),
      ],
      EventSelectors: Match.absent(),
    });
  });

  test('or of every stream whose ARN starts with the given prefix', () => {
    shared.template.hasResourceProperties('AWS::CloudTrail::Trail', {
      AdvancedEventSelectors: [
        { Name: 'Management events', FieldSelectors: [{ Field: 'eventCategory', Equals: ['Management'] }] },
        kinesisSelector({ StartsWith: ['arn:aws:kinesis:eu-west-2:123456789012:stream/hipaa-fhir-records-'] }),
      ],
      EventSelectors: Match.absent(),
    });
  });

  test('the trail bucket is KMS-encrypted with the given key, versioned, private, owner-enforced and access-logged', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          { BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: getAtt(key) } },
        ],
      },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      LoggingConfiguration: { DestinationBucketName: { Ref: logicalIdOf(trail.accessLogsBucket) }, LogFilePrefix: 'trail-bucket/' },
    });
    // Server access log delivery supports SSE-S3 only; the log bucket is private and versioned too.
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LoggingConfiguration: Match.absent(),
    });
  });

  test('both buckets refuse requests without TLS, or with TLS older than 1.2', () => {
    template.resourceCountIs('AWS::S3::BucketPolicy', 2);
    for (const bucket of [trail.bucket, trail.accessLogsBucket]) {
      template.hasResourceProperties('AWS::S3::BucketPolicy', tlsOnlyBucketPolicy(bucket));
    }
  });

  test('log files expire after the given retention, and so do versions deleted or overwritten before then', () => {
    for (const [built, days] of [
      [dedicated, 7],
      [shared, 365],
    ] as const) {
      built.template.resourcePropertiesCountIs(
        'AWS::S3::Bucket',
        {
          LifecycleConfiguration: {
            Rules: [{ ExpirationInDays: days, NoncurrentVersionExpiration: { NoncurrentDays: days }, Status: 'Enabled' }],
          },
        },
        2,
      );
    }
  });

  test('Object Lock in compliance mode on the trail bucket only (an access log target cannot be locked), and a multi-region trail', () => {
    locked.template.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: true,
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 2192 } } },
      VersioningConfiguration: { Status: 'Enabled' },
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'trail-bucket/' }),
    });
    locked.template.resourcePropertiesCountIs('AWS::S3::Bucket', { ObjectLockEnabled: true }, 1);
    locked.template.hasResourceProperties('AWS::CloudTrail::Trail', { IsMultiRegionTrail: true });
    template.resourcePropertiesCountIs('AWS::S3::Bucket', { ObjectLockEnabled: Match.anyValue() }, 0);
    expect(() => build({ kind: 'arns', arns: [STREAM_ARN] }, RemovalPolicy.DESTROY, 7, { objectLockDays: 7 })).toThrow(
      'an Object-Locked audit bucket cannot be destroyed with its stack',
    );
  });

  test('CloudTrail may read the ACL of and write into the bucket only for this trail of this account (aws:SourceArn, aws:SourceAccount)', () => {
    const fromThisTrail = {
      'aws:SourceArn': { 'Fn::Join': ['', ['arn:aws:cloudtrail:eu-west-2:', { Ref: 'AWS::AccountId' }, ':trail/hipaa-fhir-trail-dev']] },
      'aws:SourceAccount': { Ref: 'AWS::AccountId' },
    };
    const policy = Object.values(template.findResources('AWS::S3::BucketPolicy')).find(
      (p) => p.Properties.Bucket.Ref === logicalIdOf(trail.bucket),
    )!;
    const cloudTrail = policy.Properties.PolicyDocument.Statement.filter(
      (s: { Principal?: { Service?: string } }) => s.Principal?.Service === 'cloudtrail.amazonaws.com',
    );
    expect(cloudTrail).toHaveLength(2);
    for (const statement of cloudTrail) expect(statement.Condition.StringEquals).toMatchObject(fromThisTrail);
    expect(cloudTrail.map((s: { Action: string }) => s.Action).sort()).toEqual(['s3:GetBucketAcl', 's3:PutObject']);
  });

  test('DESTROY empties and deletes both buckets; RETAIN keeps them and empties nothing', () => {
    template.allResources('AWS::S3::Bucket', { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 2);
    shared.template.allResources('AWS::S3::Bucket', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    shared.template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });
});
