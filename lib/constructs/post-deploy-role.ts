import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { acknowledge, hipaaAndNist } from '../compliance/acknowledge';
import { acknowledgeWildcards, WildcardReason } from '../compliance/wildcards';
import type { Naming } from '../contract';

export type PostDeploySuite = 'integ' | 'smoke';

/** Names (or name patterns with `*`) of what a post-deploy build may touch. */
export interface PostDeployTargets {
  readonly project: string;
  readonly region: string;
  readonly account: string;
  /** Stack names (patterns allowed). */
  readonly stacks: readonly string[];
  readonly stream: string;
  readonly streamKeyAlias: string;
  readonly cluster: string;
  readonly taskFamily: string;
  readonly taskRoles: readonly string[];
  readonly processorLogGroup: string;
}

/** What a post-deploy build may touch, from the names the environment's stacks use. */
export function targetsOf(naming: Naming, region: string, account: string): PostDeployTargets {
  return {
    project: naming.project,
    region,
    account,
    stacks: naming.stackNames,
    stream: naming.streamName,
    streamKeyAlias: naming.streamKeyAlias,
    cluster: naming.clusterName,
    taskFamily: naming.processorFamily,
    taskRoles: [naming.processorRoleNames.task, naming.processorRoleNames.execution],
    processorLogGroup: naming.processorLogGroupName,
  };
}

/**
 * Least-privilege statements for buildspec-integ.yml: read the environment's stacks, and for the
 * `integ` suite put records on its stream, run its processor task once, and read that task's log.
 */
export function postDeployStatements(t: PostDeployTargets, suite: PostDeploySuite): iam.PolicyStatement[] {
  const arn = (service: string, resource: string) => `arn:aws:${service}:${t.region}:${t.account}:${resource}`;
  const aliasCondition = t.streamKeyAlias.includes('*') ? 'ForAnyValue:StringLike' : 'ForAnyValue:StringEquals';
  const clusterCondition = t.cluster.includes('*') ? 'ArnLike' : 'ArnEquals';
  const statements = [
    new iam.PolicyStatement({ sid: 'ListStacks', actions: ['cloudformation:ListStacks'], resources: ['*'] }),
    new iam.PolicyStatement({
      sid: 'ReadStageStacks',
      actions: ['cloudformation:DescribeStacks'],
      resources: t.stacks.map((name) => arn('cloudformation', `stack/${name}/*`)),
    }),
    new iam.PolicyStatement({
      sid: 'DescribeStream',
      actions: ['kinesis:DescribeStreamSummary'],
      resources: [arn('kinesis', `stream/${t.stream}`)],
    }),
    new iam.PolicyStatement({ sid: 'ReadService', actions: ['ecs:DescribeServices'], resources: [arn('ecs', `service/${t.cluster}/*`)] }),
  ];
  if (suite === 'integ') {
    statements.push(
      new iam.PolicyStatement({
        sid: 'PutTestRecords',
        actions: ['kinesis:PutRecords', 'kinesis:PutRecord'],
        resources: [arn('kinesis', `stream/${t.stream}`)],
      }),
      new iam.PolicyStatement({
        sid: 'EncryptTestRecords',
        actions: ['kms:GenerateDataKey'],
        resources: [arn('kms', 'key/*')],
        conditions: { [aliasCondition]: { 'kms:ResourceAliases': t.streamKeyAlias } },
      }),
      new iam.PolicyStatement({
        sid: 'RunVerifyTask',
        actions: ['ecs:RunTask'],
        resources: [arn('ecs', `task-definition/${t.taskFamily}:*`)],
        conditions: { [clusterCondition]: { 'ecs:cluster': arn('ecs', `cluster/${t.cluster}`) } },
      }),
      new iam.PolicyStatement({ sid: 'WatchVerifyTask', actions: ['ecs:DescribeTasks'], resources: [arn('ecs', `task/${t.cluster}/*`)] }),
      new iam.PolicyStatement({
        sid: 'PassProcessorRoles',
        actions: ['iam:PassRole'],
        resources: t.taskRoles.map((name) => `arn:aws:iam::${t.account}:role/${name}`),
        conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      }),
      new iam.PolicyStatement({
        sid: 'ReadVerifyOutput',
        actions: ['logs:GetLogEvents'],
        resources: [arn('logs', `log-group:${t.processorLogGroup}:log-stream:processor/processor/*`)],
      }),
    );
  }
  return statements;
}

/** Every wildcard the post-deploy policy may hold, and why it stays within one environment. */
const WILDCARD_REASONS: readonly WildcardReason[] = [
  [
    /^Resource::\*$/,
    'cloudformation:ListStacks has no resource-level permissions; it reveals stack names and states only, and every other statement names this environment.',
  ],
  [/:stack\/[^*]+\/\*$/, 'One named stack of this environment; the trailing wildcard is the stack id CloudFormation appends.'],
  [
    /:(service|task)\/[^*]+-cluster-[^*]+\/\*$/,
    "Services and tasks of this environment's one named processor cluster; their ids are assigned at run time.",
  ],
  [
    /:task-definition\/[^*]+:\*$/,
    "Any revision of this environment's named processor task family, and only on its cluster (ecs:cluster condition).",
  ],
  [/:key\/\*$/, "Key ids are generated at deploy time; kms:ResourceAliases limits the statement to this environment's stream key alias."],
  [/:log-stream:processor\/processor\/\*$/, "Log streams of verify tasks in this environment's processor log group, one per task id."],
];

export interface PostDeployRoleProps {
  readonly naming: Naming;
  readonly suite: PostDeploySuite;
  /**
   * The one principal that may assume this role: the CodeBuild role of the post-deploy step in the
   * pipeline (tooling) account, e.g. `arn:aws:iam::111111111111:role/hipaa-fhir-post-deploy-step-dev`.
   */
  readonly trustedRoleArn: string;
  /**
   * Let the step turn on termination protection of exactly this environment's four stacks
   * (CDK Pipelines ignores a stage stack's terminationProtection, aws/aws-cdk#17871).
   * @default false
   */
  readonly protectStacks?: boolean;
}

/**
 * The role the environment's post-deploy step (integration or smoke suite) assumes, created in the
 * environment's own account. Only the named step role of the pipeline account may assume it, and
 * it reaches only this environment's names: so a cross-account pipeline needs no standing
 * permissions in the environment's account, and one environment's step cannot touch another.
 */
export class PostDeployRole extends Construct {
  public readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: PostDeployRoleProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const trustedAccount = props.trustedRoleArn.split(':')[4];
    this.role = new iam.Role(this, 'Role', {
      roleName: props.naming.resourceName('post-deploy'),
      description: `Post-deploy ${props.suite} step of ${props.naming.suffix}, assumed from the pipeline account`,
      // The account principal plus an exact aws:PrincipalArn: only that step role, and the trust
      // policy stays valid even while the step role is being replaced.
      assumedBy: new iam.AccountPrincipal(trustedAccount).withConditions({ ArnEquals: { 'aws:PrincipalArn': props.trustedRoleArn } }),
    });
    for (const statement of postDeployStatements(targetsOf(props.naming, stack.region, stack.account), props.suite))
      this.role.addToPrincipalPolicy(statement);
    if (props.protectStacks) {
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'ProtectStageStacks',
          actions: ['cloudformation:UpdateTerminationProtection'],
          resources: props.naming.stackNames.map((name) => `arn:aws:cloudformation:${stack.region}:${stack.account}:stack/${name}/*`),
        }),
      );
    }

    acknowledge(
      this.role,
      ...hipaaAndNist(
        'IAMNoInlinePolicy',
        "The post-deploy policy is written for this one role from the environment's names; inline, it cannot be attached to any other principal.",
      ),
    );
    acknowledgeWildcards(this.role.node.findChild('DefaultPolicy').node.defaultChild!, WILDCARD_REASONS);
  }
}
