import { CfnResource, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { testApp } from '../helpers';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- the module as jest.config.js maps it for aws-cdk-lib
const cfnValidate = require('@aws/cloudformation-validate') as { sharedEngineBuilds: number };

describe('test environment: one CloudFormation Validate engine per worker', () => {
  test('synth still validates every template: a schema error fails it', () => {
    const stack = new Stack(testApp(), 'Bad', { env: { account: '123456789012', region: 'eu-west-2' } });
    new CfnResource(stack, 'Topic', {
      type: 'AWS::SNS::Topic',
      properties: { TopicName: { nested: 'not a string' }, NoSuchProperty: true },
    });
    expect(() => Template.fromStack(stack)).toThrow(
      /NoSuchProperty: Additional properties are not allowed \('NoSuchProperty' was unexpected\) \(CloudFormation Validate\)/,
    );
  });

  test('apps with new resource types reuse the engine instead of building another', () => {
    const before = cfnValidate.sharedEngineBuilds;
    for (const type of ['AWS::SQS::Queue', 'AWS::Kinesis::Stream', 'AWS::Logs::LogGroup']) {
      const stack = new Stack(testApp(), 'Good', { env: { account: '123456789012', region: 'eu-west-2' } });
      new CfnResource(stack, 'R', { type, properties: type === 'AWS::Kinesis::Stream' ? { ShardCount: 1 } : {} });
      Template.fromStack(stack).resourceCountIs(type, 1);
    }
    expect(before).toBeGreaterThanOrEqual(1);
    expect(cfnValidate.sharedEngineBuilds).toBe(before);
  });
});
