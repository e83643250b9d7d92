import type { DatabaseSettings } from '../config';
import { Finding, hipaaAndNist } from './acknowledge';

const EPHEMERAL = 'Ephemeral profile: a short-lived environment for one branch that holds synthetic test records only, never real PHI';

/**
 * The findings a profile's database settings knowingly deviate from, each with its reason.
 * Production settings deviate from none; anything returned here is an ephemeral trade-off.
 */
export function databaseDeviations(settings: DatabaseSettings): Finding[] {
  const findings: Finding[] = [];
  if (!settings.multiAz) {
    const reason = `${EPHEMERAL}; a single AZ halves its cost and an outage costs a redeploy, not availability of patient data.`;
    findings.push(
      { id: 'AwsSolutions-RDS3', reason },
      ...hipaaAndNist('RDSMultiAZSupport', reason),
    );
  }
  if (!settings.deletionProtection) {
    const reason = `${EPHEMERAL}; it must be destroyable by its pipeline and TTL sweeper without manual steps.`;
    findings.push(
      { id: 'AwsSolutions-RDS10', reason },
      ...hipaaAndNist('RDSInstanceDeletionProtectionEnabled', reason),
    );
  }
  if (!settings.awsBackupPlan) {
    const reason = `${EPHEMERAL}; RDS automated backups (1 day) cover it and recovery points must not outlive the environment.`;
    findings.push(...hipaaAndNist('RDSInBackupPlan', reason));
  }
  return findings;
}
