import { join } from 'path';
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

describe('test environment: compiled code shared between the test files of a worker', () => {
  // The module object jest-runtime compiles with (core modules are the worker's own).
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the patched core module itself
  const vm = require('vm') as typeof import('vm');
  const hits = (globalThis as Record<symbol, unknown>)[Symbol.for('hipaa-fhir.jest.compiled-code-hits')] as () => number;

  test('a module loaded again in a fresh registry is compiled from the cache, and still runs anew', async () => {
    let first: unknown;
    let second: unknown;
    await jest.isolateModulesAsync(async () => {
      first = await import('../../lib/contract/errors');
    });
    const before = hits();
    await jest.isolateModulesAsync(async () => {
      second = await import('../../lib/contract/errors');
    });
    expect(hits()).toBeGreaterThan(before);
    // Its own module instance: state is never shared, only V8's compilation.
    expect(second).not.toBe(first);
  });

  test('another source under the same file name is compiled from its own text (V8 checks only the length)', () => {
    const filename = join(__dirname, 'virtual-module.js');
    expect(vm.compileFunction('return 1 + 1', [], { filename })()).toBe(2);
    // Same length, other text: V8 would accept the first one's cache and return 2.
    expect(vm.compileFunction('return 2 + 2', [], { filename })()).toBe(4);
    const before = hits();
    expect(vm.compileFunction('return 2 + 2', [], { filename })()).toBe(4);
    expect(hits()).toBeGreaterThan(before);
  });
});
