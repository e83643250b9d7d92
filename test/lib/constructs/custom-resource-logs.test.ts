import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { routeCustomResourceLogs } from '../../../lib/constructs/custom-resource-logs';
import { logicalIdOf, testStack } from '../../helpers';

describe('routeCustomResourceLogs', () => {
  const stack = testStack();
  const logGroup = new logs.LogGroup(stack, 'CustomResourceLogs');
  // An L2 function, and a bare CfnFunction deep in the tree as CDK's custom-resource providers make them.
  const fn = new lambda.Function(stack, 'Handler', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => undefined;'),
  });
  const provider = new Construct(new Construct(stack, 'Provider'), 'Inner');
  const role = new iam.Role(provider, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  const raw = new lambda.CfnFunction(provider, 'Function', {
    role: role.roleArn,
    code: { zipFile: 'exports.handler = async () => undefined;' },
    handler: 'index.handler',
    runtime: 'nodejs24.x',
  });
  const other = new Stack(stack.node.scope as Construct, 'Other', { env: { region: 'eu-west-2' } });
  new lambda.CfnFunction(other, 'Function', {
    role: 'arn:aws:iam::123456789012:role/x',
    code: { zipFile: 'x' },
    handler: 'index.handler',
    runtime: 'nodejs24.x',
  });
  const routed = routeCustomResourceLogs(stack, logGroup);
  const template = Template.fromStack(stack);

  test('returns every Lambda function of the stack, and only those', () => {
    expect(routed.map((r) => r.node.path).sort()).toEqual([fn.node.defaultChild!.node.path, raw.node.path].sort());
  });

  test('every function of the stack writes into the given group, which CloudFormation creates first', () => {
    template.resourceCountIs('AWS::Lambda::Function', 2);
    template.allResources('AWS::Lambda::Function', {
      Properties: Match.objectLike({ LoggingConfig: { LogGroup: { Ref: logicalIdOf(logGroup) } } }),
      DependsOn: Match.arrayWith([logicalIdOf(logGroup)]),
    });
  });

  test('functions of other stacks are left alone', () => {
    Template.fromStack(other).hasResource('AWS::Lambda::Function', {
      Properties: Match.objectLike({ LoggingConfig: Match.absent() }),
      DependsOn: Match.absent(),
    });
  });
});
