import { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledge, hipaaAndNist } from '../compliance/acknowledge';
import { S3PrefixListId } from './s3-prefix-list';

/** PostgreSQL's port; security group rules use literal ports only. */
export const POSTGRES_PORT = 5432;
export const HTTPS_PORT = 443;

/** Subnet group names, used by the stacks that place resources in them. */
export const WORKLOAD_SUBNETS = 'workload';
export const DATABASE_SUBNETS = 'database';

export interface IsolatedNetworkProps {
  readonly cidr: string;
  /** Exactly the zones to use; pinned so synth performs no look-up. */
  readonly availabilityZones: readonly string[];
  /** How many of the zones get an ENI per interface endpoint. */
  readonly endpointAzCount: number;
  /** Encrypted destination for VPC flow logs. */
  readonly flowLogGroup: logs.ILogGroup;
  /** Encrypted group the deploy-time look-up of the S3 prefix list logs into. */
  readonly customResourceLogGroup: logs.ILogGroup;
  /**
   * An interface endpoint for the RDS API (`com.amazonaws.<region>.rds`), for the restore drill,
   * which calls it from the isolated subnets. @default false
   */
  readonly rdsApiEndpoint?: boolean;
}

/**
 * A VPC with no internet gateway and no NAT: workload and database subnets are isolated,
 * and the AWS services the workload calls are reached through VPC endpoints. The default
 * security group is stripped of its rules; every other group allows named ports only.
 */
export class IsolatedNetwork extends Construct {
  public readonly vpc: ec2.Vpc;
  /** The processor tasks. */
  public readonly workloadSecurityGroup: ec2.SecurityGroup;
  /** The RDS instance: PostgreSQL from the workload only. */
  public readonly databaseSecurityGroup: ec2.SecurityGroup;
  /** Interface endpoints: HTTPS from the workload only. */
  public readonly endpointSecurityGroup: ec2.SecurityGroup;
  public readonly interfaceEndpoints: Record<string, ec2.InterfaceVpcEndpoint> = {};
  /** The S3 gateway endpoint (ECR image layers). */
  public readonly s3Endpoint: ec2.GatewayVpcEndpoint;
  /** The region's AWS-managed S3 prefix list (`pl-…`), resolved at deploy time: the S3 gateway's destination in security groups. */
  public readonly s3PrefixListId: string;

  constructor(scope: Construct, id: string, props: IsolatedNetworkProps) {
    super(scope, id);

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(props.cidr),
      availabilityZones: [...props.availabilityZones],
      natGateways: 0,
      createInternetGateway: false,
      restrictDefaultSecurityGroup: true,
      subnetConfiguration: [
        { name: WORKLOAD_SUBNETS, subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
        { name: DATABASE_SUBNETS, subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
    });
    // ECR stores image layers in S3 (same construct id as the Vpc's gatewayEndpoints option gave it).
    this.s3Endpoint = this.vpc.addGatewayEndpoint('S3', {
      service: ec2.GatewayVpcEndpointAwsService.S3,
      subnets: [{ subnetGroupName: WORKLOAD_SUBNETS }],
    });

    acknowledge(this.vpc, {
      id: 'CloudFormation-Validate::W3010',
      reason:
        'Zones are pinned in configuration on purpose: synth must not look them up, and the subnet layout must not move when AWS adds a zone.',
    });

    const flowLog = this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(props.flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });
    const inlineReason =
      "CDK generates this role's policy from a grant on exactly one log group; as an inline policy it cannot be attached to, or widened for, any other principal.";
    acknowledge(flowLog.node.findChild('IAMRole'), ...hipaaAndNist('IAMNoInlinePolicy', inlineReason));

    this.workloadSecurityGroup = new ec2.SecurityGroup(this, 'WorkloadSecurityGroup', {
      vpc: this.vpc,
      description: 'Processor tasks: HTTPS to VPC endpoints, PostgreSQL to the database',
      allowAllOutbound: false,
    });
    this.databaseSecurityGroup = new ec2.SecurityGroup(this, 'DatabaseSecurityGroup', {
      vpc: this.vpc,
      description: 'RDS PostgreSQL: reachable from the processor tasks only',
      allowAllOutbound: false,
    });
    this.endpointSecurityGroup = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc: this.vpc,
      description: 'VPC interface endpoints: HTTPS from the processor tasks only',
      allowAllOutbound: false,
    });

    this.databaseSecurityGroup.addIngressRule(this.workloadSecurityGroup, ec2.Port.tcp(POSTGRES_PORT), 'PostgreSQL from processor tasks');
    this.workloadSecurityGroup.addEgressRule(this.databaseSecurityGroup, ec2.Port.tcp(POSTGRES_PORT), 'PostgreSQL to the database');
    this.endpointSecurityGroup.addIngressRule(this.workloadSecurityGroup, ec2.Port.tcp(HTTPS_PORT), 'HTTPS from processor tasks');
    // HTTPS only to the interface endpoints and to S3 through the gateway endpoint: no 0.0.0.0/0 rule, so a
    // compromised task cannot reach an address the VPC might gain a route to later (a NAT, a peering).
    this.workloadSecurityGroup.addEgressRule(this.endpointSecurityGroup, ec2.Port.tcp(HTTPS_PORT), 'HTTPS to the VPC interface endpoints');
    this.s3PrefixListId = new S3PrefixListId(this, 'S3PrefixList', { logGroup: props.customResourceLogGroup }).prefixListId;
    this.workloadSecurityGroup.addEgressRule(
      ec2.Peer.prefixList(this.s3PrefixListId),
      ec2.Port.tcp(HTTPS_PORT),
      'HTTPS to S3 through the gateway endpoint (ECR image layers)',
    );

    const endpointSubnets: ec2.SubnetSelection = {
      subnetGroupName: WORKLOAD_SUBNETS,
      availabilityZones: props.availabilityZones.slice(0, props.endpointAzCount),
    };
    // No KMS endpoint: nothing in the VPC calls KMS. The CMK-encrypted stream, log groups, database
    // storage and secret are decrypted by Kinesis, CloudWatch Logs, RDS and Secrets Manager on the
    // caller's behalf (kms:ViaService), from their own endpoints; the processor has no KMS client.
    // https://docs.aws.amazon.com/streams/latest/dev/server-side-encryption.html
    // https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html
    const services: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
      EcrApi: ec2.InterfaceVpcEndpointAwsService.ECR,
      EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
      Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
      Kinesis: ec2.InterfaceVpcEndpointAwsService.KINESIS_STREAMS,
      SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      // The restore drill's control-plane calls (restore, describe, delete); not the database connection.
      // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/vpc-interface-endpoints.html
      ...(props.rdsApiEndpoint ? { Rds: ec2.InterfaceVpcEndpointAwsService.RDS } : {}),
    };
    for (const [name, service] of Object.entries(services)) {
      this.interfaceEndpoints[name] = this.vpc.addInterfaceEndpoint(`${name}Endpoint`, {
        service,
        subnets: endpointSubnets,
        securityGroups: [this.endpointSecurityGroup],
        open: false,
        privateDnsEnabled: true,
      });
    }
    this.limitEndpointsToThisAccount();
  }

  /**
   * Every endpoint reaches this account's resources only, so a compromised task cannot write records, log
   * events, images or objects to another account's stream, log group, repository or bucket through it
   * (https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html; aws:ResourceAccount:
   * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourceaccount).
   * Kinesis Data Streams, CloudWatch Logs, Secrets Manager, ECR, the RDS API and S3 gateway endpoints all accept
   * endpoint policies (each service's "VPC endpoint policy" section of its user guide).
   */
  private limitEndpointsToThisAccount(): void {
    const { account, region, partition } = Stack.of(this);
    const thisAccountOnly = (actions: string[]) =>
      new iam.PolicyStatement({
        sid: 'OnlyThisAccountsResources',
        principals: [new iam.AnyPrincipal()],
        actions,
        resources: ['*'],
        conditions: { StringEquals: { 'aws:ResourceAccount': account } },
      });
    const prefixes: Record<string, string[]> = {
      EcrApi: ['ecr:*'],
      EcrDocker: ['ecr:*'],
      Logs: ['logs:*'],
      Kinesis: ['kinesis:*'],
      SecretsManager: ['secretsmanager:*'],
      Rds: ['rds:*'],
    };
    for (const [name, endpoint] of Object.entries(this.interfaceEndpoints)) {
      endpoint.addToPolicy(thisAccountOnly(prefixes[name]));
      if (name === 'EcrApi')
        // GetAuthorizationToken names no resource; the token it returns is used through EcrDocker, which the condition binds.
        endpoint.addToPolicy(
          new iam.PolicyStatement({
            sid: 'RegistryToken',
            principals: [new iam.AnyPrincipal()],
            actions: ['ecr:GetAuthorizationToken'],
            resources: ['*'],
          }),
        );
      if (name === 'SecretsManager')
        // The rotation function's new passwords: GetRandomPassword names no resource, so no account condition can match it.
        endpoint.addToPolicy(
          new iam.PolicyStatement({
            sid: 'RandomPasswords',
            principals: [new iam.AnyPrincipal()],
            actions: ['secretsmanager:GetRandomPassword'],
            resources: ['*'],
          }),
        );
    }
    this.s3Endpoint.addToPolicy(thisAccountOnly(['s3:*']));
    // Image layers come from ECR's AWS-owned bucket in the region
    // (https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html#ecr-setting-up-s3-gateway).
    this.s3Endpoint.addToPolicy(
      new iam.PolicyStatement({
        sid: 'EcrImageLayers',
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:GetObject'],
        resources: [`arn:${partition}:s3:::prod-${region}-starport-layer-bucket/*`],
      }),
    );
  }
}
