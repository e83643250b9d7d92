import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as logs from 'aws-cdk-lib/aws-logs';
import { HTTPS_PORT, IsolatedNetwork, IsolatedNetworkProps, POSTGRES_PORT } from '../../../lib/constructs/isolated-network';
import { getAtt, logicalIdOf, testStack } from '../../helpers';

function build(props: Partial<IsolatedNetworkProps> = {}) {
  const stack = testStack();
  const flowLogGroup = new logs.LogGroup(stack, 'FlowLogs');
  const network = new IsolatedNetwork(stack, 'Network', {
    cidr: '10.40.0.0/16',
    availabilityZones: ['eu-west-2a', 'eu-west-2b'],
    endpointAzCount: 1,
    flowLogGroup,
    customResourceLogGroup: new logs.LogGroup(stack, 'CustomResourceLogs'),
    ...props,
  });
  return { network, flowLogGroup, template: Template.fromStack(stack) };
}

const INTERFACE_SERVICES = ['ecr.api', 'ecr.dkr', 'kinesis-streams', 'logs', 'secretsmanager'].map((s) => `com.amazonaws.eu-west-2.${s}`);

describe('IsolatedNetwork', () => {
  const { network, flowLogGroup, template } = build();
  const both = build({ endpointAzCount: 2, rdsApiEndpoint: true });
  const group = (sg: typeof network.workloadSecurityGroup) => ({ 'Fn::GetAtt': [logicalIdOf(sg), 'GroupId'] });
  const subnetRef = (name: string) => ({ Ref: Match.stringLikeRegexp(`^NetworkVpc${name}Subnet`) });

  test('has no internet gateway, NAT or public subnet', () => {
    template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::EIP', 0);
    template.allResourcesProperties('AWS::EC2::Subnet', { MapPublicIpOnLaunch: false });
  });

  test('no route leaves the VPC except through the S3 gateway endpoint of the workload subnets', () => {
    template.resourceCountIs('AWS::EC2::Route', 0);
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.s3']] },
      RouteTableIds: [
        { Ref: Match.stringLikeRegexp('^NetworkVpcworkloadSubnet1RouteTable') },
        { Ref: Match.stringLikeRegexp('^NetworkVpcworkloadSubnet2RouteTable') },
      ],
    });
  });

  test('two isolated subnet groups, workload and database, over the two given zones', () => {
    template.resourceCountIs('AWS::EC2::Subnet', 4);
    for (const name of ['workload', 'database']) {
      for (const zone of ['eu-west-2a', 'eu-west-2b']) {
        template.hasResourceProperties('AWS::EC2::Subnet', {
          AvailabilityZone: zone,
          Tags: Match.arrayWith([
            { Key: 'aws-cdk:subnet-name', Value: name },
            { Key: 'aws-cdk:subnet-type', Value: 'Isolated' },
          ]),
        });
      }
    }
    template.hasResourceProperties('AWS::EC2::VPC', { CidrBlock: '10.40.0.0/16' });
  });

  test('interface endpoints for every AWS service the workload calls, private DNS, one shared group', () => {
    const interfaces = template.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } });
    expect(
      Object.values(interfaces)
        .map((r) => r.Properties.ServiceName)
        .sort(),
    ).toEqual(INTERFACE_SERVICES);
    template.resourcePropertiesCountIs(
      'AWS::EC2::VPCEndpoint',
      {
        VpcEndpointType: 'Interface',
        PrivateDnsEnabled: true,
        SecurityGroupIds: [group(network.endpointSecurityGroup)],
      },
      INTERFACE_SERVICES.length,
    );
  });

  test('no KMS endpoint, and nothing that would need one: the processor (the only code in the VPC) has no KMS client', () => {
    const kms = Object.values(template.findResources('AWS::EC2::VPCEndpoint')).filter((r) => JSON.stringify(r).includes('.kms'));
    expect(kms).toEqual([]);
    const dir = join(__dirname, '..', '..', '..', 'lib', 'processor');
    const sources = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(sources.length).toBeGreaterThan(5);
    const callers = sources.filter((f) => /client-kms|KMSClient/.test(readFileSync(join(dir, f), 'utf8')));
    expect(callers).toEqual([]);
    expect(readFileSync(join(dir, '..', '..', 'package.json'), 'utf8')).not.toContain('@aws-sdk/client-kms');
  });

  test('the RDS API endpoint exists only when asked for (the restore drill)', () => {
    const services = Object.values(
      both.template.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } }),
    ).map((r) => r.Properties.ServiceName);
    expect(services.sort()).toEqual([...INTERFACE_SERVICES, 'com.amazonaws.eu-west-2.rds'].sort());
  });

  test('interface endpoints place their ENIs in the first endpointAzCount zones of the workload subnets', () => {
    template.resourcePropertiesCountIs(
      'AWS::EC2::VPCEndpoint',
      { VpcEndpointType: 'Interface', SubnetIds: [subnetRef('workloadSubnet1')] },
      INTERFACE_SERVICES.length,
    );
    both.template.resourcePropertiesCountIs(
      'AWS::EC2::VPCEndpoint',
      { VpcEndpointType: 'Interface', SubnetIds: [subnetRef('workloadSubnet1'), subnetRef('workloadSubnet2')] },
      INTERFACE_SERVICES.length + 1,
    );
  });

  test('security groups use literal ports only: 443 and 5432', () => {
    expect([HTTPS_PORT, POSTGRES_PORT]).toEqual([443, 5432]);
    const rules: Array<Record<string, unknown>> = [];
    for (const sg of Object.values(template.findResources('AWS::EC2::SecurityGroup'))) {
      rules.push(...(sg.Properties.SecurityGroupIngress ?? []), ...(sg.Properties.SecurityGroupEgress ?? []));
    }
    for (const type of ['AWS::EC2::SecurityGroupIngress', 'AWS::EC2::SecurityGroupEgress']) {
      rules.push(...Object.values(template.findResources(type)).map((r) => r.Properties));
    }
    const real = rules.filter((rule) => rule.CidrIp !== '255.255.255.255/32'); // CDK's "no egress" placeholder
    expect(real).toHaveLength(5);
    for (const rule of real) {
      expect(rule.IpProtocol).toBe('tcp');
      expect(rule.FromPort).toBe(rule.ToPort);
      expect([443, 5432]).toContain(rule.FromPort);
    }
    // No rule names an address range at all: every one is a security group or the S3 prefix list.
    expect(real.filter((r) => r.CidrIp !== undefined || r.CidrIpv6 !== undefined)).toEqual([]);
    // The database and endpoint groups send nothing: their only egress rule is CDK's placeholder.
    const groups = template.findResources('AWS::EC2::SecurityGroup');
    for (const sg of [network.databaseSecurityGroup, network.endpointSecurityGroup]) {
      expect(groups[logicalIdOf(sg)].Properties.SecurityGroupEgress).toEqual([
        { CidrIp: '255.255.255.255/32', Description: 'Disallow all traffic', FromPort: 252, IpProtocol: 'icmp', ToPort: 86 },
      ]);
      template.resourcePropertiesCountIs('AWS::EC2::SecurityGroupEgress', { GroupId: group(sg) }, 0);
    }
  });

  test('the database accepts PostgreSQL only from the workload group, the endpoints HTTPS only from it', () => {
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 2);
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 5432,
      ToPort: 5432,
      GroupId: group(network.databaseSecurityGroup),
      SourceSecurityGroupId: group(network.workloadSecurityGroup),
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 443,
      ToPort: 443,
      GroupId: group(network.endpointSecurityGroup),
      SourceSecurityGroupId: group(network.workloadSecurityGroup),
    });
    template.resourceCountIs('AWS::EC2::SecurityGroupEgress', 3);
    template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      IpProtocol: 'tcp',
      FromPort: 5432,
      ToPort: 5432,
      GroupId: group(network.workloadSecurityGroup),
      DestinationSecurityGroupId: group(network.databaseSecurityGroup),
    });
  });

  test('the workload sends HTTPS only to the interface endpoints group and the S3 prefix list, never to 0.0.0.0/0', () => {
    const egress = Object.values(template.findResources('AWS::EC2::SecurityGroupEgress'))
      .map((r) => r.Properties)
      .filter((p) => JSON.stringify(p.GroupId) === JSON.stringify(group(network.workloadSecurityGroup)) && p.FromPort === 443);
    const lookup = logicalIdOf(network.node.findChild('S3PrefixList').node.findChild('Lookup').node.findChild('Resource'));
    expect(egress.map(({ Description: _, ...rule }) => rule)).toEqual([
      {
        IpProtocol: 'tcp',
        FromPort: 443,
        ToPort: 443,
        GroupId: group(network.workloadSecurityGroup),
        DestinationSecurityGroupId: group(network.endpointSecurityGroup),
      },
      {
        IpProtocol: 'tcp',
        FromPort: 443,
        ToPort: 443,
        GroupId: group(network.workloadSecurityGroup),
        DestinationPrefixListId: { 'Fn::GetAtt': [lookup, 'PrefixLists.0.PrefixListId'] },
      },
    ]);
    // Inline rules too: the workload group carries no egress of its own.
    expect(
      template.findResources('AWS::EC2::SecurityGroup')[logicalIdOf(network.workloadSecurityGroup)].Properties.SecurityGroupEgress,
    ).toBeUndefined();
  });

  test("the S3 prefix list id is read at deploy time by the gateway endpoint's service name, with no context look-up", () => {
    const [lookup] = Object.values(template.findResources('Custom::S3PrefixListId'));
    const call = {
      'Fn::Join': [
        '',
        [
          '{"service":"EC2","action":"DescribeManagedPrefixLists","parameters":{"Filters":[{"Name":"prefix-list-name","Values":["com.amazonaws.',
          { Ref: 'AWS::Region' },
          '.s3"]}]},"physicalResourceId":{"id":"com.amazonaws.',
          { Ref: 'AWS::Region' },
          '.s3"},"outputPaths":["PrefixLists.0.PrefixListId"]}',
        ],
      ],
    };
    expect([lookup.Properties.Create, lookup.Properties.Update, lookup.Properties.InstallLatestAwsSdk]).toEqual([call, call, false]);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'ec2:DescribeManagedPrefixLists', Resource: '*' }] },
    });
    expect(JSON.stringify(template.toJSON())).not.toContain('ManagedPrefixListsProvider');
  });

  test('the default security group is stripped of its rules', () => {
    // The CDK custom resource revokes every rule of THIS VPC's default group, through its own handler.
    const defaultGroup = { 'Fn::GetAtt': [logicalIdOf(network.vpc), 'DefaultSecurityGroup'] };
    template.resourceCountIs('Custom::VpcRestrictDefaultSG', 1);
    const restrict = Object.values(
      template.findResources('Custom::VpcRestrictDefaultSG', { Properties: { DefaultSecurityGroupId: defaultGroup } }),
    );
    expect(restrict).toHaveLength(1);
    const [handlerId, attribute] = restrict[0].Properties.ServiceToken['Fn::GetAtt'];
    expect(attribute).toBe('Arn');
    expect(Object.keys(template.findResources('AWS::Lambda::Function'))).toContain(handlerId);
    template.hasResourceProperties('AWS::IAM::Role', {
      Policies: [
        {
          PolicyName: 'Inline',
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Action: [
                  'ec2:AuthorizeSecurityGroupIngress',
                  'ec2:AuthorizeSecurityGroupEgress',
                  'ec2:RevokeSecurityGroupIngress',
                  'ec2:RevokeSecurityGroupEgress',
                ],
                Resource: [{ 'Fn::Join': ['', ['arn:aws:ec2:eu-west-2:', { Ref: 'AWS::AccountId' }, ':security-group/', defaultGroup]] }],
              },
            ],
          },
        },
      ],
    });
  });

  test('flow logs capture all traffic of the VPC into the given log group', () => {
    template.resourceCountIs('AWS::EC2::FlowLog', 1);
    template.hasResourceProperties('AWS::EC2::FlowLog', {
      ResourceId: { Ref: logicalIdOf(network.vpc) },
      ResourceType: 'VPC',
      TrafficType: 'ALL',
      LogDestinationType: 'cloud-watch-logs',
      LogGroupName: { Ref: logicalIdOf(flowLogGroup) },
      DeliverLogsPermissionArn: getAtt(network.vpc.node.findChild('FlowLog').node.findChild('IAMRole')),
    });
  });

  test("every endpoint's policy limits it to this account's resources; ECR's token, its AWS-owned layer bucket and Secrets Manager's random passwords are the only exceptions", () => {
    const endpoints = Object.values(both.template.findResources('AWS::EC2::VPCEndpoint')) as Array<{
      Properties: { ServiceName: unknown; PolicyDocument?: { Statement: Array<Record<string, unknown>> } };
    }>;
    expect(endpoints).toHaveLength(7);
    for (const endpoint of endpoints) {
      const service = JSON.stringify(endpoint.Properties.ServiceName);
      const statements = endpoint.Properties.PolicyDocument?.Statement ?? [];
      const scoped = statements.filter((st) => st.Sid === 'OnlyThisAccountsResources');
      expect([service, scoped.length, scoped[0]?.Condition]).toEqual([
        service,
        1,
        { StringEquals: { 'aws:ResourceAccount': { Ref: 'AWS::AccountId' } } },
      ]);
      const others = statements.filter((st) => st.Sid !== 'OnlyThisAccountsResources').map((st) => [st.Sid, st.Action, st.Resource]);
      if (service.includes('ecr.api')) expect(others).toEqual([['RegistryToken', 'ecr:GetAuthorizationToken', '*']]);
      else if (service.includes('secretsmanager'))
        // The rotation function's new passwords: an action without a resource, which the account condition cannot match.
        expect(others).toEqual([['RandomPasswords', 'secretsmanager:GetRandomPassword', '*']]);
      else if (service.includes('.s3'))
        expect(others).toEqual([['EcrImageLayers', 's3:GetObject', 'arn:aws:s3:::prod-eu-west-2-starport-layer-bucket/*']]);
      else expect([service, others]).toEqual([service, []]);
    }
  });
});
