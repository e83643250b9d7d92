import { CfnOutput, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { REPLACEABLE_ID_TYPES, strengthenReplaceableReferences } from '../../../lib/constructs/reference-strength';
import { constructTestApp, testVpc } from '../../helpers';

/** A producer stack and a consumer stack that reads a key ARN, a security group id and a fixed topic name from it. */
function build(strengthen: boolean): Template {
  const app = constructTestApp();
  const env = { region: 'eu-west-2' };
  const producer = new Stack(app, 'Producer', { env });
  const key = new kms.Key(producer, 'Key');
  const group = new ec2.SecurityGroup(producer, 'Group', { vpc: testVpc(producer), allowAllOutbound: false });
  const topic = new sns.Topic(producer, 'Topic', { topicName: 'hipaa-fhir-alarms-dev' });
  if (strengthen) strengthenReplaceableReferences(producer);
  const consumer = new Stack(app, 'Consumer', { env });
  new CfnOutput(consumer, 'KeyArn', { value: key.keyArn });
  new CfnOutput(consumer, 'GroupId', { value: group.securityGroupId });
  new CfnOutput(consumer, 'TopicName', { value: topic.topicName });
  return Template.fromStack(consumer);
}

describe('strengthenReplaceableReferences', () => {
  const strong = build(true);
  const weak = build(false);

  test('ids AWS generates and a replacement can change are the ones made strong', () => {
    expect([...REPLACEABLE_ID_TYPES].sort()).toEqual([
      'AWS::EC2::SecurityGroup',
      'AWS::EC2::Subnet',
      'AWS::EC2::VPC',
      'AWS::KMS::Key',
      'AWS::RDS::DBInstance',
    ]);
  });

  test("a consumer imports a replaceable producer's values strongly (Fn::ImportValue), so CloudFormation cannot replace it under the consumer", () => {
    strong.hasOutput('KeyArn', { Value: { 'Fn::ImportValue': Match.stringLikeRegexp('^Producer:ExportsOutputFnGetAttKey') } });
    strong.hasOutput('GroupId', { Value: { 'Fn::ImportValue': Match.stringLikeRegexp('^Producer:ExportsOutputFnGetAttGroup') } });
  });

  test('a value fixed by our own naming stays a weak reference (Fn::GetStackOutput)', () => {
    strong.hasOutput('TopicName', { Value: { 'Fn::GetStackOutput': Match.objectLike({ StackName: 'Producer' }) } });
  });

  test("without it, the app's default applies: every reference is weak", () => {
    for (const output of ['KeyArn', 'GroupId', 'TopicName']) {
      weak.hasOutput(output, { Value: { 'Fn::GetStackOutput': Match.objectLike({ StackName: 'Producer' }) } });
    }
  });
});
