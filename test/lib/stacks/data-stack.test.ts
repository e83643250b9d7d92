import { Match } from 'aws-cdk-lib/assertions';
import { EncryptionKey } from '../../../lib/constructs/encryption-key';
import { rdsLogGroupName } from '../../../lib/constructs/patient-database';
import { DataStack } from '../../../lib/stacks/data-stack';
import { getAtt, logicalIdOf, logsKeyStatement, synthStage } from '../../helpers';

/** An EncryptionKey of the data stack, by its construct id (StreamKey, DatabaseKey, DatabaseLogKey). */
const keyOf = (stack: DataStack, id: string) => (stack.node.findChild(id) as EncryptionKey).key;
/** A strong import of a network-stack value (see reference-strength.ts). */
const fromNetwork = (suffix: string, pattern: string) => ({
  'Fn::ImportValue': Match.stringLikeRegexp(`^hipaa-fhir-network-${suffix}:ExportsOutput.*${pattern}`),
});

describe('DataStack', () => {
  const eph = synthStage({ environmentSuffix: 'data', profile: 'development', databaseSecretName: 'hipaa-fhir/previews/db-credentials' });
  const COPY_VAULT = 'arn:aws:backup:eu-west-2:555555555555:backup-vault:hipaa-fhir-copies';
  const prod = synthStage({ environmentSuffix: 'data', profile: 'production', backupCopyVaultArn: COPY_VAULT });
  const data = eph.templates.data;
  const prodData = prod.templates.data;
  const { naming } = eph.stage.config;

  test("the stream is named with the suffix, encrypted with the stack's stream key, sized and kept by the profile", () => {
    data.hasResourceProperties('AWS::Kinesis::Stream', {
      Name: naming.streamName,
      StreamEncryption: { EncryptionType: 'KMS', KeyId: getAtt(eph.stage.data.streamKey) },
      ShardCount: 1,
      RetentionPeriodHours: 24,
    });
    expect(naming.streamName).toBe('hipaa-fhir-records-data');
    prodData.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
      RetentionPeriodHours: 168,
      StreamEncryption: { EncryptionType: 'KMS', KeyId: getAtt(prod.stage.data.streamKey) },
    });
  });

  test('sizing.streamRetentionHours of cdk.json sets the retention of the stream', () => {
    const longer = synthStage({ environmentSuffix: 'data', profile: 'production', sizing: { streamRetentionHours: 720 } });
    longer.templates.data.hasResourceProperties('AWS::Kinesis::Stream', { RetentionPeriodHours: 720 });
  });

  test("three keys (stream, database, database logs) under the environment's aliases; every one rotates", () => {
    data.resourceCountIs('AWS::KMS::Key', 3);
    data.allResourcesProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    for (const [id, purpose] of [
      ['StreamKey', 'stream'],
      ['DatabaseKey', 'database'],
      ['DatabaseLogKey', 'database-logs'],
    ]) {
      data.hasResourceProperties('AWS::KMS::Alias', {
        AliasName: naming.kmsAlias(purpose),
        TargetKeyId: getAtt(keyOf(eph.stage.data, id)),
      });
    }
    expect(naming.streamKeyAlias).toBe(naming.kmsAlias('stream'));
  });

  test("the database is named with the suffix, stored on the database key, in the network layer's database subnets and group", () => {
    data.hasResourceProperties('AWS::RDS::DBInstance', {
      DBInstanceIdentifier: 'hipaa-fhir-db-data',
      KmsKeyId: getAtt(eph.stage.data.databaseKey),
      VPCSecurityGroups: [fromNetwork('data', 'DatabaseSecurityGroup')],
      DBSubnetGroupName: { Ref: logicalIdOf(eph.stage.data.patientDatabase.instance.node.findChild('SubnetGroup')) },
    });
    expect(naming.dbInstanceIdentifier).toBe('hipaa-fhir-db-data');
    data.hasResourceProperties('AWS::RDS::DBSubnetGroup', {
      SubnetIds: [fromNetwork('data', 'databaseSubnet1'), fromNetwork('data', 'databaseSubnet2')],
    });
  });

  test("the database gets the profile's settings: small and single-AZ in development, Multi-AZ and snapshotted in production", () => {
    data.hasResource('AWS::RDS::DBInstance', {
      Properties: Match.objectLike({
        DBInstanceClass: 'db.t4g.micro',
        MultiAZ: false,
        DeletionProtection: false,
        BackupRetentionPeriod: 1,
      }),
      DeletionPolicy: 'Delete',
    });
    prodData.hasResource('AWS::RDS::DBInstance', {
      Properties: Match.objectLike({
        DBInstanceClass: 'db.m7g.large',
        MultiAZ: true,
        DeletionProtection: true,
        BackupRetentionPeriod: 35,
        PerformanceInsightsKMSKeyId: getAtt(prod.stage.data.databaseKey),
      }),
      DeletionPolicy: 'Snapshot',
    });
  });

  test('credentials come from the configured EXISTING secret; nothing creates a secret', () => {
    data.resourceCountIs('AWS::SecretsManager::Secret', 0);
    data.hasResourceProperties('AWS::RDS::DBInstance', {
      MasterUserPassword: {
        'Fn::Join': [
          '',
          [
            '{{resolve:secretsmanager:arn:aws:secretsmanager:eu-west-2:',
            { Ref: 'AWS::AccountId' },
            ':secret:hipaa-fhir/previews/db-credentials:SecretString:password::}}',
          ],
        ],
      },
    });
    data.hasOutput('DatabaseSecretName', { Value: 'hipaa-fhir/previews/db-credentials' });
    data.hasOutput('DatabaseSecretArn', {
      Value: {
        'Fn::Join': ['', ['arn:aws:secretsmanager:eu-west-2:', { Ref: 'AWS::AccountId' }, ':secret:hipaa-fhir/previews/db-credentials']],
      },
    });
  });

  test("exported logs land in groups encrypted with the database log key, which admits exactly this instance's groups, with profile retention", () => {
    for (const logType of ['postgresql', 'upgrade'] as const) {
      data.hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: rdsLogGroupName('hipaa-fhir-db-data', logType),
        KmsKeyId: getAtt(keyOf(eph.stage.data, 'DatabaseLogKey')),
        RetentionInDays: 7,
      });
    }
    data.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          logsKeyStatement([
            {
              'Fn::Join': ['', ['arn:aws:logs:eu-west-2:', { Ref: 'AWS::AccountId' }, ':log-group:/aws/rds/instance/hipaa-fhir-db-data/*']],
            },
            // A restore drill copy's exported logs (its identifier starts with the drill prefix).
            {
              'Fn::Join': [
                '',
                [
                  'arn:aws:logs:eu-west-2:',
                  { Ref: 'AWS::AccountId' },
                  `:log-group:/aws/rds/instance/${naming.restoreDrillInstancePrefix}*/*`,
                ],
              ],
            },
          ]),
        ]),
      },
    });
    data.hasOutput('DatabaseLogGroupName', { Value: { Ref: logicalIdOf(eph.stage.data.databaseLogGroup) } });
  });

  test('development: no AWS Backup plan', () => {
    data.resourceCountIs('AWS::Backup::BackupPlan', 0);
    expect(data.findOutputs('BackupVaultName')).toEqual({});
  });

  test("production: an AWS Backup plan protects the stage's own instance in a locked vault on a key of its own", () => {
    prodData.hasResourceProperties('AWS::Backup::BackupVault', {
      BackupVaultName: prod.stage.config.naming.resourceName('backup'),
      EncryptionKeyArn: getAtt(keyOf(prod.stage.data, 'BackupVaultKey')),
      // Compliance mode: immutable after three days; the shortest rule's retention is the minimum.
      LockConfiguration: { MinRetentionDays: 35, MaxRetentionDays: 365, ChangeableForDays: 3 },
    });
    expect(getAtt(keyOf(prod.stage.data, 'BackupVaultKey'))).not.toEqual(getAtt(prod.stage.data.databaseKey));
    expect(prod.stage.config.naming.resourceName('backup')).toBe('hipaa-fhir-backup-data');
    prodData.hasResourceProperties('AWS::Backup::BackupPlan', {
      BackupPlan: {
        BackupPlanRule: Match.arrayWith([Match.objectLike({ RuleName: 'Daily' }), Match.objectLike({ RuleName: 'Monthly1Year' })]),
      },
    });
    // The selection names exactly the stage's database instance (by its logical id), nothing else.
    prodData.resourceCountIs('AWS::RDS::DBInstance', 1);
    prodData.hasResourceProperties('AWS::Backup::BackupSelection', {
      BackupSelection: Match.objectLike({
        Resources: [
          {
            'Fn::Join': ['', ['arn:aws:rds:eu-west-2:', { Ref: 'AWS::AccountId' }, ':db:', { Ref: logicalIdOf(prod.stage.data.database) }]],
          },
        ],
      }),
    });
    prodData.hasOutput('BackupVaultName', { Value: getAtt(prod.stage.data.backup!.vault, 'BackupVaultName') });
  });

  test('production: every recovery point is copied to the configured vault of another account, kept as long as the source', () => {
    const rules = Object.values(prodData.findResources('AWS::Backup::BackupPlan'))[0].Properties.BackupPlan.BackupPlanRule;
    expect(
      rules.map((r: { RuleName: string; Lifecycle: unknown; CopyActions: unknown }) => [r.RuleName, r.Lifecycle, r.CopyActions]),
    ).toEqual([
      ['Daily', { DeleteAfterDays: 35 }, [{ DestinationBackupVaultArn: COPY_VAULT, Lifecycle: { DeleteAfterDays: 35 } }]],
      [
        'Monthly1Year',
        { DeleteAfterDays: 365, MoveToColdStorageAfterDays: 30 },
        [{ DestinationBackupVaultArn: COPY_VAULT, Lifecycle: { DeleteAfterDays: 365 } }],
      ],
    ]);
  });

  test('production: snapshots and logs outlive the stack, so their keys do too', () => {
    prodData.resourceCountIs('AWS::KMS::Key', 4);
    prodData.allResources('AWS::KMS::Key', { DeletionPolicy: 'Retain' });
  });

  test("the live instance's subnet and parameter groups carry the tags the restore drill's restore statement requires, and its key the alias", () => {
    const { naming: prodNaming } = prod.stage.config;
    const envTags = Match.arrayWith([
      { Key: 'EnvironmentSuffix', Value: prodNaming.suffix },
      { Key: 'Project', Value: prodNaming.project },
    ]);
    for (const type of ['AWS::RDS::DBSubnetGroup', 'AWS::RDS::DBParameterGroup']) {
      prodData.resourceCountIs(type, 1);
      prodData.hasResourceProperties(type, { Tags: envTags });
    }
    prodData.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: prodNaming.kmsAlias('database'),
      TargetKeyId: getAtt(prod.stage.data.databaseKey),
    });
    // The instance itself uses exactly that subnet group, parameter group and key.
    const [subnetGroup] = Object.keys(prodData.findResources('AWS::RDS::DBSubnetGroup'));
    const [parameterGroup] = Object.keys(prodData.findResources('AWS::RDS::DBParameterGroup'));
    prodData.hasResourceProperties('AWS::RDS::DBInstance', {
      DBSubnetGroupName: { Ref: subnetGroup },
      DBParameterGroupName: { Ref: parameterGroup },
      KmsKeyId: getAtt(prod.stage.data.databaseKey),
    });
  });
});
