import { RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import { acknowledgedFindings } from '../../../lib/compliance/findings-report';
import { DATABASE_SUBNETS } from '../../../lib/constructs/isolated-network';
import { DATABASE_PARAMETERS, PatientDatabase, rdsLogGroupName } from '../../../lib/constructs/patient-database';
import { getAtt, logicalIdOf, testConfig, testStack, testVpc } from '../../helpers';

function build(profile: 'development' | 'production', branch?: string) {
  const stack = testStack();
  const vpc = testVpc(stack);
  const securityGroup = new ec2.SecurityGroup(stack, 'DatabaseSecurityGroup', { vpc, allowAllOutbound: false });
  const storageKey = new kms.Key(stack, 'StorageKey');
  const logKey = new kms.Key(stack, 'LogKey');
  const settings = branch
    ? testConfig({ branch }).database
    : testConfig({ profile, environmentSuffix: 'pdb', databaseSecretName: 'hipaa-fhir/previews/db-credentials' }).database;
  const logsProps =
    profile === 'production'
      ? { retentionDays: 2192, removalPolicy: RemovalPolicy.RETAIN }
      : { retentionDays: 7, removalPolicy: RemovalPolicy.DESTROY };
  const database = new PatientDatabase(stack, 'Database', {
    vpc,
    subnetGroupName: DATABASE_SUBNETS,
    securityGroup,
    instanceIdentifier: 'hipaa-fhir-db-pdb',
    settings,
    storageKey,
    logKey,
    logs: logsProps,
  });
  return { stack, database, securityGroup, storageKey, logKey, template: Template.fromStack(stack) };
}

const secretValue = (field: string) => ({
  'Fn::Join': [
    '',
    [
      '{{resolve:secretsmanager:arn:aws:secretsmanager:eu-west-2:',
      { Ref: 'AWS::AccountId' },
      `:secret:hipaa-fhir/previews/db-credentials:SecretString:${field}::}}`,
    ],
  ],
});

describe('PatientDatabase', () => {
  const dev = build('development');
  const prod = build('production');
  const { template } = dev;

  test('the engine names the major version only, so minor upgrades RDS applies never drift the template', () => {
    for (const t of [template, prod.template]) {
      const [instance] = Object.values(t.findResources('AWS::RDS::DBInstance'));
      expect([instance.Properties.EngineVersion, instance.Properties.AutoMinorVersionUpgrade]).toEqual(['16', true]);
      t.hasResourceProperties('AWS::RDS::DBParameterGroup', { Family: 'postgres16' });
    }
  });

  test('PostgreSQL 16, not public, on the given port and security group, storage encrypted with the given key, IAM authentication', () => {
    template.resourceCountIs('AWS::RDS::DBInstance', 1);
    template.hasResourceProperties('AWS::RDS::DBInstance', {
      Engine: 'postgres',
      EngineVersion: '16',
      DBInstanceIdentifier: 'hipaa-fhir-db-pdb',
      DBName: 'fhir',
      PubliclyAccessible: false,
      Port: '5432',
      VPCSecurityGroups: [getAtt(dev.securityGroup, 'GroupId')],
      StorageEncrypted: true,
      StorageType: 'gp3',
      KmsKeyId: getAtt(dev.storageKey),
      EnableIAMDatabaseAuthentication: true,
      CACertificateIdentifier: 'rds-ca-rsa2048-g1',
      EnableCloudwatchLogsExports: ['postgresql', 'upgrade'],
      MonitoringInterval: 60,
      AutoMinorVersionUpgrade: true,
      CopyTagsToSnapshot: true,
    });
  });

  test("a preview's instance: RDS manages the master password (its own secret, AWS managed key); no password or secret in the template", () => {
    const preview = build('development', 'feature/pdb');
    const [instance] = Object.values(preview.template.findResources('AWS::RDS::DBInstance'));
    expect(instance.Properties).toMatchObject({ ManageMasterUserPassword: true, MasterUsername: 'fhir_admin' });
    expect([instance.Properties.MasterUserPassword, instance.Properties.MasterUserSecret]).toEqual([undefined, undefined]);
    expect(JSON.stringify(preview.template.toJSON())).not.toContain('resolve:secretsmanager');
    expect(Object.keys(preview.template.findResources('AWS::SecretsManager::Secret'))).toEqual([]);
    // The secret the migration task reads is the one RDS made for this instance.
    expect(preview.stack.resolve(preview.database.masterSecret.secretArn)).toEqual({
      'Fn::GetAtt': [logicalIdOf(preview.database.instance), 'MasterUserSecret.SecretArn'],
    });
  });

  test('in the named subnet group only: both database subnets, no workload subnet', () => {
    template.hasResourceProperties('AWS::RDS::DBSubnetGroup', {
      SubnetIds: [
        { Ref: Match.stringLikeRegexp('^VpcdatabaseSubnet1Subnet') },
        { Ref: Match.stringLikeRegexp('^VpcdatabaseSubnet2Subnet') },
      ],
    });
    template.hasResourceProperties('AWS::RDS::DBInstance', {
      DBSubnetGroupName: { Ref: logicalIdOf(dev.database.instance.node.findChild('SubnetGroup')) },
    });
  });

  test('TLS is forced and pgaudit is preloaded and configured, without logging parameters', () => {
    expect(DATABASE_PARAMETERS).toMatchObject({
      'rds.force_ssl': '1',
      // The minimum TLS version as deployed, not only the constant.
      ssl_min_protocol_version: 'TLSv1.2',
      password_encryption: 'scram-sha-256',
      shared_preload_libraries: 'pgaudit,pg_stat_statements',
      'pgaudit.log': 'read,write,ddl,role',
      'pgaudit.log_parameter': '0',
      log_statement: 'none',
      log_parameter_max_length: '0',
      log_parameter_max_length_on_error: '0',
    });
    template.hasResourceProperties('AWS::RDS::DBParameterGroup', { Family: 'postgres16', Parameters: DATABASE_PARAMETERS });
    template.hasResourceProperties('AWS::RDS::DBParameterGroup', {
      Parameters: Match.objectLike({
        'rds.force_ssl': '1',
        ssl_min_protocol_version: 'TLSv1.2',
        shared_preload_libraries: Match.stringLikeRegexp('pgaudit'),
        'pgaudit.log_parameter': '0',
        log_statement: 'none',
      }),
    });
    template.hasResourceProperties('AWS::RDS::DBInstance', {
      DBParameterGroupName: { Ref: logicalIdOf(dev.database.instance.node.scope!.node.findChild('Parameters')) },
    });
  });

  test('credentials come from the EXISTING secret by name; nothing creates or writes a secret', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    template.resourceCountIs('AWS::SecretsManager::SecretTargetAttachment', 0);
    template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 0);
    template.hasResourceProperties('AWS::RDS::DBInstance', {
      MasterUsername: secretValue('username'),
      MasterUserPassword: secretValue('password'),
    });
  });

  test('exported logs land in groups the construct owns, encrypted with the log key, created before the instance', () => {
    for (const [built, retention, deletion] of [
      [dev, 7, 'Delete'],
      [prod, 2192, 'Retain'],
    ] as const) {
      for (const logType of ['postgresql', 'upgrade'] as const) {
        built.template.hasResource('AWS::Logs::LogGroup', {
          Properties: {
            LogGroupName: rdsLogGroupName('hipaa-fhir-db-pdb', logType),
            KmsKeyId: getAtt(built.logKey),
            RetentionInDays: retention,
          },
          DeletionPolicy: deletion,
        });
      }
      const groups = Object.values(built.database.logGroups).map((g) => logicalIdOf(g.logGroup));
      expect(groups).toHaveLength(2);
      built.template.hasResource('AWS::RDS::DBInstance', { DependsOn: Match.arrayWith(groups) });
    }
    expect(rdsLogGroupName('x-db-dev', '*')).toBe('/aws/rds/instance/x-db-dev/*');
  });

  test('development settings: single-AZ, no deletion protection, one day of backups, destroyed with no snapshot', () => {
    template.hasResource('AWS::RDS::DBInstance', {
      Properties: Match.objectLike({
        MultiAZ: false,
        DeletionProtection: false,
        BackupRetentionPeriod: 1,
        DeleteAutomatedBackups: true,
        DBInstanceClass: 'db.t4g.micro',
        AllocatedStorage: '20',
        MaxAllocatedStorage: 50,
        EnablePerformanceInsights: false,
        PerformanceInsightsKMSKeyId: Match.absent(),
      }),
      DeletionPolicy: 'Delete',
      UpdateReplacePolicy: 'Delete',
    });
  });

  test('production settings: Multi-AZ, deletion protection, snapshot on delete, Performance Insights on the storage key', () => {
    prod.template.hasResource('AWS::RDS::DBInstance', {
      Properties: Match.objectLike({
        MultiAZ: true,
        DeletionProtection: true,
        BackupRetentionPeriod: 35,
        DeleteAutomatedBackups: false,
        EnablePerformanceInsights: true,
        PerformanceInsightsKMSKeyId: getAtt(prod.storageKey),
        DBInstanceClass: 'db.m7g.large',
        AllocatedStorage: '100',
        MaxAllocatedStorage: 1000,
      }),
      DeletionPolicy: 'Snapshot',
      UpdateReplacePolicy: 'Snapshot',
    });
  });

  test('the instance acknowledges the development deviations only where the settings make them', () => {
    const rules = (built: typeof dev) =>
      acknowledgedFindings(built.stack)
        .filter((f) => f.resource === 'Database/Instance')
        .map((f) => f.rule)
        .sort();
    expect(rules(dev)).toEqual([
      'AwsSolutions-RDS10',
      'AwsSolutions-RDS11',
      'AwsSolutions-RDS3',
      'HIPAA.Security-RDSInBackupPlan',
      'HIPAA.Security-RDSInstanceDeletionProtectionEnabled',
      'HIPAA.Security-RDSMultiAZSupport',
      'NIST.800.53.R5-RDSInBackupPlan',
      'NIST.800.53.R5-RDSInstanceDeletionProtectionEnabled',
      'NIST.800.53.R5-RDSMultiAZSupport',
    ]);
    expect(rules(prod)).toEqual(['AwsSolutions-RDS11']);
  });
});
