import { CfnResource, Stack } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as iam from 'aws-cdk-lib/aws-iam';
import { rules } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { acknowledge, Finding, hipaaAndNist } from './acknowledge';

/** A reviewed kind of wildcard in the pipeline's generated policies, and why it is acceptable. */
interface Category {
  readonly pattern: RegExp;
  readonly reason: string;
}

const CATEGORIES: readonly Category[] = [
  {
    pattern: /^Action::(s3:(GetObject|GetBucket|List|DeleteObject|Abort)\*|kms:(ReEncrypt|GenerateDataKey)\*)$/,
    reason:
      "CDK Pipelines grant set for the pipeline's own artifact bucket and its key: the wildcards are the S3 and KMS read/write action groups, applied to that bucket and key only.",
  },
  {
    pattern: /^Resource::<ArtifactsBucket[0-9A-F]{8}\.Arn>\/\*$/,
    reason:
      "Objects of the pipeline's own artifact bucket: each execution writes new keys, so the grant must cover the bucket's objects, and nothing outside it.",
  },
  {
    pattern: /^Resource::arn:aws:(logs:[a-z0-9-]+:\d{12}:log-group:\/aws\/codebuild\/|codebuild:[a-z0-9-]+:\d{12}:report-group\/)/,
    reason:
      'CodeBuild writes log streams and test reports whose names it chooses at run time, under its own /aws/codebuild and report-group prefixes.',
  },
  {
    pattern: /^Resource::arn:\*:iam::\d{12}:role\/\*$/,
    reason:
      'Self-mutation and asset publishing assume only the CDK bootstrap roles: the statement is conditioned on the aws-cdk:bootstrap-role tag (deploy, file-publishing, image-publishing).',
  },
  {
    pattern: /^Resource::arn:aws:iam::\d{12}:role\/[a-z0-9-]+-post-deploy-br-\*$/,
    reason:
      "The post-deploy role of whichever preview environment is under test (suffix derived from the branch at run time). Only preview suffixes start with br-, so the pattern never matches a long-lived environment's role.",
  },
];

/** Actions we accept on Resource::* : they have no resource-level permissions, or are CDK Pipelines' own. */
const STAR_ACTIONS = new Set([
  'cloudformation:ListStacks',
  'ecr:GetAuthorizationToken',
  'codebuild:BatchGetBuilds',
  'codebuild:StartBuild',
  'codebuild:StopBuild',
  'cloudformation:DescribeStacks',
  's3:ListBucket',
]);
const STAR_REASON =
  "Only actions without resource-level permissions (cloudformation:ListStacks, ecr:GetAuthorizationToken) or CDK Pipelines' own asset and self-mutation calls (codebuild Start/Stop/BatchGetBuilds of its asset jobs, DescribeStacks and ListBucket during cdk deploy) use Resource::*.";
const INLINE_REASON =
  'CDK Pipelines generates one role per action or build with an inline policy scoped to that step; inline, it cannot be attached to any other principal.';
const SOURCE_REASON =
  "The project's source is the pipeline artifact (type CODEPIPELINE), fetched through the CodeConnections connection; the project holds no repository URL or credentials.";

function starActions(policy: iam.CfnPolicy): string[] {
  const doc = Stack.of(policy).resolve(policy.policyDocument) as { Statement: Array<{ Action: string | string[]; Resource: unknown }> };
  return doc.Statement.filter((s) => [s.Resource].flat().includes('*')).flatMap((s) => [s.Action].flat());
}

/**
 * Acknowledges the findings on the IAM policies and CodeBuild projects that CDK Pipelines generates
 * under `scope`. Each wildcard finding is computed with cdk-nag's own rule and must match a reviewed
 * category; anything else throws, so a new kind of wildcard cannot slip through unreviewed.
 */
export function acknowledgePipelineFindings(scope: IConstruct): void {
  for (const node of scope.node.findAll()) {
    if (node instanceof iam.CfnPolicy) {
      const findings: Finding[] = [...hipaaAndNist('IAMNoInlinePolicy', INLINE_REASON)];
      const result = rules.iam.IAMNoWildcardPermissions(node as unknown as CfnResource);
      for (const finding of Array.isArray(result) ? result : []) {
        if (finding === 'Resource::*') {
          const unexpected = starActions(node).filter((a) => !STAR_ACTIONS.has(a));
          if (unexpected.length > 0) throw new Error(`${node.node.path}: unreviewed actions on Resource::* (${unexpected.join(', ')})`);
          findings.push({ id: `AwsSolutions-IAM5[${finding}]`, reason: STAR_REASON });
          continue;
        }
        const category = CATEGORIES.find((c) => c.pattern.test(finding));
        if (!category) throw new Error(`${node.node.path}: unreviewed wildcard finding ${finding}`);
        findings.push({ id: `AwsSolutions-IAM5[${finding}]`, reason: category.reason });
      }
      acknowledge(node, ...findings);
    }
    if (node instanceof codebuild.CfnProject) {
      const source = Stack.of(node).resolve(node.source) as { type?: string };
      if (source.type !== 'CODEPIPELINE')
        throw new Error(`${node.node.path}: CodeBuild project source is ${source.type}, expected CODEPIPELINE`);
      acknowledge(node, { id: 'HIPAA.Security-CodeBuildProjectSourceRepoUrl', reason: SOURCE_REASON });
    }
  }
}
