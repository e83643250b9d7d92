import { Match, Template } from 'aws-cdk-lib/assertions';
import { LAYERS, suffixFromBranch, ToolingNames } from '../../../lib/contract';
import { EncryptionKey } from '../../../lib/constructs/encryption-key';
import { EnvironmentCap } from '../../../lib/constructs/environment-cap';
import { NetworkStack } from '../../../lib/stacks/network-stack';
import { PipelineAppStage } from '../../../stages/pipeline-app-stage';
import { getAtt, logicalIdOf, logsKeyStatement, statementsOfRole, synthStage, testApp, testConfig } from '../../helpers';

/** The network log key of a network stack (its EncryptionKey construct `FlowLogKey`). */
const flowLogKey = (stack: NetworkStack) => (stack.node.findChild('FlowLogKey') as EncryptionKey).key;
const logArn = (name: string) => ({ 'Fn::Join': ['', ['arn:aws:logs:eu-west-2:', { Ref: 'AWS::AccountId' }, `:log-group:${name}`]] });

describe('NetworkStack', () => {
  const dev = synthStage({ environmentSuffix: 'net', profile: 'development' });
  const prod = synthStage({ environmentSuffix: 'net', profile: 'production' });
  const network = dev.templates.network;
  const config = dev.stage.config;
  const { flowLogs, customResources } = config.naming.logGroupNames;

  test('an isolated network of the configured CIDR over the configured zones', () => {
    network.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: config.network.vpcCidr });
    const zones = Object.values(network.findResources('AWS::EC2::Subnet')).map((r) => r.Properties.AvailabilityZone);
    expect(zones.sort()).toEqual([...config.network.availabilityZones, ...config.network.availabilityZones].sort());
    expect(zones.sort()).toEqual(['eu-west-2a', 'eu-west-2a', 'eu-west-2b', 'eu-west-2b']);
    network.resourceCountIs('AWS::EC2::InternetGateway', 0);
  });

  test("development places endpoint ENIs in one zone, production in both (the profile's endpointAzCount)", () => {
    const subnetCounts = (t: Template) =>
      new Set(
        Object.values(t.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } })).map(
          (r) => r.Properties.SubnetIds.length,
        ),
      );
    expect([config.network.endpointAzCount, prod.stage.config.network.endpointAzCount]).toEqual([1, 2]);
    expect(subnetCounts(network)).toEqual(new Set([1]));
    expect(subnetCounts(prod.templates.network)).toEqual(new Set([2]));
  });

  test('the RDS API endpoint exists where the restore drill runs (production), and nowhere else', () => {
    const rds = { VpcEndpointType: 'Interface', ServiceName: 'com.amazonaws.eu-west-2.rds' };
    expect([config.restoreDrill.enabled, prod.stage.config.restoreDrill.enabled]).toEqual([false, true]);
    prod.templates.network.resourcePropertiesCountIs('AWS::EC2::VPCEndpoint', rds, 1);
    network.resourcePropertiesCountIs('AWS::EC2::VPCEndpoint', rds, 0);
  });

  test("flow logs go to the named group, encrypted with the network log key, with the profile's retention and removal", () => {
    const group = (t: Template) => Object.keys(t.findResources('AWS::Logs::LogGroup', { Properties: { LogGroupName: flowLogs } }));
    network.hasResource('AWS::Logs::LogGroup', {
      Properties: { LogGroupName: '/hipaa-fhir/net/vpc-flow-logs', KmsKeyId: getAtt(flowLogKey(dev.stage.network)), RetentionInDays: 7 },
      DeletionPolicy: 'Delete',
    });
    prod.templates.network.hasResource('AWS::Logs::LogGroup', {
      Properties: { LogGroupName: flowLogs, KmsKeyId: getAtt(flowLogKey(prod.stage.network)), RetentionInDays: 2192 },
      DeletionPolicy: 'Retain',
    });
    expect(group(network)).toHaveLength(1);
    network.hasResourceProperties('AWS::EC2::FlowLog', {
      TrafficType: 'ALL',
      LogDestinationType: 'cloud-watch-logs',
      LogGroupName: { Ref: group(network)[0] },
    });
  });

  test('the network log key lets CloudWatch Logs use it for the flow-log and custom-resource groups only', () => {
    network.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([logsKeyStatement([logArn(flowLogs), logArn(customResources)])]),
      },
    });
    expect([flowLogs, customResources]).toEqual(['/hipaa-fhir/net/vpc-flow-logs', '/hipaa-fhir/net/custom-resources']);
  });

  // Issue 8, defect 6: the custom-resource handler's log group is ours, not one Lambda creates.
  test('the custom-resource handler logs into a CMK-encrypted group with profile retention and removal, created first', () => {
    for (const [{ stage, templates }, retention, deletion] of [
      [dev, 7, 'Delete'],
      [prod, 2192, 'Retain'],
    ] as const) {
      const template = templates.network;
      const groupId = logicalIdOf(stage.network.customResourceLogGroup);
      expect(Object.keys(template.findResources('AWS::Lambda::Function')).length).toBeGreaterThan(0);
      template.hasResource('AWS::Logs::LogGroup', {
        Properties: {
          LogGroupName: '/hipaa-fhir/net/custom-resources',
          RetentionInDays: retention,
          KmsKeyId: getAtt(flowLogKey(stage.network)),
        },
        DeletionPolicy: deletion,
      });
      expect(template.findResources('AWS::Logs::LogGroup')[groupId].Properties.LogGroupName).toBe('/hipaa-fhir/net/custom-resources');
      template.allResources('AWS::Lambda::Function', {
        Properties: Match.objectLike({ LoggingConfig: { LogGroup: { Ref: groupId } } }),
        DependsOn: Match.arrayWith([groupId]),
      });
    }
  });

  test('publishes the environment, the VPC, both subnet groups, the workload group and the flow-log group and key', () => {
    const net = dev.stage.network;
    const subnets = (group: string) => ({
      'Fn::Join': [
        ',',
        [
          { Ref: Match.stringLikeRegexp(`^NetworkVpc${group}Subnet1Subnet`) },
          { Ref: Match.stringLikeRegexp(`^NetworkVpc${group}Subnet2Subnet`) },
        ],
      ],
    });
    network.hasOutput('EnvironmentSuffix', { Value: 'net' });
    network.hasOutput('AwsRegion', { Value: 'eu-west-2' });
    network.hasOutput('VpcId', { Value: { Ref: logicalIdOf(net.vpc) } });
    network.hasOutput('WorkloadSubnetIds', { Value: subnets('workload') });
    network.hasOutput('DatabaseSubnetIds', { Value: subnets('database') });
    network.hasOutput('WorkloadSecurityGroupId', { Value: getAtt(net.workloadSecurityGroup, 'GroupId') });
    network.hasOutput('FlowLogKeyArn', { Value: getAtt(flowLogKey(net)) });
  });

  test('long-lived environments have no cap, and a cap without a branch is refused', () => {
    network.resourceCountIs('Custom::Trigger', 0);
    expect(() => new PipelineAppStage(testApp(), 'dev', { config: testConfig(), maxPreviews: 3 })).toThrow(
      'maxPreviews is for preview environments only; dev has no branch',
    );
  });
});

describe('NetworkStack of a preview environment (EnvironmentCap)', () => {
  const suffix = suffixFromBranch('feature/cap-me');
  const config = testConfig({ branch: 'feature/cap-me' });
  const stack = new NetworkStack(testApp(), 'Network', { config, maxPreviews: 3, env: { region: config.region } });
  const network = Template.fromStack(stack);
  const logGroupId = logicalIdOf(stack.customResourceLogGroup);
  const [triggerId] = Object.keys(network.findResources('Custom::Trigger'));
  const cap = stack.node.findChild('EnvironmentCap') as EnvironmentCap;

  test("the first stack checks the cap: the configured maximum, this project's preview first stacks, its own stack left out", () => {
    expect(Object.keys(network.findResources('Custom::Trigger'))).toHaveLength(1);
    network.hasResource('AWS::Lambda::Function', {
      Properties: Match.objectLike({
        Environment: {
          Variables: {
            PROJECT: 'hipaa-fhir',
            ENVIRONMENT_SUFFIX: suffix,
            MAX_ENVIRONMENTS: '3',
            FIRST_STACK_PREFIX: new ToolingNames('hipaa-fhir').previewStackPattern(LAYERS[0]).replace(/\*$/, ''),
            OWN_STACK: config.naming.stackName('network'),
          },
        },
        LoggingConfig: { LogGroup: { Ref: logGroupId } },
      }),
      DependsOn: Match.arrayWith([logGroupId]),
    });
    expect(config.naming.stackName('network')).toBe('hipaa-fhir-network-br-cap-me');
    network.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: `/hipaa-fhir/${suffix}/custom-resources`,
      KmsKeyId: getAtt(flowLogKey(stack)),
    });
  });

  test("every function of the stack, the Trigger provider's included, logs into the custom-resources group", () => {
    expect(Object.keys(network.findResources('AWS::Lambda::Function')).length).toBeGreaterThanOrEqual(3);
    network.allResourcesProperties('AWS::Lambda::Function', { LoggingConfig: { LogGroup: { Ref: logGroupId } } });
  });

  test('the VPC waits for the check: a refused deployment creates nothing costly', () => {
    network.hasResource('AWS::EC2::VPC', { DependsOn: Match.arrayWith([triggerId]) });
  });

  test('least privilege: stack names anywhere, tags only of preview first stacks of this project', () => {
    expect(statementsOfRole(network, cap.trigger.role!)).toEqual([
      { Sid: 'ListStackNames', Effect: 'Allow', Action: 'cloudformation:ListStacks', Resource: '*' },
      {
        Sid: 'ReadPreviewStackTags',
        Effect: 'Allow',
        Action: 'cloudformation:DescribeStacks',
        Resource: {
          'Fn::Join': ['', ['arn:aws:cloudformation:eu-west-2:', { Ref: 'AWS::AccountId' }, ':stack/hipaa-fhir-network-br-*/*']],
        },
      },
    ]);
  });
});
