/**
 * Writes the restricted CloudFormation execution policy for `cdk bootstrap
 * --cloudformation-execution-policies`, instead of AdministratorAccess, from the synthesized
 * assembly: the services are those of the resource types the stacks deployed to that account
 * actually create.
 *
 *   npx cdk synth --no-lookups -q
 *   npm run bootstrap:policy -- --account 333333333333 [--assembly cdk.out] [--out policy.json]
 *   npm run bootstrap:policy -- --account 222222222222 --sandbox      (the per-branch bootstrap)
 *
 * Then, with credentials of that account, create the policy and bootstrap with it (README):
 *   aws iam create-policy --policy-name hipaa-fhir-cfn-exec --policy-document file://policy.json
 *   npx cdk bootstrap aws://<account>/<region> --trust <tooling> --cloudformation-execution-policies arn:aws:iam::<account>:policy/hipaa-fhir-cfn-exec
 *
 * `--sandbox` adds what per-branch environments need on top: IAM roles and policies only with
 * per-branch names (`<project>-*-br-*`), and a Deny of destructive actions on resources that do not
 * carry the Preview tag, for the services whose actions support aws:ResourceTag (Service
 * Authorization Reference, e.g. https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonkinesisdatastreams.html).
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'fs';
import { join } from 'path';
import { PREVIEW_TAG } from '../lib/contract';
import { parseFlags, runCli, UsageError } from './shared/cli';

export const USAGE = `usage: npm run bootstrap:policy -- --account ID [--assembly cdk.out] [--project hipaa-fhir] [--out policy.json] [--sandbox]
  --account ID    the 12-digit account you are about to bootstrap (required)
  --assembly D    the synthesized cloud assembly (default cdk.out)
  --project P     project name (default hipaa-fhir)
  --out F         write the policy to F instead of stdout
  --sandbox       the per-branch (sandbox account) variant`;

interface Manifest {
  readonly artifacts?: Record<
    string,
    {
      readonly type: string;
      readonly environment?: string;
      readonly properties?: { readonly templateFile?: string; readonly directoryName?: string };
    }
  >;
}

/** CloudFormation resource-type service → IAM service prefix, where they differ. */
const SERVICE_PREFIX: Readonly<Record<string, string[]>> = {
  ApplicationAutoScaling: ['application-autoscaling'],
  Backup: ['backup', 'backup-storage'],
  CloudTrail: ['cloudtrail'],
  CloudWatch: ['cloudwatch'],
  CodeBuild: ['codebuild'],
  CodePipeline: ['codepipeline'],
  CodeStarNotifications: ['codestar-notifications'],
  EC2: ['ec2'],
  ECS: ['ecs'],
  Events: ['events'],
  IAM: [],
  KMS: ['kms'],
  Kinesis: ['kinesis'],
  Lambda: ['lambda'],
  Logs: ['logs'],
  RDS: ['rds'],
  S3: ['s3'],
  SNS: ['sns'],
  SSM: ['ssm'],
};

/** Destructive actions whose resources support aws:ResourceTag (checked per service). */
const TAG_GUARDED_ACTIONS: readonly string[] = [
  'kinesis:DeleteStream',
  'kinesis:UpdateShardCount',
  'kinesis:DecreaseStreamRetentionPeriod',
  'rds:DeleteDBInstance',
  'rds:ModifyDBInstance',
  'rds:RebootDBInstance',
  'ecs:DeleteService',
  'ecs:UpdateService',
  'ecs:DeleteCluster',
  'logs:DeleteLogGroup',
  'logs:PutRetentionPolicy',
  'kms:ScheduleKeyDeletion',
  'kms:DisableKey',
  'kms:PutKeyPolicy',
  'sns:DeleteTopic',
  'sns:SetTopicAttributes',
  'ec2:DeleteVpc',
  'ec2:DeleteSubnet',
  'ec2:DeleteSecurityGroup',
];

export interface PolicyDocument {
  readonly Version: '2012-10-17';
  readonly Statement: ReadonlyArray<Record<string, unknown>>;
}

/** Every stack template of the assembly (nested stage assemblies included) with its account. */
export function stackTemplates(assemblyDir: string): Array<{ account?: string; name: string; resourceTypes: string[] }> {
  const out: Array<{ account?: string; name: string; resourceTypes: string[] }> = [];
  const manifest = JSON.parse(readFileSync(join(assemblyDir, 'manifest.json'), 'utf8')) as Manifest;
  for (const [name, artifact] of Object.entries(manifest.artifacts ?? {})) {
    if (artifact.type === 'aws:cloudformation:stack' && artifact.properties?.templateFile) {
      const template = JSON.parse(readFileSync(join(assemblyDir, artifact.properties.templateFile), 'utf8')) as {
        Resources?: Record<string, { Type: string }>;
      };
      const account = /^aws:\/\/(\d{12})\//.exec(artifact.environment ?? '')?.[1];
      out.push({ account, name, resourceTypes: [...new Set(Object.values(template.Resources ?? {}).map((r) => r.Type))].sort() });
    }
    if (artifact.type === 'cdk:cloud-assembly' && artifact.properties?.directoryName) {
      const nested = join(assemblyDir, artifact.properties.directoryName);
      if (statSync(nested).isDirectory()) out.push(...stackTemplates(nested));
    }
  }
  return out;
}

/** IAM service prefixes for a set of CloudFormation resource types; unknown types are refused. */
export function servicesFor(resourceTypes: readonly string[]): string[] {
  const services = new Set<string>();
  for (const type of resourceTypes) {
    if (type === 'AWS::CDK::Metadata') continue;
    // Custom resources: CloudFormation invokes their handler Lambda.
    if (type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource') {
      services.add('lambda');
      continue;
    }
    const service = /^AWS::([A-Za-z0-9]+)::/.exec(type)?.[1];
    const prefixes = service ? SERVICE_PREFIX[service] : undefined;
    if (!prefixes) throw new Error(`resource type ${type} has no IAM service mapping in scripts/bootstrap-policy.ts: add it after review`);
    prefixes.forEach((p) => services.add(p));
  }
  return [...services].sort();
}

/**
 * The execution policy: the services the stacks create, IAM only for the project's roles (and the
 * service-linked roles those services need), the secrets CloudFormation resolves, and nothing else.
 */
export function executionPolicy(options: {
  account: string;
  project: string;
  resourceTypes: readonly string[];
  sandbox?: boolean;
}): PolicyDocument {
  const { account, project } = options;
  const names = options.sandbox ? `${project}-*-br-*` : `${project}-*`;
  const statements: Array<Record<string, unknown>> = [
    { Sid: 'ServicesTheStacksCreate', Effect: 'Allow', Action: servicesFor(options.resourceTypes).map((s) => `${s}:*`), Resource: '*' },
    {
      Sid: 'ProjectRolesOnly',
      Effect: 'Allow',
      Action: [
        'iam:CreateRole',
        'iam:DeleteRole',
        'iam:GetRole',
        'iam:UpdateRole',
        'iam:UpdateAssumeRolePolicy',
        'iam:TagRole',
        'iam:UntagRole',
        'iam:PutRolePolicy',
        'iam:DeleteRolePolicy',
        'iam:GetRolePolicy',
        'iam:AttachRolePolicy',
        'iam:DetachRolePolicy',
        'iam:PassRole',
        'iam:ListRolePolicies',
        'iam:ListAttachedRolePolicies',
      ],
      Resource: [`arn:aws:iam::${account}:role/${names}`],
    },
    {
      Sid: 'ServiceLinkedRoles',
      Effect: 'Allow',
      Action: 'iam:CreateServiceLinkedRole',
      Resource: '*',
      Condition: {
        StringEquals: {
          'iam:AWSServiceName': [
            'ecs.amazonaws.com',
            'rds.amazonaws.com',
            'ecs.application-autoscaling.amazonaws.com',
            'backup.amazonaws.com',
          ],
        },
      },
    },
    {
      Sid: 'ResolveDatabaseSecret',
      Effect: 'Allow',
      Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      Resource: [`arn:aws:secretsmanager:*:${account}:secret:${project}/*`],
    },
    {
      Sid: 'ReadBootstrapVersion',
      Effect: 'Allow',
      Action: 'ssm:GetParameters',
      Resource: `arn:aws:ssm:*:${account}:parameter/cdk-bootstrap/*`,
    },
  ];
  if (options.sandbox) {
    statements.push({
      Sid: 'NothingButPreviewResources',
      Effect: 'Deny',
      Action: [...TAG_GUARDED_ACTIONS],
      Resource: '*',
      // Preview resources carry Preview=true (EnvironmentStack tags every resource).
      Condition: { StringNotEquals: { [`aws:ResourceTag/${PREVIEW_TAG.key}`]: PREVIEW_TAG.value } },
    });
  }
  return { Version: '2012-10-17', Statement: statements };
}

export interface BootstrapPolicyOptions {
  readonly account: string;
  readonly assembly: string;
  readonly project: string;
  readonly out?: string;
  readonly sandbox: boolean;
}

/** Strict flags; undefined means --help. */
export function parseBootstrapPolicyArgs(argv: readonly string[]): BootstrapPolicyOptions | undefined {
  const parsed = parseFlags(argv, {
    account: { type: 'string' },
    assembly: { type: 'string', default: 'cdk.out' },
    project: { type: 'string', default: 'hipaa-fhir' },
    out: { type: 'string' },
    sandbox: { type: 'boolean' },
  });
  if (!parsed) return undefined;
  const { account, assembly, project, out, sandbox } = parsed.flags;
  if (account === undefined) throw new UsageError('--account <12-digit id> is required: the account you are about to bootstrap');
  if (!/^\d{12}$/.test(account)) throw new UsageError(`--account must be a 12-digit account id, not "${account}"`);
  return { account, assembly, project, out, sandbox };
}

async function main(argv: string[]): Promise<number> {
  const options = parseBootstrapPolicyArgs(argv);
  if (!options) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const { account, assembly, project, out, sandbox } = options;
  if (!existsSync(join(assembly, 'manifest.json')))
    throw new Error(`no cloud assembly in ${assembly}: run npx cdk synth --no-lookups -q first, or pass --assembly`);
  const stacks = stackTemplates(assembly).filter((s) => s.account === account);
  if (stacks.length === 0)
    throw new Error(
      `no stack in ${assembly} deploys to ${account}: run npx cdk synth --no-lookups -q first, and check the accounts in cdk.json`,
    );
  const resourceTypes = [...new Set(stacks.flatMap((s) => s.resourceTypes))].sort();
  const policy = executionPolicy({ account, project, resourceTypes, sandbox });
  const json = `${JSON.stringify(policy, null, 2)}\n`;
  if (out) writeFileSync(out, json);
  else process.stdout.write(json);
  process.stderr.write(`${stacks.length} stacks (${stacks.map((s) => s.name).join(', ')}): ${servicesFor(resourceTypes).join(', ')}\n`);
  return 0;
}

if (require.main === module) runCli('bootstrap-policy', USAGE, () => main(process.argv.slice(2)));
