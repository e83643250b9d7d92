import { Fn } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { LAYERS, ToolingNames } from '../contract';
import { routeCustomResourceLogs } from '../constructs/custom-resource-logs';
import { EncryptedLogGroup } from '../constructs/encrypted-log-group';
import { EncryptionKey } from '../constructs/encryption-key';
import { EnvironmentCap } from '../constructs/environment-cap';
import { DATABASE_SUBNETS, IsolatedNetwork, WORKLOAD_SUBNETS } from '../constructs/isolated-network';
import { strengthenReplaceableReferences } from '../constructs/reference-strength';
import { lifecycleOf } from '../constructs/removal';
import { EnvironmentStack, EnvironmentStackProps } from './environment-stack';

/** What the network layer gives the layers above it. */
export interface NetworkResources {
  readonly vpc: ec2.IVpc;
  /** The processor (and its one-off tasks). */
  readonly workloadSecurityGroup: ec2.ISecurityGroup;
  /** The database: PostgreSQL from the workload group only. */
  readonly databaseSecurityGroup: ec2.ISecurityGroup;
}

export interface NetworkStackProps extends EnvironmentStackProps {
  /**
   * For a preview environment: the most preview environments that may exist at once
   * (`previews.maxEnvironments`), checked at deploy time before the VPC is created (EnvironmentCap).
   * @default - no cap (long-lived environments)
   */
  readonly maxPreviews?: number;
}

/** The isolated VPC, its endpoints, security groups and encrypted flow logs. */
export class NetworkStack extends EnvironmentStack<'network'> implements NetworkResources {
  public readonly network: IsolatedNetwork;
  public readonly vpc: ec2.IVpc;
  public readonly workloadSecurityGroup: ec2.ISecurityGroup;
  public readonly databaseSecurityGroup: ec2.ISecurityGroup;
  /** Where the stack's custom-resource and trigger Lambdas log. */
  public readonly customResourceLogGroup: logs.ILogGroup;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, 'network', props);
    const { config } = props;
    const lifecycle = lifecycleOf(config);
    const { flowLogs: flowLogGroupName, customResources: customResourceLogGroupName } = config.naming.logGroupNames;

    const logKey = new EncryptionKey(this, 'FlowLogKey', {
      ...lifecycle.keys,
      alias: config.naming.kmsAlias('network-logs'),
      description: `VPC flow logs of ${config.environmentSuffix}`,
      logGroupNamePatterns: [flowLogGroupName, customResourceLogGroupName],
    });
    const flowLogs = new EncryptedLogGroup(this, 'FlowLogs', {
      ...lifecycle.logs,
      logGroupName: flowLogGroupName,
      encryptionKey: logKey.key,
    });

    // The VPC's custom-resource handler logs into a group of ours, not one Lambda would create.
    this.customResourceLogGroup = new EncryptedLogGroup(this, 'CustomResourceLogs', {
      ...lifecycle.logs,
      logGroupName: customResourceLogGroupName,
      encryptionKey: logKey.key,
    }).logGroup;
    this.network = new IsolatedNetwork(this, 'Network', {
      cidr: config.network.vpcCidr,
      availabilityZones: config.network.availabilityZones,
      endpointAzCount: config.network.endpointAzCount,
      flowLogGroup: flowLogs.logGroup,
      customResourceLogGroup: this.customResourceLogGroup,
      rdsApiEndpoint: config.restoreDrill.enabled,
    });
    this.vpc = this.network.vpc;
    this.workloadSecurityGroup = this.network.workloadSecurityGroup;
    this.databaseSecurityGroup = this.network.databaseSecurityGroup;

    routeCustomResourceLogs(this, this.customResourceLogGroup);

    if (props.maxPreviews !== undefined) {
      if (!config.preview) throw new Error(`maxPreviews is for preview environments only; ${config.environmentSuffix} has no branch`);
      // The first stack of the environment checks the cap before its VPC is created.
      new EnvironmentCap(this, 'EnvironmentCap', {
        project: config.project,
        environmentSuffix: config.environmentSuffix,
        maxEnvironments: props.maxPreviews,
        firstStackPrefix: new ToolingNames(config.project).previewStackPattern(LAYERS[0]).replace(/\*$/, ''),
        logGroup: this.customResourceLogGroup,
        before: [this.network],
      });
    }

    // Subnet, security-group and key ids can be replaced: consumers import them strongly.
    strengthenReplaceableReferences(this);

    const subnetIds = (group: string) => Fn.join(',', this.vpc.selectSubnets({ subnetGroupName: group }).subnetIds);
    this.output('EnvironmentSuffix', config.environmentSuffix, 'environmentSuffix of this stage');
    this.output('AwsRegion', this.region, 'Region the stage is deployed to');
    this.output('VpcId', this.vpc.vpcId);
    this.output('WorkloadSubnetIds', subnetIds(WORKLOAD_SUBNETS), 'Isolated subnets for the processor');
    this.output('DatabaseSubnetIds', subnetIds(DATABASE_SUBNETS), 'Isolated subnets for the database');
    this.output('WorkloadSecurityGroupId', this.workloadSecurityGroup.securityGroupId);
    this.output('FlowLogGroupName', flowLogs.logGroup.logGroupName);
    this.output('FlowLogKeyArn', logKey.key.keyArn);
  }
}
