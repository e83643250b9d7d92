import { Match, Template } from 'aws-cdk-lib/assertions';
import { resourcesOf, synthStage } from '../../helpers';

describe('NetworkStack', () => {
  const { templates } = synthStage({ environmentSuffix: 'net', profile: 'development' });
  const prod = synthStage({ environmentSuffix: 'net', profile: 'production' }).templates.network;
  const network = templates.network;

  test('has no internet gateway, NAT or public subnet', () => {
    network.resourceCountIs('AWS::EC2::InternetGateway', 0);
    network.resourceCountIs('AWS::EC2::NatGateway', 0);
    network.resourceCountIs('AWS::EC2::EIP', 0);
    for (const [, subnet] of resourcesOf(network).filter(([, r]) => r.Type === 'AWS::EC2::Subnet')) {
      expect(subnet.Properties?.MapPublicIpOnLaunch).toBe(false);
    }
  });

  test('no route leaves the VPC except through the S3 gateway endpoint', () => {
    for (const [, route] of resourcesOf(network).filter(([, r]) => r.Type === 'AWS::EC2::Route')) {
      expect(route.Properties?.GatewayId).toBeUndefined();
      expect(route.Properties?.NatGatewayId).toBeUndefined();
    }
    network.resourceCountIs('AWS::EC2::Route', 0);
    network.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([Match.stringLikeRegexp('\\.s3$')])]) }),
    });
  });

  test('two isolated subnet groups over the two pinned zones', () => {
    const subnets = resourcesOf(network).filter(([, r]) => r.Type === 'AWS::EC2::Subnet').map(([, r]) => r.Properties?.AvailabilityZone);
    expect(subnets.sort()).toEqual(['eu-west-2a', 'eu-west-2a', 'eu-west-2b', 'eu-west-2b']);
  });

  test('interface endpoints for every AWS service the workload calls, private DNS, one shared group', () => {
    const services = resourcesOf(network)
      .filter(([, r]) => r.Type === 'AWS::EC2::VPCEndpoint' && r.Properties?.VpcEndpointType === 'Interface')
      .map(([, r]) => r.Properties?.ServiceName as string);
    expect(services.sort()).toEqual([
      'com.amazonaws.eu-west-2.ecr.api', 'com.amazonaws.eu-west-2.ecr.dkr', 'com.amazonaws.eu-west-2.kinesis-streams',
      'com.amazonaws.eu-west-2.kms', 'com.amazonaws.eu-west-2.logs', 'com.amazonaws.eu-west-2.secretsmanager',
    ]);
    for (const [, r] of resourcesOf(network).filter(([, r]) => r.Type === 'AWS::EC2::VPCEndpoint' && r.Properties?.VpcEndpointType === 'Interface')) {
      expect(r.Properties?.PrivateDnsEnabled).toBe(true);
      expect(r.Properties?.SecurityGroupIds).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/EndpointSecurityGroup/), 'GroupId'] }]);
    }
  });

  test('ephemeral places endpoint ENIs in one zone, production in both', () => {
    const subnetCounts = (t: Template) => resourcesOf(t)
      .filter(([, r]) => r.Type === 'AWS::EC2::VPCEndpoint' && r.Properties?.VpcEndpointType === 'Interface')
      .map(([, r]) => (r.Properties?.SubnetIds as unknown[]).length);
    expect(new Set(subnetCounts(network))).toEqual(new Set([1]));
    expect(new Set(subnetCounts(prod))).toEqual(new Set([2]));
  });

  test('security groups use literal ports only: 443 and 5432', () => {
    const rules: Array<Record<string, unknown>> = [];
    for (const [, r] of resourcesOf(network)) {
      if (r.Type === 'AWS::EC2::SecurityGroup') {
        rules.push(...((r.Properties?.SecurityGroupIngress as Array<Record<string, unknown>>) ?? []));
        rules.push(...((r.Properties?.SecurityGroupEgress as Array<Record<string, unknown>>) ?? []));
      }
      if (r.Type === 'AWS::EC2::SecurityGroupIngress' || r.Type === 'AWS::EC2::SecurityGroupEgress') rules.push(r.Properties ?? {});
    }
    const real = rules.filter((rule) => rule.CidrIp !== '255.255.255.255/32'); // CDK's "no egress" placeholder
    expect(real.length).toBeGreaterThanOrEqual(4);
    for (const rule of real) {
      expect(rule.IpProtocol).toBe('tcp');
      expect(rule.FromPort).toBe(rule.ToPort);
      expect([443, 5432]).toContain(rule.FromPort);
    }
    // Nothing may reach in from anywhere.
    for (const rule of rules.filter((r) => 'CidrIp' in r && r.CidrIp === '0.0.0.0/0')) {
      expect(rule.Description).toMatch(/HTTPS to VPC endpoints/);
    }
  });

  test('the database accepts PostgreSQL only from the workload group', () => {
    network.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432,
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('DatabaseSecurityGroup'), 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('WorkloadSecurityGroup'), 'GroupId'] },
    });
  });

  test('the default security group is stripped of its rules', () => {
    // The CDK custom resource revokes every rule of THIS VPC's default group, through its own handler.
    const vpcId = resourcesOf(network).filter(([, r]) => r.Type === 'AWS::EC2::VPC').map(([id]) => id);
    expect(vpcId).toHaveLength(1);
    const defaultGroup = { 'Fn::GetAtt': [vpcId[0], 'DefaultSecurityGroup'] };
    const restrict = resourcesOf(network).filter(([, r]) => r.Type === 'Custom::VpcRestrictDefaultSG');
    expect(restrict).toHaveLength(1);
    const props = restrict[0][1].Properties!;
    expect(props.DefaultSecurityGroupId).toEqual(defaultGroup);
    const handlerId = (props.ServiceToken as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
    expect(handlerId[1]).toBe('Arn');
    expect(network.toJSON().Resources[handlerId[0]].Type).toBe('AWS::Lambda::Function');
    network.hasResourceProperties('AWS::IAM::Role', {
      Policies: [{ PolicyName: 'Inline', PolicyDocument: { Version: '2012-10-17', Statement: [{
        Effect: 'Allow',
        Action: ['ec2:AuthorizeSecurityGroupIngress', 'ec2:AuthorizeSecurityGroupEgress', 'ec2:RevokeSecurityGroupIngress', 'ec2:RevokeSecurityGroupEgress'],
        Resource: [{ 'Fn::Join': ['', ['arn:aws:ec2:eu-west-2:', { Ref: 'AWS::AccountId' }, ':security-group/', defaultGroup]] }],
      }] } }],
    });
  });

  test('flow logs capture all traffic into a CMK-encrypted log group', () => {
    network.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'ALL', LogDestinationType: 'cloud-watch-logs' });
    network.hasResourceProperties('AWS::Logs::LogGroup', {
      LogGroupName: '/hipaa-fhir/net/vpc-flow-logs',
      KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('FlowLogKey'), 'Arn'] },
      RetentionInDays: 7,
    });
    prod.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/hipaa-fhir/net/vpc-flow-logs', RetentionInDays: 2192 });
  });

  test('the network log key lets CloudWatch Logs use it for the flow-log and custom-resource groups only', () => {
    network.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([Match.objectLike({
          Principal: { Service: 'logs.eu-west-2.amazonaws.com' },
          Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': [
            Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([':log-group:/hipaa-fhir/net/vpc-flow-logs'])]) }),
            Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([':log-group:/hipaa-fhir/net/custom-resources'])]) }),
          ] } },
        })]),
      },
    });
  });

  // Issue 8, defect 6: the custom-resource handler's log group is ours, not one Lambda creates.
  test('the custom-resource handler logs into a CMK-encrypted group with profile retention and removal, created first', () => {
    for (const [template, retention, deletion] of [[network, 7, 'Delete'], [prod, 2192, 'Retain']] as const) {
      const handlers = resourcesOf(template).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
      expect(handlers.length).toBeGreaterThan(0);
      const [groupId, group] = resourcesOf(template).find(([, r]) => r.Type === 'AWS::Logs::LogGroup' && r.Properties?.LogGroupName === '/hipaa-fhir/net/custom-resources')!;
      expect(group.Properties).toMatchObject({ RetentionInDays: retention, KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^FlowLogKey/), 'Arn'] } });
      expect(group.DeletionPolicy).toBe(deletion);
      for (const [, handler] of handlers) {
        expect((handler.Properties as { LoggingConfig?: unknown }).LoggingConfig).toEqual({ LogGroup: { Ref: groupId } });
        expect((handler as { DependsOn?: string[] }).DependsOn).toContain(groupId);
      }
    }
  });
});
