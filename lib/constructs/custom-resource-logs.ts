import { CfnResource, Stack } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';

/**
 * Points the handler Lambda of every CDK custom-resource provider in `stack` (e.g. the VPC's
 * restrict-default-security-group handler) at `logGroup`, a group the stack creates first, CMK-
 * encrypted, with the profile's retention and removal policy. Left alone, Lambda would create
 * `/aws/lambda/<generated name>` on first invocation: unencrypted, kept forever, and left behind on
 * destroy. Lambda's LoggingConfig.LogGroup names the group to write to instead.
 * https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-advanced.html#monitoring-cloudwatchlogs-loggroups
 * Returns the handlers it rerouted.
 */
export function routeCustomResourceLogs(stack: Stack, logGroup: logs.ILogGroup): CfnResource[] {
  const handlers = stack.node
    .findAll()
    .filter((c): c is CfnResource => c instanceof CfnResource && c.cfnResourceType === 'AWS::Lambda::Function');
  for (const handler of handlers) {
    handler.addPropertyOverride('LoggingConfig.LogGroup', logGroup.logGroupName);
    handler.addResourceDependency(logGroup.node.defaultChild as CfnResource);
  }
  return handlers;
}
