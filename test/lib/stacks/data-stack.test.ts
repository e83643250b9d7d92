import { Match } from 'aws-cdk-lib/assertions';
import { DATABASE_PARAMETERS } from '../../../lib/constructs/patient-database';
import { resourcesOf, synthStage } from '../../helpers';

describe('DataStack', () => {
  const eph = synthStage({ environmentSuffix: 'data', profile: 'development', databaseSecretName: 'hipaa-fhir/previews/db-credentials' });
  const prod = synthStage({ environmentSuffix: 'data', profile: 'production' });
  const data = eph.templates.data;
  const prodData = prod.templates.data;

  const keyRef = (idPattern: string) => ({ 'Fn::GetAtt': [Match.stringLikeRegexp(idPattern), 'Arn'] });

  test('the stream is encrypted with its own CMK, named with the suffix', () => {
    data.hasResourceProperties('AWS::Kinesis::Stream', {
      Name: 'hipaa-fhir-records-data',
      StreamEncryption: { EncryptionType: 'KMS', KeyId: keyRef('StreamKey') },
      ShardCount: 1,
      RetentionPeriodHours: 24,
    });
    prodData.hasResourceProperties('AWS::Kinesis::Stream', { StreamModeDetails: { StreamMode: 'ON_DEMAND' }, RetentionPeriodHours: 168 });
  });

  test('every key rotates', () => {
    const keys = resourcesOf(data).filter(([, r]) => r.Type === 'AWS::KMS::Key');
    expect(keys).toHaveLength(3);
    for (const [, key] of keys) expect(key.Properties?.EnableKeyRotation).toBe(true);
  });

  test('PostgreSQL 16, not public, in the isolated database subnets, storage on its CMK', () => {
    data.hasResourceProperties('AWS::RDS::DBInstance', {
      Engine: 'postgres',
      EngineVersion: Match.stringLikeRegexp('^16\\.'),
      DBInstanceIdentifier: 'hipaa-fhir-db-data',
      PubliclyAccessible: false,
      StorageEncrypted: true,
      KmsKeyId: keyRef('DatabaseKey'),
      EnableIAMDatabaseAuthentication: true,
      CACertificateIdentifier: 'rds-ca-rsa2048-g1',
      EnableCloudwatchLogsExports: ['postgresql', 'upgrade'],
      MonitoringInterval: 60,
      AutoMinorVersionUpgrade: true,
    });
    const subnetGroup = resourcesOf(data).find(([, r]) => r.Type === 'AWS::RDS::DBSubnetGroup')![1];
    const imports = JSON.stringify(subnetGroup.Properties?.SubnetIds);
    expect(imports).toMatch(/databaseSubnet1/);
    expect(imports).toMatch(/databaseSubnet2/);
    expect(imports).not.toMatch(/workloadSubnet/);
  });

  test('TLS is forced and pgaudit is preloaded and configured, without logging parameters', () => {
    data.hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Family: 'postgres16',
      Parameters: Match.objectLike({
        'rds.force_ssl': '1',
        // The minimum TLS version as deployed, not only the constant.
        'ssl_min_protocol_version': 'TLSv1.2',
        'shared_preload_libraries': Match.stringLikeRegexp('pgaudit'),
        'pgaudit.log': 'read,write,ddl,role',
        'pgaudit.log_parameter': '0',
        'log_statement': 'none',
      }),
    });
    expect(DATABASE_PARAMETERS['ssl_min_protocol_version']).toBe('TLSv1.2');
  });

  test('credentials come from the EXISTING secret by name; nothing creates or writes a secret', () => {
    data.resourceCountIs('AWS::SecretsManager::Secret', 0);
    data.resourceCountIs('AWS::SecretsManager::SecretTargetAttachment', 0);
    data.resourceCountIs('AWS::SecretsManager::RotationSchedule', 0);
    const instance = resourcesOf(data).find(([, r]) => r.Type === 'AWS::RDS::DBInstance')![1];
    const creds = JSON.stringify([instance.Properties?.MasterUsername, instance.Properties?.MasterUserPassword]);
    expect(creds).toContain('{{resolve:secretsmanager:');
    expect(creds).toContain(':secret:hipaa-fhir/previews/db-credentials');
    expect(creds).toContain(':SecretString:username::}}');
    expect(creds).toContain(':SecretString:password::}}');
  });

  test('exported logs land in CMK-encrypted groups the stack owns, created before the instance', () => {
    for (const logType of ['postgresql', 'upgrade']) {
      data.hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: `/aws/rds/instance/hipaa-fhir-db-data/${logType}`,
        KmsKeyId: keyRef('DatabaseLogKey'),
        RetentionInDays: 7,
      });
    }
    const [, instance] = resourcesOf(data).find(([, r]) => r.Type === 'AWS::RDS::DBInstance')! as [string, { DependsOn?: string[] }];
    const logGroupIds = resourcesOf(data).filter(([, r]) => r.Type === 'AWS::Logs::LogGroup').map(([id]) => id);
    expect(instance.DependsOn).toEqual(expect.arrayContaining(logGroupIds));
  });

  test('preview: single-AZ, no deletion protection, destroyed with no snapshot', () => {
    data.hasResource('AWS::RDS::DBInstance', {
      Properties: Match.objectLike({ MultiAZ: false, DeletionProtection: false, BackupRetentionPeriod: 1, DeleteAutomatedBackups: true }),
      DeletionPolicy: 'Delete',
      UpdateReplacePolicy: 'Delete',
    });
    data.resourceCountIs('AWS::Backup::BackupPlan', 0);
  });

  test('production: Multi-AZ, deletion protection, snapshot on delete, Performance Insights on the CMK', () => {
    prodData.hasResource('AWS::RDS::DBInstance', {
      Properties: Match.objectLike({
        MultiAZ: true, DeletionProtection: true, BackupRetentionPeriod: 35,
        EnablePerformanceInsights: true, PerformanceInsightsKMSKeyId: keyRef('DatabaseKey'),
        DBInstanceClass: 'db.m7g.large',
      }),
      DeletionPolicy: 'Snapshot',
      UpdateReplacePolicy: 'Snapshot',
    });
    for (const [, key] of resourcesOf(prodData).filter(([, r]) => r.Type === 'AWS::KMS::Key')) {
      // Snapshots and logs outlive the stack; their keys must too.
      expect(key.DeletionPolicy).toBe('Retain');
    }
  });

  test('production: an AWS Backup plan protects the instance in a CMK vault', () => {
    prodData.hasResourceProperties('AWS::Backup::BackupVault', {
      BackupVaultName: 'hipaa-fhir-backup-data',
      EncryptionKeyArn: keyRef('DatabaseKey'),
    });
    prodData.hasResourceProperties('AWS::Backup::BackupPlan', {
      BackupPlan: { BackupPlanRule: Match.arrayWith([Match.objectLike({ RuleName: 'Daily' }), Match.objectLike({ RuleName: 'Monthly1Year' })]) },
    });
    // The selection names exactly the stage's database instance (by its logical id), nothing else.
    const instances = resourcesOf(prodData).filter(([, r]) => r.Type === 'AWS::RDS::DBInstance').map(([id]) => id);
    expect(instances).toHaveLength(1);
    prodData.hasResourceProperties('AWS::Backup::BackupSelection', {
      BackupSelection: Match.objectLike({ Resources: [{ 'Fn::Join': ['', ['arn:aws:rds:eu-west-2:', { Ref: 'AWS::AccountId' }, ':db:', { Ref: instances[0] }]] }] }),
    });
  });
});
