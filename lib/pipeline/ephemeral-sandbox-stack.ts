import { Stack, StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { acknowledge, hipaaAndNist } from '../compliance/acknowledge';
import type { EphemeralConfig, PipelineConfig } from '../config';
import { Naming } from '../config';
import { ephemeralBuildRoleNames, sandboxManagerRoleName } from './ephemeral-environments-stack';

export interface EphemeralSandboxStackProps extends StackProps {
  readonly pipeline: PipelineConfig;
  readonly ephemeral: EphemeralConfig;
}

/**
 * Deployed once into the sandbox account: the role through which the per-branch builds of the
 * tooling account list per-branch environments (cap, sweep) and delete them. It trusts exactly those
 * build roles, and may delete only stacks that are per-branch by name (`<project>-<layer>-br-*`)
 * AND by tag (Ephemeral=true): neither alone would do (a name can be chosen, a tag can be copied).
 */
export class EphemeralSandboxStack extends Stack {
  public readonly managerRole: iam.Role;

  constructor(scope: Construct, id: string, props: EphemeralSandboxStackProps) {
    const { pipeline: p, ephemeral: e } = props;
    const account = e.account ?? p.account;
    super(scope, id, {
      ...props,
      stackName: `${p.project}-ephemeral-sandbox`,
      env: { account, region: p.region },
      // Deployed once by an administrator through the account's default bootstrap: the per-branch
      // bootstrap's execution policy may create only per-branch (br-) roles, and this role is not one.
      description: `Sandbox-account role of the ${p.project} per-branch environment builds`,
      tags: { Project: p.project, Component: 'ephemeral-environments', ...props.tags },
    });
    const names = ephemeralBuildRoleNames(p.project);
    const trusted = [names.deploy, names.destroy, names.sweep].map((n) => `arn:aws:iam::${p.account}:role/${n}`);
    this.managerRole = new iam.Role(this, 'ManagerRole', {
      roleName: sandboxManagerRoleName(p.project),
      description: 'Lists and deletes per-branch environments (Ephemeral=true, br- names) for the tooling account builds',
      assumedBy: new iam.AccountPrincipal(p.account).withConditions({ ArnEquals: { 'aws:PrincipalArn': trusted } }),
    });
    const branch = Naming.anyBranch(p.project);
    this.managerRole.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'ListEnvironments',
      actions: ['cloudformation:DescribeStacks'],
      resources: ['*'],
    }));
    this.managerRole.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'DeletePerBranchStacksOnly',
      actions: ['cloudformation:DeleteStack'],
      resources: (['network', 'data', 'audit', 'compute'] as const).map((layer) => `arn:aws:cloudformation:${p.region}:${account}:stack/${branch.stackName(layer)}/*`),
      // CloudFormation stacks support aws:ResourceTag (Service Authorization Reference, AWS CloudFormation).
      conditions: { StringEquals: { 'aws:ResourceTag/Ephemeral': 'true' } },
    }));
    acknowledge(this.managerRole, {
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'Listing stacks (DescribeStacks without a name) has no resource-level form; it reads names, states and tags only, and deletion is limited to per-branch stacks.',
    }, ...hipaaAndNist('IAMNoInlinePolicy', 'The manager policy exists for this one role; inline, it cannot be attached to any other principal.'));
    const policy = this.managerRole.node.findChild('DefaultPolicy').node.defaultChild!;
    for (const layer of ['network', 'data', 'audit', 'compute']) {
      acknowledge(policy, {
        id: `AwsSolutions-IAM5[Resource::arn:aws:cloudformation:${p.region}:${account}:stack/${p.project}-${layer}-br-*/*]`,
        reason: 'Per-branch stacks only: the br- suffix prefix no long-lived environment may use, and the Ephemeral=true tag condition.',
      });
    }
  }
}
