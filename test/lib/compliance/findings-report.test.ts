import { Stack, Stage, Validations } from 'aws-cdk-lib';
import * as sns from 'aws-cdk-lib/aws-sns';
import { acknowledge, hipaaAndNist } from '../../../lib/compliance/acknowledge';
import {
  acknowledgedFindings,
  AcknowledgedFinding,
  complianceRegister,
  countByPack,
  decisions,
  sectionOf,
  splitRule,
} from '../../../lib/compliance/findings-report';
import { constructTestApp } from '../../helpers';

const DEV_ONLY = 'Development profile only: a deviation an auditor accepts for synthetic test data in a sandbox.';
const INLINE = 'The policy is written for this one role; inline, it cannot be attached to any other principal.';
const STAR = 'ListStacks has no resource-level permissions; it reveals stack names and states only.';

/** Two stages with the same workload stack, a stack of the shared trail, and a delivery-tooling stack. */
function app() {
  const root = constructTestApp();
  for (const stageId of ['dev', 'prod']) {
    const data = new Stack(new Stage(root, stageId), 'Data');
    const topic = new sns.Topic(data, 'Topic');
    acknowledge(topic, ...hipaaAndNist('SNSEncryptedKMS', DEV_ONLY), { id: 'AwsSolutions-SNS3', reason: DEV_ONLY });
    // The same finding acknowledged twice on one resource is still one pair.
    acknowledge(topic, { id: 'AwsSolutions-SNS3', reason: DEV_ONLY });
  }
  const trail = new Stack(root, 'SharedTrail');
  acknowledge(new sns.Topic(trail, 'Alarms'), { id: 'CloudFormation-Validate::W3010', reason: DEV_ONLY });
  const pipeline = new Stack(root, 'Pipeline');
  // Any construct stands in for the role the acknowledgements would be on.
  const role = new sns.Topic(pipeline, 'Role');
  acknowledge(
    role,
    ...hipaaAndNist('IAMNoInlinePolicy', INLINE),
    { id: 'AwsSolutions-IAM5[Resource::*]', reason: STAR },
    { id: 'AwsSolutions-IAM5[Action::s3:Get|List*]', reason: STAR },
  );
  // An acknowledgement that is not ours (no pack rule id) is left out of the register.
  Validations.of(role).acknowledge({ id: 'some-plugin-rule', reason: 'acknowledged by another validation plugin' });
  return root;
}

describe('findings report', () => {
  const findings = acknowledgedFindings(app());

  test('every acknowledgement made through acknowledge(), with its pack, resource, stack and stage', () => {
    expect(findings).toContainEqual({
      rule: 'AwsSolutions-SNS3',
      pack: 'AwsSolutions',
      resource: 'Topic',
      stack: 'Data',
      stage: 'dev',
      reason: DEV_ONLY,
    });
    expect(findings).toContainEqual({
      rule: 'NIST.800.53.R5-SNSEncryptedKMS',
      pack: 'NIST.800.53.R5',
      resource: 'Topic',
      stack: 'Data',
      stage: 'prod',
      reason: DEV_ONLY,
    });
    expect(findings).toContainEqual({
      rule: 'CloudFormation-Validate::W3010',
      pack: 'CloudFormation-Validate',
      resource: 'Alarms',
      stack: 'SharedTrail',
      stage: '',
      reason: DEV_ONLY,
    });
    expect(
      findings
        .filter((f) => f.stack === 'Pipeline')
        .map((f) => f.rule)
        .sort(),
    ).toEqual([
      'AwsSolutions-IAM5[Action::s3:Get|List*]',
      'AwsSolutions-IAM5[Resource::*]',
      'HIPAA.Security-IAMNoInlinePolicy',
      'NIST.800.53.R5-IAMNoInlinePolicy',
    ]);
    expect(findings.map((f) => f.rule)).not.toContain('some-plugin-rule');
  });

  test('counts per pack are the distinct (stack/resource, rule) pairs', () => {
    // Data/Topic: 3 rules (the stages and the repeat collapse), SharedTrail/Alarms: 1, Pipeline/Role: 4.
    expect(countByPack(findings)).toEqual({ AwsSolutions: 3, 'HIPAA.Security': 2, 'NIST.800.53.R5': 2, 'CloudFormation-Validate': 1 });
  });

  test('the delivery tooling stacks outside a stage are tooling; everything else, the shared trail included, is workload', () => {
    const at = (stack: string, stage: string) => ({ stack, stage }) as AcknowledgedFinding;
    expect(sectionOf(at('Pipeline', ''))).toBe('tooling');
    expect(sectionOf(at('Previews', ''))).toBe('tooling');
    expect(sectionOf(at('PreviewSandbox', ''))).toBe('tooling');
    expect(sectionOf(at('SharedTrail', ''))).toBe('workload');
    // A stage inside the pipeline stack is an environment.
    expect(sectionOf(at('Pipeline', 'dev'))).toBe('workload');
  });

  test('splitRule: pack, rule and the finding in brackets', () => {
    expect(splitRule('AwsSolutions-IAM5[Resource::*]')).toEqual({ pack: 'AwsSolutions', rule: 'IAM5', finding: 'Resource::*' });
    expect(splitRule('HIPAA.Security-IAMNoInlinePolicy')).toEqual({ pack: 'HIPAA.Security', rule: 'IAMNoInlinePolicy' });
    expect(splitRule('CloudFormation-Validate::W3010')).toEqual({ pack: 'CloudFormation-Validate', rule: 'W3010' });
    expect(() => splitRule('Custom-X')).toThrow('not a rule id: Custom-X');
  });

  test('one decision per (section, reason): the packs of a rule merge, resources list where they apply', () => {
    const all = decisions(findings);
    expect(all.map((d) => [d.section, d.reason])).toEqual([
      ['workload', DEV_ONLY],
      ['tooling', STAR],
      ['tooling', INLINE],
    ]);
    const [workload] = all;
    expect([...workload.rules.entries()].map(([rule, packs]) => [rule, [...packs].sort()])).toEqual([
      ['SNSEncryptedKMS', ['HIPAA.Security', 'NIST.800.53.R5']],
      ['SNS3', ['AwsSolutions']],
      ['W3010', ['CloudFormation-Validate']],
    ]);
    expect([...workload.resources.entries()].map(([r, { where }]) => [r, [...where].sort()])).toEqual([
      ['Data/Topic', ['dev', 'prod']],
      ['SharedTrail/Alarms', ['SharedTrail']],
    ]);
    expect([...all[1].resources.get('Pipeline/Role')!.findings].sort()).toEqual(['Action::s3:Get|List*', 'Resource::*']);
  });

  test('the register: a section per part, one numbered entry per decision, resources with where they apply and their findings', () => {
    expect(complianceRegister(findings).split('\n')).toEqual([
      '## PHI workload (the stacks of every environment, and the shared trail)',
      '',
      '1 decisions.',
      '',
      '### D1. `SNS3` (AwsSolutions), `SNSEncryptedKMS` (HIPAA.Security, NIST.800.53.R5), `W3010` (CloudFormation-Validate)',
      '',
      DEV_ONLY,
      '',
      '- `Data/Topic` (dev, prod)',
      '- `SharedTrail/Alarms` (SharedTrail)',
      '',
      '## Delivery tooling (the pipeline and the preview pipelines, no PHI)',
      '',
      '2 decisions.',
      '',
      '### D2. `IAM5` (AwsSolutions)',
      '',
      STAR,
      '',
      '- `Pipeline/Role` (Pipeline): `Action::s3:Get\\|List*`, `Resource::*`',
      '',
      '### D3. `IAMNoInlinePolicy` (HIPAA.Security, NIST.800.53.R5)',
      '',
      INLINE,
      '',
      '- `Pipeline/Role` (Pipeline)',
    ]);
  });
});
