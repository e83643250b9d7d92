import { acknowledge } from '../../../lib/compliance/acknowledge';
import { databaseDeviations } from '../../../lib/compliance/profile-deviations';
import { Stack } from 'aws-cdk-lib';
import { constructTestApp, testConfig } from '../../helpers';

describe('databaseDeviations', () => {
  const development = testConfig({ profile: 'development' }).database;
  const production = testConfig({ profile: 'production' }).database;

  test('production settings deviate from nothing', () => {
    expect(databaseDeviations(production)).toEqual([]);
  });

  test('development: single AZ, no deletion protection and no backup plan, each acknowledged in every pack that reports it', () => {
    expect(databaseDeviations(development).map((f) => f.id)).toEqual([
      'AwsSolutions-RDS3',
      'HIPAA.Security-RDSMultiAZSupport',
      'NIST.800.53.R5-RDSMultiAZSupport',
      'AwsSolutions-RDS10',
      'HIPAA.Security-RDSInstanceDeletionProtectionEnabled',
      'NIST.800.53.R5-RDSInstanceDeletionProtectionEnabled',
      'HIPAA.Security-RDSInBackupPlan',
      'NIST.800.53.R5-RDSInBackupPlan',
    ]);
  });

  test('each deviation follows its own setting, not the profile name', () => {
    expect(databaseDeviations({ ...production, multiAz: false }).map((f) => f.id)).toEqual([
      'AwsSolutions-RDS3',
      'HIPAA.Security-RDSMultiAZSupport',
      'NIST.800.53.R5-RDSMultiAZSupport',
    ]);
    expect(databaseDeviations({ ...production, deletionProtection: false }).map((f) => f.id)).toEqual([
      'AwsSolutions-RDS10',
      'HIPAA.Security-RDSInstanceDeletionProtectionEnabled',
      'NIST.800.53.R5-RDSInstanceDeletionProtectionEnabled',
    ]);
    expect(databaseDeviations({ ...production, awsBackupPlan: false }).map((f) => f.id)).toEqual([
      'HIPAA.Security-RDSInBackupPlan',
      'NIST.800.53.R5-RDSInBackupPlan',
    ]);
  });

  test('every reason says why the trade-off is safe: synthetic data only, never real PHI, and what covers the gap', () => {
    const findings = databaseDeviations(development);
    for (const f of findings)
      expect([f.id, f.reason]).toEqual([f.id, expect.stringContaining('synthetic test records only, never real PHI')]);
    expect(findings.find((f) => f.id === 'AwsSolutions-RDS3')!.reason).toContain('an outage costs a redeploy');
    expect(findings.find((f) => f.id === 'HIPAA.Security-RDSInBackupPlan')!.reason).toContain('RDS automated backups (1 day) cover it');
    // acknowledge() accepts them (known rule ids, specific reasons).
    expect(() => acknowledge(new Stack(constructTestApp(), 'S'), ...findings)).not.toThrow();
  });
});
