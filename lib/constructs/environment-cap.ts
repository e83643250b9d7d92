import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as triggers from 'aws-cdk-lib/triggers';
import { Construct } from 'constructs';
import { PREVIEW_TAG } from '../contract';
import { acknowledge, deployHookFindings, hipaaAndNist } from '../compliance/acknowledge';
import { acknowledgeWildcards } from '../compliance/wildcards';
import { routeCustomResourceLogs } from './custom-resource-logs';

export interface EnvironmentCapProps {
  readonly project: string;
  /** The preview suffix of this environment (`br-…`): its own stacks never count against it. */
  readonly environmentSuffix: string;
  /** Most preview environments that may exist at once (`previews.maxEnvironments`). */
  readonly maxEnvironments: number;
  /**
   * Stack-name prefix of the FIRST stack of every preview environment, e.g.
   * `hipaa-fhir-network-br-`: one such stack exists while any stack of its environment does
   * (environments are deleted in reverse order, that stack last).
   */
  readonly firstStackPrefix: string;
  /** Where the function logs: a CMK-encrypted group the stack creates first. */
  readonly logGroup: logs.ILogGroup;
  /** Constructs that must not be created before the cap was checked (the VPC): a refused deploy creates nothing costly. */
  readonly before?: Construct[];
}

/**
 * Enforces the preview environment cap at DEPLOY time, inside AWS, so that a hand-run
 * `npx cdk deploy -c branch=…` is held to the same cap as the preview deploy pipeline's build (synth
 * must not look anything up). A CDK Trigger runs a small function when the environment's first stack
 * is created (and again when the function changes): it counts the OTHER preview environments of
 * the project (their first stacks, tagged Preview=true and Project=<project>) and fails the
 * deployment, so CloudFormation rolls it back, when one more would exceed the cap.
 * https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.triggers-readme.html
 *
 * Two branches deployed in the same minute can both pass (the check is not a lock); the pipeline's
 * check-cap and the sweeper bound that.
 */
export class EnvironmentCap extends Construct {
  public readonly trigger: triggers.TriggerFunction;

  constructor(scope: Construct, id: string, props: EnvironmentCapProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { account, region, partition } = stack;
    if (!Number.isInteger(props.maxEnvironments) || props.maxEnvironments < 1) {
      throw new Error(`EnvironmentCap maxEnvironments ${props.maxEnvironments} is invalid: expected a whole number ≥ 1`);
    }
    this.trigger = new triggers.TriggerFunction(this, 'Check', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline(ENVIRONMENT_CAP_HANDLER),
      timeout: Duration.minutes(2),
      logGroup: props.logGroup,
      description: `Fails the deployment when a new preview environment of ${props.project} would exceed ${props.maxEnvironments}`,
      environment: {
        PROJECT: props.project,
        ENVIRONMENT_SUFFIX: props.environmentSuffix,
        MAX_ENVIRONMENTS: String(props.maxEnvironments),
        FIRST_STACK_PREFIX: props.firstStackPrefix,
        OWN_STACK: stack.stackName,
      },
      executeBefore: props.before ?? [],
      executeOnHandlerChange: true,
    });
    // This function and the Trigger provider's own handler (a stack singleton) log into the group and
    // are created after it (not into an unencrypted /aws/lambda group of their own); re-routing the
    // stack's other handlers is a no-op.
    routeCustomResourceLogs(stack, props.logGroup);

    // ListStacks has no resource-level permissions (names and status only); tags are read per stack,
    // and only of the stacks named like a preview environment's first stack.
    // https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudformation.html
    this.trigger.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'ListStackNames', actions: ['cloudformation:ListStacks'], resources: ['*'] }),
    );
    this.trigger.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadPreviewStackTags',
        actions: ['cloudformation:DescribeStacks'],
        resources: [`arn:${partition}:cloudformation:${region}:${account}:stack/${props.firstStackPrefix}*/*`],
      }),
    );

    const fn = this.trigger;
    acknowledge(
      fn.role!,
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason:
          'The AWS-managed basic execution policy only lets the function write its own CloudWatch logs (into the encrypted custom-resources group).',
      },
      ...hipaaAndNist(
        'IAMNoInlinePolicy',
        'The cap-check policy is written for this one function: list stack names and read the tags of preview first stacks, nothing else.',
      ),
    );
    acknowledgeWildcards(fn.role!.node.findChild('DefaultPolicy').node.defaultChild!, [
      [
        /^Resource::\*$/,
        'cloudformation:ListStacks supports no resource-level permissions; it returns stack names and status only (no templates, parameters or outputs).',
      ],
      [
        /:stack\/.+-br-\*\/\*$/,
        "DescribeStacks only on stacks named like a preview environment's first stack of this project, in this account and region (stack ids end in a generated id).",
      ],
    ]);
    acknowledge(
      fn,
      ...deployHookFindings(
        'The function reads stack names and tags from the CloudFormation API only and never touches PHI; it runs before the VPC of this stack exists.',
      ),
    );
  }
}

/**
 * The handler (inline, SDK v3 from the Lambda Node.js runtime). Counts preview environments by
 * their first stack, except this one; any stack not yet fully deleted counts (it still costs).
 * The SDK's own bounded, adaptive retries absorb throttling.
 */
export const ENVIRONMENT_CAP_HANDLER = `
const { CloudFormationClient, DescribeStacksCommand, paginateListStacks } = require('@aws-sdk/client-cloudformation');
const cfn = new CloudFormationClient({ maxAttempts: 8, retryMode: 'adaptive' });
const PREVIEW_TAG = ${JSON.stringify(PREVIEW_TAG)};
exports.handler = async () => {
  const e = process.env;
  const max = Number(e.MAX_ENVIRONMENTS);
  const others = [];
  for await (const page of paginateListStacks({ client: cfn }, {})) {
    for (const s of page.StackSummaries || []) {
      if (s.StackStatus === 'DELETE_COMPLETE' || !s.StackName.startsWith(e.FIRST_STACK_PREFIX) || s.StackName === e.OWN_STACK) continue;
      let stack;
      try {
        stack = ((await cfn.send(new DescribeStacksCommand({ StackName: s.StackId }))).Stacks || [])[0];
      } catch (error) {
        if (error.name === 'ValidationError') continue; // deleted since it was listed
        throw error;
      }
      const tags = Object.fromEntries(((stack && stack.Tags) || []).map((t) => [t.Key, t.Value]));
      if (tags[PREVIEW_TAG.key] !== PREVIEW_TAG.value || tags.Project !== e.PROJECT || tags.EnvironmentSuffix === e.ENVIRONMENT_SUFFIX) continue;
      others.push(tags.EnvironmentSuffix || s.StackName);
    }
  }
  if (others.length >= max) {
    throw new Error('preview environment cap reached: ' + others.length + ' of ' + max + ' in use (' + others.sort().join(', ') + '); ' + e.ENVIRONMENT_SUFFIX + ' was not created. Merge or close a branch, or run npm run destroy -- --suffix <name>, then deploy again');
  }
  return { inUse: others.length, max };
};
`;
