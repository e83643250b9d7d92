import { Template } from 'aws-cdk-lib/assertions';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as actions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { connectionArnForms, grantUseConnection, sourceActionRoles, useConnectionStatement } from '../../../lib/pipeline/connection';
import { statementsOfRole, testStack } from '../../helpers';

const NEW = 'arn:aws:codeconnections:eu-west-2:111111111111:connection/00000000-0000-4000-8000-000000000000';
const LEGACY = 'arn:aws:codestar-connections:eu-west-2:111111111111:connection/00000000-0000-4000-8000-000000000000';
const BOTH = {
  Sid: 'UseRepositoryConnection',
  Effect: 'Allow',
  Action: ['codeconnections:UseConnection', 'codestar-connections:UseConnection'],
  Resource: [NEW, LEGACY],
};

describe('connection (CodeStar Connections, renamed CodeConnections)', () => {
  test('an ARN under either prefix gives both forms, the legacy one first', () => {
    expect(connectionArnForms(NEW)).toEqual([LEGACY, NEW]);
    expect(connectionArnForms(LEGACY)).toEqual([LEGACY, NEW]);
  });

  test('anything else is refused, naming the value', () => {
    expect(() => connectionArnForms('arn:aws:codecommit:eu-west-2:111111111111:repo')).toThrow(
      '"arn:aws:codecommit:eu-west-2:111111111111:repo" is not a codestar-connections or codeconnections ARN',
    );
  });

  test('the statement allows UseConnection under both action prefixes on both ARN forms, and nothing else', () => {
    expect(useConnectionStatement(LEGACY).toStatementJson()).toEqual({
      Sid: 'UseRepositoryConnection',
      Effect: 'Allow',
      Action: ['codestar-connections:UseConnection', 'codeconnections:UseConnection'],
      Resource: [LEGACY, NEW],
    });
  });

  describe('on a pipeline', () => {
    const stack = testStack({ env: { account: '111111111111', region: 'eu-west-2' } });
    const pipeline = new codepipeline.Pipeline(stack, 'Pipeline', { artifactBucket: new s3.Bucket(stack, 'Artifacts') });
    const source = new codepipeline.Artifact();
    pipeline.addStage({
      stageName: 'Source',
      actions: [
        new actions.CodeStarConnectionsSourceAction({
          actionName: 'Checkout',
          connectionArn: NEW,
          owner: 'example-org',
          repo: 'r',
          output: source,
        }),
      ],
    });
    pipeline.addStage({ stageName: 'Wait', actions: [new actions.ManualApprovalAction({ actionName: 'Approve' })] });
    const roles = sourceActionRoles(pipeline);
    const clone = new iam.Role(stack, 'CloneRole', { assumedBy: new iam.ServicePrincipal('codebuild.amazonaws.com') });
    for (const role of [...roles, clone]) grantUseConnection(role, NEW);
    const template = Template.fromStack(stack);

    test('finds the role of each source action, and only those', () => {
      expect(roles.map((r) => r.node.path)).toEqual(['Test/Pipeline/Source/Checkout/CodePipelineActionRole']);
    });

    test('grantUseConnection gives a role the statement under both prefixes', () => {
      for (const role of [...roles, clone])
        expect([role.node.path, statementsOfRole(template, role)]).toEqual([role.node.path, expect.arrayContaining([BOTH])]);
      expect(statementsOfRole(template, clone)).toEqual([BOTH]);
    });

    test('a pipeline without a source action role fails loudly (the CDK layout changed)', () => {
      const bare = new codepipeline.Pipeline(testStack(), 'Bare');
      expect(() => sourceActionRoles(bare)).toThrow('no source action role found in Test/Bare; the CDK layout changed');
    });
  });
});
