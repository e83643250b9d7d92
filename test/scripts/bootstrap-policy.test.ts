import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { PipelineStack } from '../../lib/pipeline/pipeline-stack';
import { spawnSync } from 'child_process';
import { UsageError } from '../../scripts/shared/cli';
import { executionPolicy, parseBootstrapPolicyArgs, servicesFor, stackTemplates } from '../../scripts/bootstrap-policy';
import { referencePipelineConfig } from '../../scripts/generators/reference-app';
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

  test('sandbox: roles with per-branch names only, and destructive actions denied on anything not tagged Preview=true', () => {
    const policy = executionPolicy({
      account: '222222222222',
      project: 'hipaa-fhir',
      resourceTypes: ['AWS::Kinesis::Stream'],
      sandbox: true,
    });
    expect(policy.Statement.find((st) => st.Sid === 'ProjectRolesOnly')!.Resource).toEqual([
      'arn:aws:iam::222222222222:role/hipaa-fhir-*-br-*',
    ]);
    expect(policy.Statement.find((st) => st.Sid === 'NothingButPreviewResources')).toMatchObject({
      Effect: 'Deny',
      Action: expect.arrayContaining(['kinesis:DeleteStream', 'rds:DeleteDBInstance', 'logs:DeleteLogGroup']),
      Condition: { StringNotEquals: { 'aws:ResourceTag/Preview': 'true' } },
    });
  });

  test('a resource type nobody reviewed is refused, so the policy never widens silently', () => {
    expect(() => servicesFor(['AWS::DynamoDB::Table'])).toThrow('resource type AWS::DynamoDB::Table has no IAM service mapping');
    expect(servicesFor(['AWS::CDK::Metadata', 'Custom::VpcRestrictDefaultSG'])).toEqual(['lambda']);
  });

  describe('flags', () => {
    test.each([
      [[], '--account <12-digit id> is required: the account you are about to bootstrap'],
      [['--account'], "Option '--account <value>' argument missing"],
      [['--account', '--sandbox'], '--account needs a value (for one that starts with "-", write --account=<value>)'],
      [['--account', '12345'], '--account must be a 12-digit account id, not "12345"'],
      [['--account', '333333333333', '--sandbx'], "Unknown option '--sandbx'"],
      [['--account', '333333333333', '--out='], '--out needs a value'],
    ])('%j: %s', (argv, message) => {
      expect(() => parseBootstrapPolicyArgs(argv)).toThrow(UsageError);
      expect(() => parseBootstrapPolicyArgs(argv)).toThrow(message);
    });

    test('defaults, and --help parses to nothing', () => {
      expect(parseBootstrapPolicyArgs(['--account', '222222222222', '--sandbox'])).toEqual({
        account: '222222222222',
        assembly: 'cdk.out',
        project: 'hipaa-fhir',
        out: undefined,
        sandbox: true,
      });
      expect(parseBootstrapPolicyArgs(['--help'])).toBeUndefined();
    });

    test('spawned: a bad account is one line with the usage, exit 2; a missing assembly is one line, exit 1', () => {
      const script = join(__dirname, '..', '..', 'scripts', 'bootstrap-policy.ts');
      const run = (...args: string[]) =>
        spawnSync(process.execPath, [require.resolve('ts-node/dist/bin'), '--transpile-only', script, ...args], {
          encoding: 'utf8',
          timeout: 60_000,
        });
      const bad = run('--account', 'abc');
      expect(bad.status).toBe(2);
      expect(bad.stderr.split('\n')[0]).toBe('bootstrap-policy: --account must be a 12-digit account id, not "abc"');
      expect(bad.stderr).toContain('usage: npm run bootstrap:policy --');
      const missing = run('--account', '333333333333', '--assembly', join(outdir, 'nothing-here'));
      expect(missing.status).toBe(1);
      expect(missing.stderr).toBe(
        `bootstrap-policy: no cloud assembly in ${join(outdir, 'nothing-here')}: run npx cdk synth --no-lookups -q first, or pass --assembly\n`,
      );
    });
  });
});
