import { RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { SecurityTrail, StreamSelector } from '../../../lib/constructs/security-trail';
import { getAtt, logicalIdOf, testStack, tlsOnlyBucketPolicy } from '../../helpers';

const STREAM_ARN = 'arn:aws:kinesis:eu-west-2:123456789012:stream/hipaa-fhir-records-dev';

function build(streams: StreamSelector, removalPolicy: RemovalPolicy, retentionDays: number) {
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

  test('log files expire after the given retention; old versions after 30 days', () => {
    for (const [built, days] of [
      [dedicated, 7],
      [shared, 365],
    ] as const) {
      built.template.resourcePropertiesCountIs(
        'AWS::S3::Bucket',
        {
          LifecycleConfiguration: {
            Rules: [{ ExpirationInDays: days, NoncurrentVersionExpiration: { NoncurrentDays: 30 }, Status: 'Enabled' }],
          },
        },
        2,
      );
    }
  });

  test('DESTROY empties and deletes both buckets; RETAIN keeps them and empties nothing', () => {
    template.allResources('AWS::S3::Bucket', { DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 2);
    shared.template.allResources('AWS::S3::Bucket', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    shared.template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });
});
