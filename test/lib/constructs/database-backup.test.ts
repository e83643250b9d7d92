import { RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import { DatabaseBackup } from '../../../lib/constructs/database-backup';
import { getAtt, logicalIdOf, testStack, testVpc } from '../../helpers';

describe('DatabaseBackup', () => {
  const stack = testStack();
  const key = new kms.Key(stack, 'DatabaseKey');
  const instance = new rds.DatabaseInstance(stack, 'Instance', {
    engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16_13 }),
    vpc: testVpc(stack),
    vpcSubnets: { subnetGroupName: 'database' },
  });
  const backup = new DatabaseBackup(stack, 'Backup', {
    instance,
    vaultName: 'hipaa-fhir-backup-prod',
    encryptionKey: key,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  const template = Template.fromStack(stack);

  test('the vault is encrypted with the given key, named, and kept as the removal policy says', () => {
    template.hasResource('AWS::Backup::BackupVault', {
      Properties: Match.objectLike({ BackupVaultName: 'hipaa-fhir-backup-prod', EncryptionKeyArn: getAtt(key) }),
      DeletionPolicy: 'Retain',
    });
  });

  test('nobody but the backup service may delete recovery points (blockRecoveryPointDeletion)', () => {
    template.hasResourceProperties('AWS::Backup::BackupVault', {
      AccessPolicy: {
        Version: '2012-10-17',
        Statement: [
          Match.objectLike({
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: ['backup:DeleteRecoveryPoint', 'backup:UpdateRecoveryPointLifecycle'],
            Resource: '*',
          }),
        ],
      },
    });
  });

  test('daily points kept 35 days and monthly points kept a year, in that vault', () => {
    const vault = { 'Fn::GetAtt': [logicalIdOf(backup.vault), 'BackupVaultName'] };
    template.hasResourceProperties('AWS::Backup::BackupPlan', {
      BackupPlan: {
        BackupPlanRule: [
          Match.objectLike({
            RuleName: 'Daily',
            ScheduleExpression: 'cron(0 5 * * ? *)',
            Lifecycle: { DeleteAfterDays: 35 },
            TargetBackupVault: vault,
          }),
          Match.objectLike({
            RuleName: 'Monthly1Year',
            ScheduleExpression: 'cron(0 5 1 * ? *)',
            Lifecycle: { DeleteAfterDays: 365 },
            TargetBackupVault: vault,
          }),
        ],
      },
    });
  });

  test('the selection names exactly the given instance, nothing else', () => {
    template.resourceCountIs('AWS::Backup::BackupSelection', 1);
    template.hasResourceProperties('AWS::Backup::BackupSelection', {
      BackupPlanId: { 'Fn::GetAtt': [logicalIdOf(backup.plan), 'BackupPlanId'] },
      BackupSelection: Match.objectLike({
        Resources: [{ 'Fn::Join': ['', ['arn:aws:rds:eu-west-2:', { Ref: 'AWS::AccountId' }, ':db:', { Ref: logicalIdOf(instance) }]] }],
      }),
    });
  });
});
