import type { DatabaseSettings } from '../config';
import { Finding, hipaaAndNist } from './acknowledge';

const DEVELOPMENT =
  'Development profile: a non-production environment (dev, a preview environment or a personal one) in a non-production or sandbox account, holding synthetic test records only, never real PHI';

/**
 * The findings a profile's database settings knowingly deviate from, each with its reason.
 * Production settings deviate from none; anything returned here is a development-profile trade-off.
 */
export function databaseDeviations(settings: DatabaseSettings): Finding[] {
  const findings: Finding[] = [];
  if (!settings.multiAz) {
    const reason = `${DEVELOPMENT}; a single AZ halves its cost and an outage costs a redeploy, not availability of patient data.`;
    findings.push({ id: 'AwsSolutions-RDS3', reason }, ...hipaaAndNist('RDSMultiAZSupport', reason));
  }
  if (!settings.deletionProtection) {
    const reason = `${DEVELOPMENT}; it is removed with its stacks (a preview by its destroy pipeline or TTL sweeper, dev or a personal environment by cdk destroy) without a manual step, and holds nothing that must outlive it.`;
    findings.push({ id: 'AwsSolutions-RDS10', reason }, ...hipaaAndNist('RDSInstanceDeletionProtectionEnabled', reason));
  }
  if (!settings.awsBackupPlan) {
    const reason = `${DEVELOPMENT}; RDS automated backups (1 day) cover it and recovery points must not outlive the environment.`;
    findings.push(...hipaaAndNist('RDSInBackupPlan', reason));
  }
  return findings;
}
