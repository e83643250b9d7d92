import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { DatabaseBackup } from '../constructs/database-backup';
import { EncryptionKey } from '../constructs/encryption-key';
import { DATABASE_SUBNETS } from '../constructs/isolated-network';
import { PatientDatabase, rdsLogGroupName } from '../constructs/patient-database';
import { ProducerRole } from '../constructs/producer-role';
import { RecordStream } from '../constructs/record-stream';
import { strengthenReplaceableReferences } from '../constructs/reference-strength';
import { lifecycleOf } from '../constructs/removal';
import type { Naming } from '../contract';
import { EnvironmentStack, EnvironmentStackProps } from './environment-stack';
import type { NetworkResources } from './network-stack';

/** What the data layer gives the layers above it. */
export interface DataResources {
  readonly stream: kinesis.IStream;
  /** The largest record the stream accepts (bytes): the processor's MAX_RECORD_BYTES. */
  readonly streamMaxRecordBytes: number;
  readonly database: rds.IDatabaseInstance;
  /** The key of the database storage and snapshots (a restored copy uses it too). */
  readonly databaseKey: kms.IKey;
  /** The EXISTING master secret: read only by the migration task, never by the service. */
  readonly databaseSecret: secretsmanager.ISecret;
  /** The PostgreSQL (and pgaudit) log group. */
  readonly databaseLogGroup: logs.ILogGroup;
  /** The key of the exported database logs (also of a restore drill copy's). */
  readonly databaseLogKey: kms.IKey;
}

export interface DataStackProps extends EnvironmentStackProps {
  readonly network: NetworkResources;
}

/** The PHI stores: the Kinesis stream and the PostgreSQL database, each under its own CMK. */
export class DataStack extends EnvironmentStack<'data'> implements DataResources {
  public readonly streamKey: kms.IKey;
  public readonly recordStream: RecordStream;
  public readonly producer: ProducerRole;
  public readonly patientDatabase: PatientDatabase;
  public readonly backup?: DatabaseBackup;
  public readonly stream: kinesis.IStream;
  public readonly streamMaxRecordBytes: number;
  public readonly database: rds.IDatabaseInstance;
  public readonly databaseKey: kms.IKey;
  public readonly databaseSecret: secretsmanager.ISecret;
  public readonly databaseLogGroup: logs.ILogGroup;
  public readonly databaseLogKey: kms.IKey;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, 'data', props);
    const { config } = props;
    const { naming } = config;
    const lifecycle = lifecycleOf(config);

    // The data keys: used only by the environment's roles that handle the data, and only through Kinesis,
    // RDS and AWS Backup (scripts/access-matrix asks who else could: nobody outside these, whatever IAM grants).
    const cfnExecRole = `cdk-*-cfn-exec-role-${this.account}-${this.region}`;
    const streamKey = new EncryptionKey(this, 'StreamKey', {
      ...lifecycle.keys,
      alias: naming.streamKeyAlias,
      description: `Kinesis stream ${naming.streamName} (PHI)`,
      users: { roleNames: streamKeyUsers(naming), viaServices: ['kinesis'] },
    });
    const databaseKey = new EncryptionKey(this, 'DatabaseKey', {
      ...lifecycle.keys,
      alias: naming.kmsAlias('database'),
      description: `RDS storage, snapshots and Performance Insights of ${naming.dbInstanceIdentifier} (PHI)`,
      users: {
        // CloudFormation creates the encrypted instance and vault; the drill restores copies; AWS Backup's role
        // (a name CloudFormation generates, starting with this stack's) backs the instance up.
        roleNames: [cfnExecRole, naming.restoreDrillNames.task, ...(config.database.awsBackupPlan ? [`${this.stackName}-*`] : [])],
        viaServices: ['rds', 'backup'],
      },
    });
    const databaseLogKey = new EncryptionKey(this, 'DatabaseLogKey', {
      ...lifecycle.keys,
      alias: naming.kmsAlias('database-logs'),
      description: `Exported PostgreSQL and pgaudit logs of ${naming.dbInstanceIdentifier}`,
      // The restore drill's copies export the same logs, into groups of their own.
      logGroupNamePatterns: [
        rdsLogGroupName(naming.dbInstanceIdentifier, '*'),
        rdsLogGroupName(`${naming.restoreDrillInstancePrefix}*`, '*'),
      ],
    });

    this.recordStream = new RecordStream(this, 'Records', {
      streamName: naming.streamName,
      encryptionKey: streamKey.key,
      settings: config.stream,
      removalPolicy: lifecycle.removalPolicy,
    });

    this.patientDatabase = new PatientDatabase(this, 'Database', {
      vpc: props.network.vpc,
      subnetGroupName: DATABASE_SUBNETS,
      securityGroup: props.network.databaseSecurityGroup,
      instanceIdentifier: naming.dbInstanceIdentifier,
      settings: config.database,
      storageKey: databaseKey.key,
      logKey: databaseLogKey.key,
      logs: lifecycle.logs,
    });
    const { instance } = this.patientDatabase;
    if (config.database.awsBackupPlan) {
      const vaultKey = new EncryptionKey(this, 'BackupVaultKey', {
        ...lifecycle.keys,
        alias: naming.kmsAlias('backup'),
        description: `AWS Backup vault of ${naming.dbInstanceIdentifier} (recovery points of PHI)`,
      });
      this.backup = new DatabaseBackup(this, 'Backup', {
        instance,
        vaultName: naming.resourceName('backup'),
        encryptionKey: vaultKey.key,
        removalPolicy: lifecycle.removalPolicy,
        // Locked where the profile keeps things (production): a vault that outlives whoever holds backup:*.
        lock: !config.destroyOnRemoval,
        copyVaultArn: config.database.backupCopyVaultArn,
      });
      this.output('BackupVaultName', this.backup.vault.backupVaultName);
    }

    this.streamKey = streamKey.key;
    this.stream = this.recordStream.stream;
    this.streamMaxRecordBytes = this.recordStream.maxRecordBytes;
    this.producer = new ProducerRole(this, 'Producer', {
      roleName: naming.producerRoleName,
      stream: this.stream,
      streamKey: this.streamKey,
      trustedPrincipals: config.producer.trustedPrincipals,
    });
    this.database = instance;
    this.databaseKey = databaseKey.key;
    this.databaseSecret = this.patientDatabase.masterSecret;
    this.databaseLogGroup = this.patientDatabase.logGroups.postgresql.logGroup;
    this.databaseLogKey = databaseLogKey.key;

    // Key ids and the database endpoint and resource id can change: consumers import them strongly.
    strengthenReplaceableReferences(this);

    this.output('StreamName', this.stream.streamName);
    this.output('StreamArn', this.stream.streamArn);
    this.output('ProducerRoleArn', this.producer.role.roleArn);
    this.output('StreamKeyArn', this.streamKey.keyArn);
    this.output('DatabaseInstanceIdentifier', instance.instanceIdentifier);
    this.output('DatabaseEndpointAddress', instance.dbInstanceEndpointAddress);
    this.output('DatabaseEndpointPort', instance.dbInstanceEndpointPort);
    this.output('DatabaseName', config.database.databaseName);
    const { master } = config.database;
    if (master.source === 'existing-secret') this.output('DatabaseSecretName', master.secretName, 'The existing master-credentials secret');
    this.output(
      'DatabaseSecretArn',
      this.databaseSecret.secretArn,
      master.source === 'existing-secret'
        ? 'Partial ARN (no random suffix) of the existing secret'
        : 'The master-credentials secret RDS manages (rotated by RDS)',
    );
    this.output('DatabaseKeyArn', this.databaseKey.keyArn);
    this.output('DatabaseLogKeyArn', databaseLogKey.key.keyArn);
    this.output('DatabaseLogGroupName', this.databaseLogGroup.logGroupName, 'PostgreSQL and pgaudit log');
  }
}

/** Roles that read or write the stream (Kinesis uses its key on their behalf). */
export function streamKeyUsers(naming: Naming): string[] {
  return [naming.processorRoleNames.task, naming.postDeployRoleName, naming.producerRoleName];
}
