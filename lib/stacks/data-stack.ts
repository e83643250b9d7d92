import { CfnOutput, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import { acknowledge } from '../compliance/acknowledge';
import { databaseDeviations } from '../compliance/profile-deviations';
import { DatabaseBackup } from '../constructs/database-backup';
import { EncryptionKey } from '../constructs/encryption-key';
import { DATABASE_SUBNETS } from '../constructs/isolated-network';
import { PatientDatabase, rdsLogGroupName } from '../constructs/patient-database';
import { RecordStream } from '../constructs/record-stream';
import { strengthenReplaceableReferences } from '../constructs/reference-strength';
import { removalPolicyFor } from '../constructs/removal';
import { EnvironmentStack, EnvironmentStackProps } from './environment-stack';

export interface DataStackProps extends EnvironmentStackProps {
  readonly vpc: ec2.IVpc;
  readonly databaseSecurityGroup: ec2.ISecurityGroup;
}

/** The PHI stores: the Kinesis stream and the PostgreSQL database, each under its own CMK. */
export class DataStack extends EnvironmentStack {
  public readonly streamKey: EncryptionKey;
  public readonly databaseKey: EncryptionKey;
  public readonly recordStream: RecordStream;
  public readonly database: PatientDatabase;
  public readonly backup?: DatabaseBackup;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, 'data', 'PHI stores: Kinesis stream and RDS PostgreSQL', props);
    const { config } = props;
    const { naming } = config;
    const removal = removalPolicyFor(config);
    const keyDefaults = { removalPolicy: removal, pendingWindowDays: config.keyPendingWindowDays };

    this.streamKey = new EncryptionKey(this, 'StreamKey', {
      ...keyDefaults,
      alias: naming.streamKeyAlias,
      description: `Kinesis stream ${naming.streamName} (PHI)`,
    });
    this.databaseKey = new EncryptionKey(this, 'DatabaseKey', {
      ...keyDefaults,
      alias: naming.kmsAlias('database'),
      description: `RDS storage, snapshots and Performance Insights of ${naming.dbInstanceIdentifier} (PHI)`,
    });
    const databaseLogKey = new EncryptionKey(this, 'DatabaseLogKey', {
      ...keyDefaults,
      alias: naming.kmsAlias('database-logs'),
      description: `Exported PostgreSQL and pgaudit logs of ${naming.dbInstanceIdentifier}`,
      logGroupNamePatterns: [rdsLogGroupName(naming.dbInstanceIdentifier, '*')],
    });

    this.recordStream = new RecordStream(this, 'Records', {
      streamName: naming.streamName,
      encryptionKey: this.streamKey.key,
      shardCount: config.stream.shardCount,
      retentionHours: config.stream.retentionHours,
      removalPolicy: removal,
    });

    this.database = new PatientDatabase(this, 'Database', {
      vpc: props.vpc,
      subnetGroupName: DATABASE_SUBNETS,
      securityGroup: props.databaseSecurityGroup,
      instanceIdentifier: naming.dbInstanceIdentifier,
      databaseName: config.database.databaseName,
      masterSecretName: config.database.masterSecretName,
      instanceType: new ec2.InstanceType(config.database.instanceType),
      allocatedStorageGiB: config.database.allocatedStorageGiB,
      maxAllocatedStorageGiB: config.database.maxAllocatedStorageGiB,
      multiAz: config.database.multiAz,
      deletionProtection: config.database.deletionProtection,
      backupRetentionDays: config.database.backupRetentionDays,
      performanceInsights: config.database.performanceInsights,
      storageKey: this.databaseKey.key,
      logKey: databaseLogKey.key,
      logRetentionDays: config.logRetentionDays,
      instanceRemovalPolicy: config.database.snapshotOnDelete ? RemovalPolicy.SNAPSHOT : RemovalPolicy.DESTROY,
      logRemovalPolicy: removal,
    });

    const { instance } = this.database;
    acknowledge(instance, ...databaseDeviations(config.database));
    if (config.database.awsBackupPlan) {
      this.backup = new DatabaseBackup(this, 'Backup', {
        instance,
        vaultName: naming.resourceName('backup'),
        encryptionKey: this.databaseKey.key,
        removalPolicy: removal,
      });
      new CfnOutput(this, 'BackupVaultName', { value: this.backup.vault.backupVaultName });
    }

    // Key ids and the database endpoint and resource id can change: consumers import them strongly.
    strengthenReplaceableReferences(this);

    new CfnOutput(this, 'StreamName', { value: this.recordStream.stream.streamName });
    new CfnOutput(this, 'StreamArn', { value: this.recordStream.stream.streamArn });
    new CfnOutput(this, 'StreamKeyArn', { value: this.streamKey.key.keyArn });
    new CfnOutput(this, 'DatabaseInstanceIdentifier', { value: instance.instanceIdentifier });
    new CfnOutput(this, 'DatabaseEndpointAddress', { value: instance.dbInstanceEndpointAddress });
    new CfnOutput(this, 'DatabaseEndpointPort', { value: instance.dbInstanceEndpointPort });
    new CfnOutput(this, 'DatabaseName', { value: config.database.databaseName });
    new CfnOutput(this, 'DatabaseSecretName', { value: config.database.masterSecretName, description: 'The existing master-credentials secret' });
    new CfnOutput(this, 'DatabaseSecretArn', { value: this.database.masterSecret.secretArn, description: 'Partial ARN (no random suffix) of the existing secret' });
    new CfnOutput(this, 'DatabaseKeyArn', { value: this.databaseKey.key.keyArn });
    new CfnOutput(this, 'DatabaseLogKeyArn', { value: databaseLogKey.key.keyArn });
    new CfnOutput(this, 'DatabaseLogGroupName', { value: this.database.logGroups.postgresql.logGroup.logGroupName, description: 'PostgreSQL and pgaudit log' });
  }
}
