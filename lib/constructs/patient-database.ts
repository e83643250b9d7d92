import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledge } from '../compliance/acknowledge';
import { databaseDeviations } from '../compliance/profile-deviations';
import type { DatabaseSettings } from '../config';
import { EncryptedLogGroup } from './encrypted-log-group';
import { POSTGRES_PORT } from './isolated-network';

/** PostgreSQL 16, the major the processor and the local embedded PostgreSQL are tested against; no minor. */
export const POSTGRES_MAJOR_VERSION = rds.PostgresEngineVersion.of('16', '16');

/** Log types RDS exports to CloudWatch Logs; each gets a log group this construct owns. */
export const EXPORTED_LOG_TYPES = ['postgresql', 'upgrade'] as const;
export type ExportedLogType = (typeof EXPORTED_LOG_TYPES)[number];

/** The log group RDS exports a log into; RDS fixes the name from the instance identifier. */
export function rdsLogGroupName(instanceIdentifier: string, logType: ExportedLogType | '*'): string {
  return `/aws/rds/instance/${instanceIdentifier}/${logType}`;
}

/**
 * Database parameters. TLS is forced, pgaudit records every read, write, DDL and role change
 * at session level, and nothing writes statement parameters (which would be PHI) to the logs.
 */
export const DATABASE_PARAMETERS: Readonly<Record<string, string>> = {
  'rds.force_ssl': '1',
  ssl_min_protocol_version: 'TLSv1.2',
  password_encryption: 'scram-sha-256',
  shared_preload_libraries: 'pgaudit,pg_stat_statements',
  'pgaudit.role': 'rds_pgaudit',
  'pgaudit.log': 'read,write,ddl,role',
  'pgaudit.log_catalog': '0',
  'pgaudit.log_relation': '1',
  'pgaudit.log_parameter': '0',
  log_statement: 'none',
  log_parameter_max_length: '0',
  log_parameter_max_length_on_error: '0',
  log_connections: '1',
  log_disconnections: '1',
};

export interface PatientDatabaseProps {
  readonly vpc: ec2.IVpc;
  readonly subnetGroupName: string;
  readonly securityGroup: ec2.ISecurityGroup;
  readonly instanceIdentifier: string;
  /**
   * Size, availability, protection and backups of the instance, the database name and the EXISTING
   * master secret (read, never written): the environment's resolved DatabaseSettings.
   */
  readonly settings: DatabaseSettings;
  readonly storageKey: kms.IKey;
  /** Encrypts the exported log groups; its policy must admit `/aws/rds/instance/<id>/*`. */
  readonly logKey: kms.IKey;
  /** Retention and removal policy of the exported log groups. */
  readonly logs: { readonly retentionDays: number; readonly removalPolicy: RemovalPolicy };
}

/**
 * RDS PostgreSQL 16 in isolated subnets: CMK-encrypted storage, TLS forced, IAM authentication,
 * pgaudit, enhanced monitoring, and log exports into encrypted log groups created here (so that
 * retention, encryption and deletion follow the stage, not RDS defaults).
 */
export class PatientDatabase extends Construct {
  public readonly instance: rds.DatabaseInstance;
  public readonly masterSecret: secretsmanager.ISecret;
  public readonly logGroups: Record<ExportedLogType, EncryptedLogGroup>;

  constructor(scope: Construct, id: string, props: PatientDatabaseProps) {
    super(scope, id);

    const { settings } = props;
    // The master credentials. An existing secret: a dynamic reference CloudFormation resolves at deploy time
    // (never in the template); Credentials.fromSecret would attach the instance to the secret and rewrite it.
    // RDS-managed (previews): RDS generates the password into a secret of its own, rotates it and deletes it
    // with the instance; CDK creates no secret. No MasterUserSecret.KmsKeyId: Secrets Manager encrypts it with
    // the AWS managed key aws/secretsmanager, usable only through Secrets Manager in this account; previews hold
    // synthetic data only. https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html
    const { master } = settings;
    const existing =
      master.source === 'existing-secret' ? secretsmanager.Secret.fromSecretNameV2(this, 'MasterSecret', master.secretName) : undefined;
    const removalPolicy = settings.snapshotOnDelete ? RemovalPolicy.SNAPSHOT : RemovalPolicy.DESTROY;
    // The major version only: with autoMinorVersionUpgrade, RDS applies minor versions in the maintenance
    // window, and a template that named one (16.13) would then ask CloudFormation to go back to it (a
    // downgrade RDS refuses) on the next deploy. RDS picks the major's default minor at creation.
    // https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rds-dbinstance.html#cfn-rds-dbinstance-engineversion
    // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_UpgradeDBInstance.Upgrading.html
    const engine = rds.DatabaseInstanceEngine.postgres({ version: POSTGRES_MAJOR_VERSION });

    const parameterGroup = new rds.ParameterGroup(this, 'Parameters', {
      engine,
      description: `TLS-only, pgaudit-enabled parameters for ${props.instanceIdentifier}`,
      parameters: { ...DATABASE_PARAMETERS },
    });

    this.logGroups = Object.fromEntries(
      EXPORTED_LOG_TYPES.map((logType) => [
        logType,
        new EncryptedLogGroup(this, `${logType[0].toUpperCase()}${logType.slice(1)}Logs`, {
          logGroupName: rdsLogGroupName(props.instanceIdentifier, logType),
          encryptionKey: props.logKey,
          ...props.logs,
        }),
      ]),
    ) as Record<ExportedLogType, EncryptedLogGroup>;

    this.instance = new rds.DatabaseInstance(this, 'Instance', {
      engine,
      instanceIdentifier: props.instanceIdentifier,
      databaseName: settings.databaseName,
      credentials:
        master.source === 'rds-managed'
          ? rds.Credentials.fromUsername(master.username)
          : rds.Credentials.fromPassword(
              existing!.secretValueFromJson('username').unsafeUnwrap(),
              existing!.secretValueFromJson('password'),
            ),
      manageMasterUserPassword: master.source === 'rds-managed' ? true : undefined,
      instanceType: new ec2.InstanceType(settings.instanceType),
      vpc: props.vpc,
      vpcSubnets: { subnetGroupName: props.subnetGroupName },
      securityGroups: [props.securityGroup],
      port: POSTGRES_PORT,
      publiclyAccessible: false,
      multiAz: settings.multiAz,
      storageType: rds.StorageType.GP3,
      allocatedStorage: settings.allocatedStorageGiB,
      maxAllocatedStorage: settings.maxAllocatedStorageGiB,
      storageEncrypted: true,
      storageEncryptionKey: props.storageKey,
      caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
      parameterGroup,
      iamAuthentication: true,
      autoMinorVersionUpgrade: true,
      backupRetention: Duration.days(settings.backupRetentionDays),
      deleteAutomatedBackups: removalPolicy === RemovalPolicy.DESTROY,
      copyTagsToSnapshot: true,
      monitoringInterval: Duration.seconds(60),
      enablePerformanceInsights: settings.performanceInsights,
      performanceInsightEncryptionKey: settings.performanceInsights ? props.storageKey : undefined,
      cloudwatchLogsExports: [...EXPORTED_LOG_TYPES],
      deletionProtection: settings.deletionProtection,
      removalPolicy,
    });
    // Stryker disable next-line LogicalOperator: the instance has a secret exactly when RDS manages the password
    this.masterSecret = existing ?? this.instance.secret!;
    // RDS must find our encrypted groups in place, or it creates unencrypted ones with no expiry.
    for (const group of Object.values(this.logGroups)) this.instance.node.addDependency(group);

    // What the profile knowingly departs from (development: single AZ, no deletion protection, no backup plan).
    acknowledge(this.instance, ...databaseDeviations(settings));
    acknowledge(this.instance, {
      id: 'AwsSolutions-RDS11',
      reason:
        'A non-default port is obscurity, not a control: only the processor security group can reach 5432, in isolated subnets, over forced TLS with SCRAM or IAM authentication.',
    });
    acknowledge(this.instance.node.findChild('MonitoringRole'), {
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]',
      reason:
        'AmazonRDSEnhancedMonitoringRole is the AWS-maintained policy for the enhanced-monitoring service role; it only writes the RDSOSMetrics log group.',
    });
  }
}
