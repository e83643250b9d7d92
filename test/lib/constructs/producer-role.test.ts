import { Template } from 'aws-cdk-lib/assertions';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import { ProducerRole } from '../../../lib/constructs/producer-role';
import { getAtt, statementsOfRole, testStack } from '../../helpers';

function build(trustedPrincipals?: readonly string[]) {
  const stack = testStack();
  const streamKey = new kms.Key(stack, 'StreamKey');
  const stream = new kinesis.Stream(stack, 'Stream', { encryption: kinesis.StreamEncryption.KMS, encryptionKey: streamKey });
  const producer = new ProducerRole(stack, 'Producer', { roleName: 'hipaa-fhir-producer-dev', stream, streamKey, trustedPrincipals });
  return { stream, streamKey, producer, template: Template.fromStack(stack) };
}

describe('ProducerRole', () => {
  test('exactly PutRecord, PutRecords and DescribeStreamSummary on its stream, and kms:GenerateDataKey on its key: nothing to read', () => {
    const { stream, streamKey, producer, template } = build();
    expect(statementsOfRole(template, producer.role)).toEqual([
      {
        Effect: 'Allow',
        Action: ['kinesis:DescribeStreamSummary', 'kinesis:PutRecord', 'kinesis:PutRecords'],
        Resource: getAtt(stream),
      },
      { Effect: 'Allow', Action: 'kms:GenerateDataKey', Resource: getAtt(streamKey) },
    ]);
    template.hasResourceProperties('AWS::IAM::Role', { RoleName: 'hipaa-fhir-producer-dev' });
  });

  test('trusted by the listed account ids and role or user ARNs, another account allowed', () => {
    const { template } = build(['444455556666', 'arn:aws:iam::777788889999:role/hospital-feed', 'arn:aws:iam::123456789012:user/etl']);
    const [role] = Object.values(template.findResources('AWS::IAM::Role'));
    const [statement, ...more] = role.Properties.AssumeRolePolicyDocument.Statement;
    expect(more).toEqual([]);
    expect(statement).toMatchObject({ Action: 'sts:AssumeRole', Effect: 'Allow' });
    expect(statement.Condition).toBeUndefined();
    expect([...statement.Principal.AWS].sort()).toEqual([
      'arn:aws:iam::123456789012:user/etl',
      'arn:aws:iam::444455556666:root',
      'arn:aws:iam::777788889999:role/hospital-feed',
    ]);
  });

  test("none listed: only its own account's principals that an IAM policy allows may assume it", () => {
    const { template } = build();
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Principal: { AWS: { 'Fn::Join': ['', ['arn:aws:iam::', { Ref: 'AWS::AccountId' }, ':root']] } },
          },
        ],
      },
    });
  });

  test.each([['12345'], ['arn:aws:iam::123456789012:group/admins'], ['arn:aws:s3:::bucket'], ['*']])(
    '%s is refused with one line naming the fix',
    (p) => {
      expect(() => build([p])).toThrow(
        `ProducerRole trusted principal "${p}" is invalid: use a 12-digit account id or an IAM role or user ARN (arn:aws:iam::123456789012:role/name)`,
      );
    },
  );
});
