import { Stack, Validations } from 'aws-cdk-lib';
import * as sns from 'aws-cdk-lib/aws-sns';
import { acknowledge, hipaaAndNist, RULE_ID } from '../../../lib/compliance/acknowledge';
import { acknowledgedFindings } from '../../../lib/compliance/findings-report';
import { constructTestApp } from '../../helpers';

const REASON = 'A reason an auditor can check: what the exception is, and why it is safe here.';

describe('acknowledge', () => {
  test('rule ids are those of AwsSolutions, HIPAA.Security, NIST.800.53.R5 (with the finding in brackets) and CloudFormation-Validate', () => {
    for (const id of [
      'AwsSolutions-S1',
      'AwsSolutions-IAM5[Resource::*]',
      'HIPAA.Security-IAMNoInlinePolicy',
      'NIST.800.53.R5-RDSMultiAZSupport',
      'CloudFormation-Validate::W3010',
    ]) {
      expect([id, RULE_ID.test(id)]).toEqual([id, true]);
    }
    for (const id of ['AwsSolutions', 'Custom-S1', 'HIPAA-IAMNoInlinePolicy', 'CloudFormation-Validate::X3010', '*']) {
      expect([id, RULE_ID.test(id)]).toEqual([id, false]);
    }
  });

  test('hipaaAndNist: the same rule in both packs, with one reason', () => {
    expect(hipaaAndNist('IAMNoInlinePolicy', REASON)).toEqual([
      { id: 'HIPAA.Security-IAMNoInlinePolicy', reason: REASON },
      { id: 'NIST.800.53.R5-IAMNoInlinePolicy', reason: REASON },
    ]);
  });

  test('records each finding on the construct it concerns, where the validation plugins read it', () => {
    const stack = new Stack(constructTestApp(), 'S');
    const topic = new sns.Topic(stack, 'Topic');
    acknowledge(topic, { id: 'AwsSolutions-SNS3', reason: REASON }, ...hipaaAndNist('SNSEncryptedKMS', REASON));
    expect(acknowledgedFindings(stack).map((f) => [f.resource, f.rule, f.reason])).toEqual([
      ['Topic', 'AwsSolutions-SNS3', REASON],
      ['Topic', 'HIPAA.Security-SNSEncryptedKMS', REASON],
      ['Topic', 'NIST.800.53.R5-SNSEncryptedKMS', REASON],
    ]);
    expect(topic.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)).not.toEqual([]);
    expect(stack.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)).toEqual([]);
  });

  test('refuses unknown rule ids and vague reasons, naming the construct', () => {
    const stack = new Stack(constructTestApp(), 'S');
    expect(() => acknowledge(stack, { id: 'AwsSolutions', reason: 'x'.repeat(50) })).toThrow(/is not a rule id/);
    expect(() => acknowledge(stack, { id: 'AwsSolutions', reason: 'x'.repeat(50) })).toThrow(
      'acknowledgement "AwsSolutions" on S is not a rule id of AwsSolutions, HIPAA.Security, NIST.800.53.R5 or CloudFormation-Validate',
    );
    expect(() => acknowledge(stack, { id: 'AwsSolutions-S1', reason: 'not needed' })).toThrow(/needs a specific reason/);
    expect(() => acknowledge(stack, { id: 'AwsSolutions-S1', reason: `   ${'x'.repeat(39)}   ` })).toThrow(
      'acknowledgement AwsSolutions-S1 on S needs a specific reason (at least 40 characters)',
    );
    expect(() => acknowledge(stack, { id: 'AwsSolutions-S1', reason: 'x'.repeat(40) })).not.toThrow();
  });
});
