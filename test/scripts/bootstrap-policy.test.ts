import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { PipelineStack } from '../../lib/pipeline/pipeline-stack';
import { executionPolicy, servicesFor, stackTemplates } from '../../scripts/bootstrap-policy';
import { referencePipelineConfig } from '../../scripts/compliance-report';
import { testApp } from '../helpers';

describe('bootstrap-policy (the restricted --cloudformation-execution-policies)', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'bootstrap-policy-'));
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));
  const app = testApp();
  new PipelineStack(app, 'Pipeline', { pipeline: referencePipelineConfig() });
  app.synth({ force: true });
  const stacks = stackTemplates(app.outdir);

  test('finds every stack of the assembly, stage stacks included, with its account', () => {
    const byAccount = (a: string) => stacks.filter((s) => s.account === a).map((s) => s.name);
    expect(byAccount('111111111111')).toEqual(['Pipeline']);
    expect(byAccount('333333333333')).toHaveLength(4);
  });

  test('production: only the services its stacks create, IAM only for project roles, never AdministratorAccess', () => {
    const types = [...new Set(stacks.filter((s) => s.account === '333333333333').flatMap((s) => s.resourceTypes))];
    const policy = executionPolicy({ account: '333333333333', project: 'hipaa-fhir', resourceTypes: types });
    const services = policy.Statement[0].Action as string[];
    expect(services).toEqual(expect.arrayContaining(['ec2:*', 'ecs:*', 'kinesis:*', 'kms:*', 'logs:*', 'rds:*', 'backup:*']));
    expect(services).not.toContain('iam:*');
    expect(services).not.toContain('codepipeline:*');
    const json = JSON.stringify(policy);
    expect(json).not.toMatch(/"\*:\*"|"Action":"\*"|AdministratorAccess|organizations:|sts:/);
    expect(policy.Statement.find((st) => st.Sid === 'ProjectRolesOnly')!.Resource).toEqual(['arn:aws:iam::333333333333:role/hipaa-fhir-*']);
  });

  test('sandbox: roles with per-branch names only, and destructive actions denied on anything not tagged Ephemeral=true', () => {
    const policy = executionPolicy({ account: '222222222222', project: 'hipaa-fhir', resourceTypes: ['AWS::Kinesis::Stream'], sandbox: true });
    expect(policy.Statement.find((st) => st.Sid === 'ProjectRolesOnly')!.Resource).toEqual(['arn:aws:iam::222222222222:role/hipaa-fhir-*-br-*']);
    expect(policy.Statement.find((st) => st.Sid === 'NothingButPerBranchResources')).toMatchObject({
      Effect: 'Deny', Action: expect.arrayContaining(['kinesis:DeleteStream', 'rds:DeleteDBInstance', 'logs:DeleteLogGroup']),
      Condition: { StringNotEquals: { 'aws:ResourceTag/Ephemeral': 'true' } },
    });
  });

  test('a resource type nobody reviewed is refused, so the policy never widens silently', () => {
    expect(() => servicesFor(['AWS::DynamoDB::Table'])).toThrow('resource type AWS::DynamoDB::Table has no IAM service mapping');
    expect(servicesFor(['AWS::CDK::Metadata', 'Custom::VpcRestrictDefaultSG'])).toEqual(['lambda']);
  });
});
