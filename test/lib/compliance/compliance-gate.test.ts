import { Stack, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { applyComplianceGate, runComplianceChecks } from '../../../lib/compliance/compliance-gate';
import { acknowledgedFindings, countByPack } from '../../../lib/compliance/findings-report';
import { referenceApp } from '../../../scripts/generators/reference-app';
import { PipelineAppStage } from '../../../stages/pipeline-app-stage';
import { synthStage, testApp, testConfig } from '../../helpers';

describe('compliance gate', () => {
  const app = referenceApp();

  test('HIPAA.Security, AwsSolutions and NIST.800.53.R5 find nothing unacknowledged in any stage or the shared trail', () => {
    const results = runComplianceChecks(app);
    expect(results.map((r) => r.pack).sort()).toEqual(['AwsSolutions', 'HIPAA.Security', 'NIST.800.53.R5']);
    const open = results.flatMap((r) =>
      r.violations.map(
        (v) =>
          `${v.severity} ${v.ruleName}: ${v.violatingResources.map((x) => (x as { constructPath?: string }).constructPath).join(', ')}`,
      ),
    );
    expect(open).toEqual([]);
  });

  test('the gate reaches stacks inside a Stage and fails synth on a non-compliant resource', () => {
    const bad = testApp();
    const stage = new PipelineAppStage(bad, 'bad', { config: testConfig({ environmentSuffix: 'bad' }) });
    new s3.Bucket(stage.data, 'PlainBucket');
    const violations = runComplianceChecks(bad).flatMap((r) => r.violations.map((v) => v.ruleName));
    expect(violations).toEqual(
      expect.arrayContaining([
        'AwsSolutions-S1',
        'AwsSolutions-S10',
        'HIPAA.Security-S3BucketSSLRequestsOnly',
        'NIST.800.53.R5-S3DefaultEncryptionKMS',
      ]),
    );
    applyComplianceGate(bad);
    const quiet = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(() => bad.synth()).toThrow(/AwsSolutions-S1/);
    } finally {
      quiet.mockRestore();
    }
  });

  test('a compliant app synthesizes with the gate applied', () => {
    const { app: good } = synthStage({ environmentSuffix: 'good', profile: 'production' });
    applyComplianceGate(good);
    expect(() => good.synth()).not.toThrow();
  });

  test('every acknowledgement is scoped to a resource, never to a stack, stage or app, and has a reason', () => {
    const findings = acknowledgedFindings(app);
    expect(findings.length).toBeGreaterThan(10);
    for (const f of findings) {
      expect(f.resource.length).toBeGreaterThan(0);
      expect(f.reason.length).toBeGreaterThanOrEqual(40);
    }
    for (const construct of app.node.findAll()) {
      if (!(Stack.isStack(construct) || construct === app || construct.node.scope === app)) continue;
      const onScope = construct.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY);
      expect({ path: construct.node.path, onScope }).toEqual({ path: construct.node.path, onScope: [] });
    }
  });

  test('counts per pack are the distinct acknowledged (resource, rule) pairs of that pack', () => {
    const findings = acknowledgedFindings(app);
    const counts = countByPack(findings);
    expect(Object.keys(counts).sort()).toEqual(['AwsSolutions', 'CloudFormation-Validate', 'HIPAA.Security', 'NIST.800.53.R5']);
    // Recounted here from the rule ids, not from the pack each finding was given.
    const pairs = (pack: string) =>
      new Set(findings.filter((f) => f.rule.startsWith(pack)).map((f) => `${f.stack}/${f.resource}|${f.rule}`)).size;
    for (const pack of Object.keys(counts)) expect([pack, counts[pack]]).toEqual([pack, pairs(pack)]);
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(new Set(findings.map((f) => `${f.stack}/${f.resource}|${f.rule}`)).size);
  });
});
