import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as events from 'aws-cdk-lib/aws-events';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import { acknowledge } from '../compliance/acknowledge';

/** How long the plan keeps recovery points: daily ones 35 days, monthly ones a year. */
export const DAILY_RETENTION_DAYS = 35;
export const MONTHLY_RETENTION_DAYS = 365;

export interface DatabaseBackupProps {
  readonly instance: rds.IDatabaseInstance;
  readonly vaultName: string;
  /** The vault's own key, not the database's: who may use one need not be able to use the other. */
  readonly encryptionKey: kms.IKey;
  readonly removalPolicy: RemovalPolicy;
  /**
   * Backup Vault Lock in compliance mode: once the grace period has passed, no one (the root user and AWS
   * included) can delete a recovery point before its retention ends, shorten retention, or remove the lock.
   * @default - no lock (the vault policy alone denies deletion)
   */
  readonly lock?: boolean;
  /** A vault in another account each recovery point is copied to. @default - no copy */
  readonly copyVaultArn?: string;
}

/**
 * An AWS Backup plan for the database, in addition to RDS automated backups: daily recovery
 * points kept 35 days and monthly ones kept a year, in a CMK-encrypted vault that refuses
 * deletion of recovery points by anyone but the backup service; optionally locked (compliance
 * mode) and copied to a vault in another account.
 */
export class DatabaseBackup extends Construct {
  public readonly vault: backup.BackupVault;
  public readonly plan: backup.BackupPlan;

  constructor(scope: Construct, id: string, props: DatabaseBackupProps) {
    super(scope, id);
    this.vault = new backup.BackupVault(this, 'Vault', {
      backupVaultName: props.vaultName,
      encryptionKey: props.encryptionKey,
      removalPolicy: props.removalPolicy,
      blockRecoveryPointDeletion: true,
      // Compliance mode: with changeableFor, the lock becomes immutable after three days (the minimum);
      // until then it can still be removed, which is the window to correct a wrong setting.
      // minRetention is the shortest rule's retention, so every recovery point of the plan satisfies it.
      // https://docs.aws.amazon.com/aws-backup/latest/devguide/vault-lock.html
      // https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-backup-backupvault-lockconfigurationtype.html
      lockConfiguration: props.lock
        ? {
            minRetention: Duration.days(DAILY_RETENTION_DAYS),
            maxRetention: Duration.days(MONTHLY_RETENTION_DAYS),
            changeableFor: Duration.days(3),
          }
        : undefined,
    });
    // A copy keeps the source's retention; the destination vault's own lock and policy protect it there.
    // Cross-account copy needs AWS Organizations' cross-account backup turned on and, for an RDS snapshot
    // encrypted with a customer managed key, the destination account allowed to use that key (docs/deploying.md).
    // https://docs.aws.amazon.com/aws-backup/latest/devguide/create-cross-account-backup.html
    const copyVault = props.copyVaultArn ? backup.BackupVault.fromBackupVaultArn(this, 'CopyVault', props.copyVaultArn) : undefined;
    const copyFor = (deleteAfter: Duration) => (copyVault ? [{ destinationBackupVault: copyVault, deleteAfter }] : undefined);
    this.plan = new backup.BackupPlan(this, 'Plan', {
      backupVault: this.vault,
      backupPlanRules: [
        // The schedules and retention of BackupPlanRule.daily() and monthly1Year(), with the copy.
        new backup.BackupPlanRule({
          ruleName: 'Daily',
          scheduleExpression: events.Schedule.cron({ hour: '5', minute: '0' }),
          deleteAfter: Duration.days(DAILY_RETENTION_DAYS),
          copyActions: copyFor(Duration.days(DAILY_RETENTION_DAYS)),
        }),
        new backup.BackupPlanRule({
          ruleName: 'Monthly1Year',
          scheduleExpression: events.Schedule.cron({ day: '1', hour: '5', minute: '0' }),
          moveToColdStorageAfter: Duration.days(30),
          deleteAfter: Duration.days(MONTHLY_RETENTION_DAYS),
          copyActions: copyFor(Duration.days(MONTHLY_RETENTION_DAYS)),
        }),
      ],
    });
    const selection = this.plan.addSelection('Database', {
      resources: [backup.BackupResource.fromRdsDatabaseInstance(props.instance)],
    });
    acknowledge(selection.node.findChild('Role'), {
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]',
      reason:
        'AWSBackupServiceRolePolicyForBackup is the AWS-maintained policy the backup service role needs to snapshot RDS; AWS updates it as services change.',
    });
  }
}
