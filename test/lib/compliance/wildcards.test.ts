import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { acknowledgedFindings } from '../../../lib/compliance/findings-report';
import { acknowledgeWildcards, WildcardReason } from '../../../lib/compliance/wildcards';
import { constructTestApp } from '../../helpers';

const STREAMS = 'Streams of this one environment, named by its suffix; the wildcard is the stream consumer id.';
const ANY_KEY = 'Key ids are generated at deploy time; a condition limits the statement to one alias.';
const REASONS: readonly WildcardReason[] = [
  [/:stream\/app-[a-z]+\/\*$/, STREAMS],
  [/:key\/\*$/, ANY_KEY],
  // Never reached for key ARNs: the first matching pattern wins.
  [/:key\//, 'A second pattern that also matches key ARNs, listed after the first one on purpose.'],
];

function policyWith(...statements: iam.PolicyStatement[]) {
  const stack = new Stack(constructTestApp(), 'S', { env: { account: '123456789012', region: 'eu-west-2' } });
  const policy = new iam.Policy(stack, 'Policy', { statements });
  return { stack, cfn: policy.node.defaultChild as iam.CfnPolicy };
}

describe('acknowledgeWildcards', () => {
  test('each wildcard finding of the policy is acknowledged with the reason of the first pattern it matches', () => {
    const { stack, cfn } = policyWith(
      new iam.PolicyStatement({ actions: ['kinesis:GetRecords'], resources: ['arn:aws:kinesis:eu-west-2:123456789012:stream/app-dev/*'] }),
      new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: ['arn:aws:kms:eu-west-2:123456789012:key/*'] }),
    );
    acknowledgeWildcards(cfn, REASONS);
    expect(acknowledgedFindings(stack).map((f) => [f.resource, f.rule, f.reason])).toEqual([
      ['Policy/Resource', 'AwsSolutions-IAM5[Resource::arn:aws:kinesis:eu-west-2:123456789012:stream/app-dev/*]', STREAMS],
      ['Policy/Resource', 'AwsSolutions-IAM5[Resource::arn:aws:kms:eu-west-2:123456789012:key/*]', ANY_KEY],
    ]);
  });

  test('a wildcard no reviewed pattern matches is refused, naming the policy and the finding', () => {
    const { cfn } = policyWith(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::any-bucket/*'] }));
    expect(() => acknowledgeWildcards(cfn, REASONS)).toThrow('S/Policy/Resource: unreviewed wildcard Resource::arn:aws:s3:::any-bucket/*');
  });

  test('wildcard actions are findings too', () => {
    const { cfn } = policyWith(
      new iam.PolicyStatement({ actions: ['kinesis:Get*'], resources: ['arn:aws:kinesis:eu-west-2:123456789012:stream/app-dev'] }),
    );
    expect(() => acknowledgeWildcards(cfn, REASONS)).toThrow('S/Policy/Resource: unreviewed wildcard Action::kinesis:Get*');
  });

  test('a policy without wildcards gets no acknowledgement', () => {
    const { stack, cfn } = policyWith(
      new iam.PolicyStatement({ actions: ['kinesis:GetRecords'], resources: ['arn:aws:kinesis:eu-west-2:123456789012:stream/app-dev'] }),
    );
    acknowledgeWildcards(cfn, REASONS);
    expect(acknowledgedFindings(stack)).toEqual([]);
  });
});
