import { Template } from 'aws-cdk-lib/assertions';
import { PreviewSandboxStack } from '../../../lib/pipeline/preview-sandbox-stack';
import { referencePreviewConfig, referencePipelineConfig } from '../../../scripts/generators/reference-app';
import { statementsOfRole, testApp } from '../../helpers';

describe('PreviewSandboxStack', () => {
  const stack = new PreviewSandboxStack(testApp(), 'PreviewSandbox', {
    pipeline: referencePipelineConfig(),
    previews: referencePreviewConfig(),
  });
  const template = Template.fromStack(stack);

  test('lives in the sandbox account, deployed once through its default bootstrap (the per-branch one may create br- roles only)', () => {
    expect(stack.account).toBe('444444444444');
    expect(stack.synthesizer.bootstrapQualifier).toBe('hnb659fds');
  });

  test('the manager role trusts exactly the preview operate build of the tooling account (the one build that deploys, destroys and sweeps)', () => {
    template.resourceCountIs('AWS::IAM::Role', 1);
    template.hasResourceProperties('AWS::IAM::Role', {
      RoleName: 'hipaa-fhir-preview-manager',
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Principal: { AWS: 'arn:aws:iam::111111111111:root' },
            Condition: {
              ArnEquals: {
                'aws:PrincipalArn': ['arn:aws:iam::111111111111:role/hipaa-fhir-preview-operate'],
              },
            },
          },
        ],
      },
    });
  });

  test('it deletes only stacks that are per-branch by name (br-) and by tag (Preview=true)', () => {
    template.resourceCountIs('AWS::IAM::Policy', 1);
    expect(statementsOfRole(template, stack.managerRole)).toEqual([
      { Sid: 'ListEnvironments', Effect: 'Allow', Action: 'cloudformation:DescribeStacks', Resource: '*' },
      {
        Sid: 'DeletePreviewStacksOnly',
        Effect: 'Allow',
        Action: 'cloudformation:DeleteStack',
        Resource: ['audit', 'compute', 'data', 'network'].map(
          (l) => `arn:aws:cloudformation:eu-west-2:444444444444:stack/hipaa-fhir-${l}-br-*/*`,
        ),
        Condition: { StringEquals: { 'aws:ResourceTag/Preview': 'true' } },
      },
    ]);
  });
});
