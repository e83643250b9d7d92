import { CfnOutput, Fn } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { routeCustomResourceLogs } from '../constructs/custom-resource-logs';
import { EncryptedLogGroup } from '../constructs/encrypted-log-group';
import { EncryptionKey } from '../constructs/encryption-key';
import { DATABASE_SUBNETS, IsolatedNetwork, WORKLOAD_SUBNETS } from '../constructs/isolated-network';
import { strengthenReplaceableReferences } from '../constructs/reference-strength';
import { removalPolicyFor } from '../constructs/removal';
import { EnvironmentStack, EnvironmentStackProps } from './environment-stack';

/** The isolated VPC, its endpoints, security groups and encrypted flow logs. */
export class NetworkStack extends EnvironmentStack {
  public readonly network: IsolatedNetwork;

  constructor(scope: Construct, id: string, props: EnvironmentStackProps) {
    super(scope, id, 'network', 'Isolated VPC, VPC endpoints and flow logs', props);
    const { config } = props;
    const flowLogGroupName = config.naming.logGroupName('vpc-flow-logs');
    const customResourceLogGroupName = config.naming.logGroupName('custom-resources');

    const logKey = new EncryptionKey(this, 'FlowLogKey', {
      alias: config.naming.kmsAlias('network-logs'),
      description: `VPC flow logs of ${config.environmentSuffix}`,
      removalPolicy: removalPolicyFor(config),
      pendingWindowDays: config.keyPendingWindowDays,
      logGroupNamePatterns: [flowLogGroupName, customResourceLogGroupName],
    });
    const flowLogs = new EncryptedLogGroup(this, 'FlowLogs', {
      logGroupName: flowLogGroupName,
      encryptionKey: logKey.key,
      retentionDays: config.logRetentionDays,
      removalPolicy: removalPolicyFor(config),
    });

    this.network = new IsolatedNetwork(this, 'Network', {
      cidr: config.network.vpcCidr,
      availabilityZones: config.network.availabilityZones,
      endpointAzCount: config.network.endpointAzCount,
      flowLogGroup: flowLogs.logGroup,
      rdsApiEndpoint: config.restoreDrill.enabled,
    });

    // The VPC's custom-resource handler logs into a group of ours, not one Lambda would create.
    const customResourceLogs = new EncryptedLogGroup(this, 'CustomResourceLogs', {
      logGroupName: customResourceLogGroupName,
      encryptionKey: logKey.key,
      retentionDays: config.logRetentionDays,
      removalPolicy: removalPolicyFor(config),
    });
    routeCustomResourceLogs(this, customResourceLogs.logGroup);

    // Subnet, security-group and key ids can be replaced: consumers import them strongly.
    strengthenReplaceableReferences(this);

    const subnetIds = (group: string) => Fn.join(',', this.network.vpc.selectSubnets({ subnetGroupName: group }).subnetIds);
    new CfnOutput(this, 'EnvironmentSuffix', { value: config.environmentSuffix, description: 'environmentSuffix of this stage' });
    new CfnOutput(this, 'AwsRegion', { value: this.region, description: 'Region the stage is deployed to' });
    new CfnOutput(this, 'VpcId', { value: this.network.vpc.vpcId });
    new CfnOutput(this, 'WorkloadSubnetIds', { value: subnetIds(WORKLOAD_SUBNETS), description: 'Isolated subnets for the processor' });
    new CfnOutput(this, 'DatabaseSubnetIds', { value: subnetIds(DATABASE_SUBNETS), description: 'Isolated subnets for the database' });
    new CfnOutput(this, 'WorkloadSecurityGroupId', { value: this.network.workloadSecurityGroup.securityGroupId });
    new CfnOutput(this, 'FlowLogGroupName', { value: flowLogs.logGroup.logGroupName });
    new CfnOutput(this, 'FlowLogKeyArn', { value: logKey.key.keyArn });
  }

  get vpc(): ec2.IVpc {
    return this.network.vpc;
  }
}
