import { Stack, StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { acknowledge, hipaaAndNist } from '../compliance/acknowledge';
import type { PipelineConfig, PreviewConfig } from '../config';
import { LAYERS, PREVIEW_TAG, ToolingNames } from '../contract';

export interface PreviewSandboxStackProps extends StackProps {
  readonly pipeline: PipelineConfig;
  readonly previews: PreviewConfig;
}

/**
 * Deployed once into the sandbox account: the role through which the preview builds of the
 * tooling account list preview environments (cap, sweep) and delete them. It trusts exactly those
 * build roles, and may delete only stacks that are previews by name (`<project>-<layer>-br-*`)
 * AND by tag (Preview=true): neither alone would do (a name can be chosen, a tag can be copied).
 */
export class PreviewSandboxStack extends Stack {
  public readonly managerRole: iam.Role;

  constructor(scope: Construct, id: string, props: PreviewSandboxStackProps) {
    const { pipeline: p, previews: e } = props;
    const account = e.account ?? p.account;
    const tooling = new ToolingNames(p.project);
    super(scope, id, {
      ...props,
      stackName: tooling.previewSandboxStackName,
      env: { account, region: p.region },
      // Deployed once by an administrator through the account's default bootstrap: the preview
      // bootstrap's execution policy may create only preview (br-) roles, and this role is not one.
      description: `Sandbox-account role of the ${p.project} preview environment builds`,
      tags: { Project: p.project, Component: 'preview-environments', ...props.tags },
    });
    const names = tooling.previewBuildRoleNames;
    const trusted = [`arn:aws:iam::${p.account}:role/${names.operate}`];
    this.managerRole = new iam.Role(this, 'ManagerRole', {
      roleName: tooling.previewManagerRoleName,
      description: 'Lists and deletes preview environments (Preview=true, br- names) for the tooling account builds',
      assumedBy: new iam.AccountPrincipal(p.account).withConditions({ ArnEquals: { 'aws:PrincipalArn': trusted } }),
    });
    this.managerRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ListEnvironments',
        actions: ['cloudformation:DescribeStacks'],
        resources: ['*'],
      }),
    );
    this.managerRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DeletePreviewStacksOnly',
        actions: ['cloudformation:DeleteStack'],
        resources: LAYERS.map((layer) => `arn:aws:cloudformation:${p.region}:${account}:stack/${tooling.previewStackPattern(layer)}/*`),
        // CloudFormation stacks support aws:ResourceTag (Service Authorization Reference, AWS CloudFormation).
        conditions: { StringEquals: { [`aws:ResourceTag/${PREVIEW_TAG.key}`]: PREVIEW_TAG.value } },
      }),
    );
    acknowledge(
      this.managerRole,
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Listing stacks (DescribeStacks without a name) has no resource-level form; it reads names, states and tags only, and deletion is limited to preview stacks.',
      },
      ...hipaaAndNist(
        'IAMNoInlinePolicy',
        'The manager policy exists for this one role; inline, it cannot be attached to any other principal.',
      ),
    );
    const policy = this.managerRole.node.findChild('DefaultPolicy').node.defaultChild!;
    for (const layer of LAYERS) {
      acknowledge(policy, {
        id: `AwsSolutions-IAM5[Resource::arn:aws:cloudformation:${p.region}:${account}:stack/${tooling.previewStackPattern(layer)}/*]`,
        reason: 'Preview stacks only: the br- suffix prefix no long-lived environment may use, and the Preview=true tag condition.',
      });
    }
  }
}
