import { readFileSync } from 'fs';
import { join } from 'path';
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

/**
 * The trigger's handler, deployed as the file's text: plain CommonJS that the Lambda Node.js runtime loads
 * with no build step. Its tests and scripts/operations/preview.ts import the same file (one cap count).
 */
export const ENVIRONMENT_CAP_HANDLER_FILE = join(__dirname, 'handlers', 'environment-cap.js');

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
      code: lambda.Code.fromInline(readFileSync(ENVIRONMENT_CAP_HANDLER_FILE, 'utf8')),
      timeout: Duration.minutes(2),
      logGroup: props.logGroup,
      description: `Fails the deployment when a new preview environment of ${props.project} would exceed ${props.maxEnvironments}`,
      environment: {
        PROJECT: props.project,
        ENVIRONMENT_SUFFIX: props.environmentSuffix,
        MAX_ENVIRONMENTS: String(props.maxEnvironments),
        FIRST_STACK_PREFIX: props.firstStackPrefix,
        OWN_STACK: stack.stackName,
        PREVIEW_TAG_KEY: PREVIEW_TAG.key,
        PREVIEW_TAG_VALUE: PREVIEW_TAG.value,
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
    // The check runs only once its policy exists: without this, CloudFormation may invoke it before the
    // policy is attached, and a denied ListStacks fails the deployment for the wrong reason.
    const policy = fn.role!.node.findChild('DefaultPolicy');
    fn.trigger.node.addDependency(policy);
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
    acknowledgeWildcards(policy.node.defaultChild!, [
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
