/**
 * The two customer managed policies each account is bootstrapped with, derived from the synthesized stacks
 * that deploy there:
 * - the CloudFormation execution policy (`cdk bootstrap --cloudformation-execution-policies`): exactly what
 *   CloudFormation needs to create, update and delete those stacks' resources, nothing that reads PHI, and
 *   IAM only for the project's roles and only with the permissions boundary attached;
 * - the permissions boundary (`cdk bootstrap --custom-permissions-boundary`, and CDK's
 *   `@aws-cdk/core:permissionsBoundary` on every role the stacks create): a ceiling no role of the project,
 *   the execution role included, can lift, remove or escape.
 *
 * Pure functions of the loaded templates; scripts/bootstrap-policy.ts synthesizes and writes them.
 * Escalation and sufficiency are proven by evaluating these documents with an IAM engine
 * (test/scripts/bootstrap/*.test.ts), never by reading them.
 */
import { ConfigError, PREVIEW_TAG, ToolingNames } from '../../lib/contract';
import { type CfnTemplate, dynamicReferenceSecretArns, type LoadedStack } from '../access-matrix/assembly';
import { RESOURCE_GRANTS } from './grants';

export interface PolicyDocument {
  readonly Version: '2012-10-17';
  readonly Statement: ReadonlyArray<Record<string, unknown>>;
}

/** One account's stacks and what the policies must name from them. */
export interface AccountPlan {
  readonly account: string;
  readonly region: string;
  readonly project: string;
  /** Stack names deploying to this account (both synths, deduplicated). */
  readonly stackNames: readonly string[];
  readonly resourceTypes: readonly string[];
  /** Secret ARNs (without the random suffix) that CloudFormation resolves through dynamic references. */
  readonly secretArns: readonly string[];
  /** Customer managed keys of those secrets (the templates decrypt them through Secrets Manager). */
  readonly secretKeyArns: readonly string[];
  /** A database instance here has RDS manage its master password (previews): RDS creates that secret as the caller. */
  readonly rdsManagedSecrets: boolean;
  /** Stacks whose outputs `Fn::GetStackOutput` reads while deploying here. */
  readonly producerStacks: readonly string[];
  /** CodeConnections / CodeStar connection ARNs the pipelines use as source. */
  readonly connectionArns: readonly string[];
  /** Service principals the stacks' roles trust: the services those roles are passed to. */
  readonly passedToServices: readonly string[];
  /** AWS managed policies the stacks attach to roles. */
  readonly managedPolicyArns: readonly string[];
  /** The per-branch bootstrap qualifier when this is the sandbox account (its execution role acts for branch code). */
  readonly branchQualifier?: string;
}

/** AWS managed policies a project role may have attached; anything else is refused at generation. */
export const ALLOWED_MANAGED_POLICIES: readonly string[] = [
  'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
  // The read API's function in the workload subnets: network-interface actions only (lib/constructs/read-api.ts).
  'arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole',
  'arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole',
  'arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup',
];

/**
 * Service-linked roles the resource types need in a fresh account
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html, one page per service).
 */
const SERVICE_LINKED_ROLES: Readonly<Record<string, string>> = {
  'AWS::ECS::Cluster': 'ecs.amazonaws.com',
  'AWS::ECS::Service': 'ecs.amazonaws.com',
  'AWS::RDS::DBInstance': 'rds.amazonaws.com',
  'AWS::ApplicationAutoScaling::ScalableTarget': 'ecs.application-autoscaling.amazonaws.com',
  'AWS::Backup::BackupSelection': 'backup.amazonaws.com',
  'AWS::Backup::BackupVault': 'backup.amazonaws.com',
  // A fresh account's first notification rule creates AWSServiceRoleForCodeStarNotifications
  // (https://docs.aws.amazon.com/dtconsole/latest/userguide/using-service-linked-roles.html).
  'AWS::CodeStarNotifications::NotificationRule': 'codestar-notifications.amazonaws.com',
};

/**
 * Resource types whose handlers use a KMS key on the caller's behalf (grants for encrypted storage): allowed
 * only through that service (kms:ViaService), never as a direct Decrypt
 * (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service).
 */
const KMS_THROUGH: Readonly<Record<string, string>> = {
  'AWS::RDS::DBInstance': 'rds',
  'AWS::Backup::BackupVault': 'backup',
};
const KMS_THROUGH_ACTIONS = ['kms:CreateGrant', 'kms:Decrypt', 'kms:GenerateDataKey', 'kms:RetireGrant'];

/** The IAM role calls of CloudFormation's AWS::IAM::Role and AWS::IAM::Policy handlers that need no boundary condition. */
const ROLE_READ_AND_TAG = [
  'iam:GetRole',
  'iam:GetRolePolicy',
  'iam:ListRolePolicies',
  'iam:ListAttachedRolePolicies',
  'iam:ListInstanceProfilesForRole',
  'iam:ListRoleTags',
  'iam:TagRole',
  'iam:UntagRole',
  'iam:UpdateRole',
  'iam:UpdateRoleDescription',
  'iam:UpdateAssumeRolePolicy',
  'iam:DeleteRole',
];
/** Role calls that take the `iam:PermissionsBoundary` condition key: allowed only with the boundary attached. */
const ROLE_WRITES_WITH_BOUNDARY = ['iam:CreateRole', 'iam:PutRolePolicy', 'iam:DeleteRolePolicy', 'iam:PutRolePermissionsBoundary'];
const ROLE_ATTACH = ['iam:AttachRolePolicy', 'iam:DetachRolePolicy'];

/**
 * Denied to every role under the boundary (the workload's included): what no role of this project ever does:
 * turning off the audit trail or the backups' protection, sharing or exporting the database, and IAM
 * principals with long-term credentials.
 */
export const NO_PROJECT_ROLE: readonly string[] = [
  'cloudtrail:StopLogging',
  'cloudtrail:DeleteEventDataStore',
  'rds:ModifyDBSnapshotAttribute',
  'rds:ModifyDBClusterSnapshotAttribute',
  'rds:StartExportTask',
  'backup:DeleteBackupVaultAccessPolicy',
  'backup:DeleteBackupVaultLockConfiguration',
  'iam:DeleteRolePermissionsBoundary',
  'iam:CreateUser',
  'iam:CreateAccessKey',
  'iam:CreateLoginProfile',
  'iam:UpdateLoginProfile',
  'iam:AttachUserPolicy',
  'iam:PutUserPolicy',
  'iam:AttachGroupPolicy',
  'iam:PutGroupPolicy',
  'iam:AddUserToGroup',
];

/**
 * Never part of deploying these stacks, denied to the execution role even where another statement would allow
 * them: NO_PROJECT_ROLE, and what the workload does but CloudFormation never does: reading PHI (stream records,
 * log events; secrets' values are scoped separately), copying or restoring the database (the restore drill
 * does, with its own role), deleting recovery points, running tasks.
 */
export const NEVER_NEEDED: readonly string[] = [
  ...NO_PROJECT_ROLE,
  'rds:CopyDBSnapshot',
  'rds:RestoreDBInstanceFromDBSnapshot',
  'rds:RestoreDBInstanceToPointInTime',
  'rds:CreateDBInstanceReadReplica',
  'rds:DownloadDBLogFilePortion',
  'backup:DeleteRecoveryPoint',
  'backup:StartRestoreJob',
  'backup:StartCopyJob',
  'backup:UpdateRecoveryPointLifecycle',
  'kinesis:GetRecords',
  'kinesis:GetShardIterator',
  'kinesis:SubscribeToShard',
  'logs:GetLogEvents',
  'logs:FilterLogEvents',
  'logs:StartQuery',
  'logs:StartLiveTail',
  'logs:CreateExportTask',
  'logs:PutSubscriptionFilter',
  'ecs:RunTask',
  'ecs:StartTask',
  'ecs:ExecuteCommand',
  'secretsmanager:PutSecretValue',
  'secretsmanager:UpdateSecret',
  'secretsmanager:DeleteSecret',
  'kms:ReEncryptFrom',
];

/** Data reads of AWS's ReadOnlyAccess that the CDK look-up role never needs (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/ReadOnlyAccess.html). */
export const LOOKUP_ROLE_NEVER: readonly string[] = [
  'logs:GetLogEvents',
  'logs:FilterLogEvents',
  'logs:StartQuery',
  'logs:GetQueryResults',
  'logs:StartLiveTail',
  'logs:GetLogRecord',
  'logs:Unmask',
  'kinesis:GetRecords',
  'kinesis:GetShardIterator',
  'kinesis:SubscribeToShard',
  's3:GetObject',
  's3:GetObjectVersion',
  'rds:DownloadDBLogFilePortion',
  'rds:DownloadCompleteDBLogFile',
  'secretsmanager:GetSecretValue',
];

/** Destructive calls branch code may make only on resources tagged Preview=true (services supporting aws:ResourceTag). */
const PREVIEW_ONLY_DESTRUCTIVE: readonly string[] = [
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

/** IAM role calls branch code may make only on per-branch roles. */
const BRANCH_ROLE_CALLS = [
  ...ROLE_WRITES_WITH_BOUNDARY,
  ...ROLE_ATTACH,
  'iam:DeleteRole',
  'iam:UpdateAssumeRolePolicy',
  'iam:UpdateRole',
  'iam:TagRole',
  'iam:UntagRole',
  'iam:PassRole',
];

export const policyArn = (account: string, name: string): string => `arn:aws:iam::${account}:policy/${name}`;

/** The CloudFormation execution role of a bootstrap qualifier (CDK's bootstrap template names it so). */
export const executionRoleArn = (account: string, region: string, qualifier: string): string =>
  `arn:aws:iam::${account}:role/cdk-${qualifier}-cfn-exec-role-${account}-${region}`;

function uniqueSorted(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

/** Every object of a JSON value, depth first. */
function* objects(value: unknown): Generator<Record<string, unknown>> {
  if (Array.isArray(value)) for (const item of value) yield* objects(item);
  else if (value && typeof value === 'object') {
    yield value as Record<string, unknown>;
    for (const child of Object.values(value)) yield* objects(child);
  }
}

/**
 * The literal string of a value that may be a CloudFormation intrinsic, as it resolves in `account` and `region`:
 * a string, the pseudo parameters (`Ref`, or inside `Fn::Sub`), and `Fn::Join` of those; undefined for anything
 * that depends on a resource.
 */
export function literalOf(value: unknown, account: string, region: string): string | undefined {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown> | undefined;
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::AccountId': account,
    'AWS::Region': region,
    'AWS::URLSuffix': 'amazonaws.com',
  };
  if (typeof v?.['Fn::Sub'] === 'string') {
    const text = (v['Fn::Sub'] as string).replace(/\$\{(AWS::[A-Za-z]+)\}/g, (whole, name: string) => pseudo[name] ?? whole);
    return text.includes('${') ? undefined : text;
  }
  if (typeof v?.Ref === 'string') return pseudo[v.Ref];
  const join = v?.['Fn::Join'] as [string, unknown[]] | undefined;
  if (!join) return undefined;
  const parts = join[1].map((p) => literalOf(p, account, region));
  return parts.every((p) => p !== undefined) ? parts.join(join[0]) : undefined;
}

function statementsOf(template: CfnTemplate): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const r of Object.values(template.Resources ?? {})) {
    const p = r.Properties ?? {};
    const docs: unknown[] = [];
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') docs.push(p.PolicyDocument);
    if (r.Type === 'AWS::IAM::Role')
      for (const inline of (p.Policies as Array<{ PolicyDocument: unknown }>) ?? []) docs.push(inline.PolicyDocument);
    for (const doc of docs) out.push(...(((doc as { Statement?: unknown[] })?.Statement ?? []) as Array<Record<string, unknown>>));
  }
  return out;
}

/** The actions the roles of these templates are allowed (for the boundary's workload ceiling and its tests). */
export function roleActions(templates: readonly CfnTemplate[]): string[] {
  const actions: string[] = [];
  for (const t of templates)
    for (const s of statementsOf(t)) {
      if (s.Effect !== 'Allow') continue;
      actions.push(...([] as string[]).concat((s.Action as string | string[]) ?? []));
    }
  return uniqueSorted(actions);
}

/** Derives each account's plan from the stacks of both synths (the delivery app and one preview). */
export function accountPlans(
  stacks: readonly LoadedStack[],
  options: { project: string; region: string; branchQualifier?: string; branchAccount?: string },
): AccountPlan[] {
  const byAccount = new Map<string, LoadedStack[]>();
  for (const s of stacks) {
    if (!s.account) throw new ConfigError(`stack ${s.stackName} has no account: set the accounts in cdk.json (docs/deploying.md, step 0)`);
    byAccount.set(s.account, [...(byAccount.get(s.account) ?? []), s]);
  }
  return [...byAccount.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([account, list]) => {
      const region = list.find((s) => s.region)?.region ?? options.region;
      const literal = (value: unknown) => literalOf(value, account, region);
      const templates = list.map((s) => s.template);
      const text = JSON.stringify(templates);
      const secretArns = uniqueSorted(dynamicReferenceSecretArns(text));
      const secretKeyArns: string[] = [];
      const producerStacks: string[] = [];
      const connectionArns: string[] = [];
      const passedToServices: string[] = [];
      const managedPolicyArns: string[] = [];
      for (const t of templates) {
        for (const s of statementsOf(t)) {
          const via = (s.Condition as Record<string, Record<string, unknown>> | undefined)?.StringEquals?.['kms:ViaService'];
          const actions = ([] as string[]).concat((s.Action as string | string[]) ?? []);
          if (typeof via === 'string' && via.startsWith('secretsmanager.') && actions.includes('kms:Decrypt'))
            secretKeyArns.push(
              ...([] as unknown[])
                .concat(s.Resource)
                .map(literal)
                .filter((r): r is string => !!r),
            );
        }
        for (const o of objects(t.Resources)) {
          const gso = o['Fn::GetStackOutput'] as { StackName?: unknown } | undefined;
          if (gso && typeof gso.StackName === 'string') producerStacks.push(gso.StackName);
          if (typeof o.ConnectionArn === 'string') connectionArns.push(o.ConnectionArn);
        }
        for (const r of Object.values(t.Resources ?? {})) {
          if (r.Type !== 'AWS::IAM::Role') continue;
          const trust = r.Properties?.AssumeRolePolicyDocument as { Statement?: Array<{ Principal?: { Service?: string | string[] } }> };
          for (const st of trust?.Statement ?? []) passedToServices.push(...([] as string[]).concat(st.Principal?.Service ?? []));
          for (const arn of (r.Properties?.ManagedPolicyArns as unknown[]) ?? []) {
            const name = literal(arn);
            if (!name)
              throw new Error(`a role in account ${account} attaches a managed policy that is not a literal ARN: ${JSON.stringify(arn)}`);
            managedPolicyArns.push(name);
          }
        }
      }
      const refused = uniqueSorted(managedPolicyArns).filter((arn) => !ALLOWED_MANAGED_POLICIES.includes(arn));
      if (refused.length > 0)
        throw new Error(
          `managed policy ${refused.join(', ')} is attached in account ${account} but not in ALLOWED_MANAGED_POLICIES (scripts/bootstrap/policies.ts): add it there after review`,
        );
      return {
        account,
        region,
        project: options.project,
        stackNames: uniqueSorted(list.map((s) => s.stackName)),
        resourceTypes: uniqueSorted(list.flatMap((s) => Object.values(s.template.Resources ?? {}).map((r) => r.Type))),
        secretArns,
        secretKeyArns: uniqueSorted(secretKeyArns),
        rdsManagedSecrets: templates.some((t) =>
          Object.values(t.Resources ?? {}).some(
            (r) => r.Type === 'AWS::RDS::DBInstance' && r.Properties?.ManageMasterUserPassword === true,
          ),
        ),
        producerStacks: uniqueSorted(producerStacks),
        connectionArns: uniqueSorted(connectionArns),
        passedToServices: uniqueSorted(passedToServices),
        managedPolicyArns: uniqueSorted(managedPolicyArns),
        ...(options.branchQualifier && options.branchAccount === account ? { branchQualifier: options.branchQualifier } : {}),
      };
    });
}

/**
 * Read-only calls granted by verb, so that one account's policy stays within IAM's 6,144-character limit for a
 * managed policy. `Describe*` and `List*` return configuration and names, never records; `Get*` only for
 * services whose Get calls return configuration (not stream records, log events, objects or secret values,
 * which NEVER_NEEDED denies besides). S3 objects keep out: only bucket configuration reads.
 */
const READ_VERBS = ['Describe', 'List'];
const GET_IS_CONFIGURATION = new Set([
  'application-autoscaling',
  'backup',
  'cloudtrail',
  'cloudwatch',
  'codebuild',
  'codepipeline',
  'codestar-notifications',
  'ec2',
  'ecs',
  'events',
  'kms',
  'rds',
  'sns',
]);

function compress(action: string): string {
  const [service, name] = action.split(':');
  if (service === 'iam') return action; // the boundary allows IAM by exact action only
  const verb = READ_VERBS.find((v) => name.startsWith(v));
  if (verb) return `${service}:${verb}*`;
  if (name.startsWith('Get') && GET_IS_CONFIGURATION.has(service)) return `${service}:Get*`;
  if (service === 's3' && /^GetBucket/.test(name)) return 's3:GetBucket*';
  if (service === 's3' && /^Get\w*Configuration$/.test(name)) return 's3:Get*Configuration';
  return action;
}

/** The actions the resource handlers need, per RESOURCE_GRANTS; an unreviewed type is refused. */
export function handlerActions(resourceTypes: readonly string[]): string[] {
  const actions: string[] = [];
  for (const type of resourceTypes) {
    if (type === 'AWS::CDK::Metadata' || type.startsWith('Custom::') || type === 'AWS::CloudFormation::CustomResource') continue;
    const grants = RESOURCE_GRANTS[type];
    if (!grants)
      throw new Error(
        `resource type ${type} has no entry in RESOURCE_GRANTS (scripts/bootstrap/grants.ts): add it from its registry schema's handler permissions after review`,
      );
    actions.push(...grants.map(compress));
  }
  return uniqueSorted(actions);
}

const has = (plan: AccountPlan, predicate: (type: string) => boolean) => plan.resourceTypes.some(predicate);

function byService(actions: readonly string[]): Array<[string, string[]]> {
  const groups = new Map<string, string[]>();
  for (const a of actions) groups.set(a.split(':')[0], [...(groups.get(a.split(':')[0]) ?? []), a]);
  return [...groups.entries()].sort(([a], [b]) => a.localeCompare(b));
}

/** `application-autoscaling` → `ApplicationAutoscaling` (a Sid is alphanumeric). */
const sidWord = (service: string) =>
  service
    .split(/[^a-z0-9]+/i)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');

/** IAM's limit for a managed policy document, white space excluded (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html). */
export const MANAGED_POLICY_MAX_CHARS = 6144;

/**
 * Packs a policy's statements, in order, into as few managed policies as IAM's size limit allows (a role
 * may have 10 attached; `cdk bootstrap --cloudformation-execution-policies` takes them comma-separated).
 */
export function splitPolicy(doc: PolicyDocument, limit = MANAGED_POLICY_MAX_CHARS): PolicyDocument[] {
  const parts: Array<Array<Record<string, unknown>>> = [[]];
  const size = (statements: ReadonlyArray<Record<string, unknown>>) =>
    JSON.stringify({ Version: doc.Version, Statement: statements }).length;
  for (const st of doc.Statement) {
    if (size([st]) > limit) throw new Error(`statement ${String(st.Sid)} alone is over IAM's ${limit}-character policy limit: split it`);
    const last = parts[parts.length - 1];
    if (size([...last, st]) > limit) parts.push([st]);
    else last.push(st);
  }
  if (parts.length > 10)
    throw new Error(`the execution policy needs ${parts.length} managed policies: a role may have at most 10 attached`);
  return parts.map((Statement) => ({ Version: doc.Version, Statement }));
}

/** Managed policy names of the execution policy's parts: `<project>-cfn-exec`, `<project>-cfn-exec-2`, ... */
export function executionPolicyNames(project: string, parts: number): string[] {
  const base = new ToolingNames(project).executionPolicyName;
  return Array.from({ length: parts }, (_, i) => (i === 0 ? base : `${base}-${i + 1}`));
}

/** The CloudFormation execution policy of one account. */
export function executionPolicy(plan: AccountPlan): PolicyDocument {
  const { account, region, project } = plan;
  const names = new ToolingNames(project);
  const boundary = policyArn(account, names.permissionsBoundaryName);
  const projectRoles = `arn:aws:iam::${account}:role/${project}-*`;
  const statements: Array<Record<string, unknown>> = [
    ...byService(handlerActions(plan.resourceTypes)).map(([service, actions]) => ({
      Sid: `${sidWord(service)}Handlers`,
      Effect: 'Allow',
      Action: actions,
      Resource: '*',
    })),
    {
      Sid: 'ProjectRolesOnlyWithTheBoundary',
      Effect: 'Allow',
      Action: ROLE_WRITES_WITH_BOUNDARY,
      Resource: projectRoles,
      Condition: { StringEquals: { 'iam:PermissionsBoundary': boundary } },
    },
    {
      Sid: 'ReviewedManagedPoliciesOnly',
      Effect: 'Allow',
      Action: ROLE_ATTACH,
      Resource: projectRoles,
      Condition: { StringEquals: { 'iam:PermissionsBoundary': boundary }, ArnEquals: { 'iam:PolicyARN': [...ALLOWED_MANAGED_POLICIES] } },
    },
    { Sid: 'ProjectRoles', Effect: 'Allow', Action: ROLE_READ_AND_TAG, Resource: projectRoles },
  ];
  if (plan.passedToServices.length > 0)
    statements.push({
      Sid: 'PassProjectRolesToTheirServices',
      Effect: 'Allow',
      Action: 'iam:PassRole',
      Resource: projectRoles,
      Condition: { StringEquals: { 'iam:PassedToService': [...plan.passedToServices] } },
    });
  const linked = uniqueSorted(plan.resourceTypes.map((t) => SERVICE_LINKED_ROLES[t]).filter((s): s is string => !!s));
  if (linked.length > 0)
    statements.push({
      Sid: 'ServiceLinkedRoles',
      Effect: 'Allow',
      Action: 'iam:CreateServiceLinkedRole',
      Resource: `arn:aws:iam::${account}:role/aws-service-role/*`,
      Condition: { StringEquals: { 'iam:AWSServiceName': linked } },
    });
  const kmsServices = uniqueSorted(plan.resourceTypes.map((t) => KMS_THROUGH[t]).filter((s): s is string => !!s));
  if (kmsServices.length > 0)
    statements.push({
      Sid: 'KeysOnlyThroughTheStorageServices',
      Effect: 'Allow',
      Action: KMS_THROUGH_ACTIONS,
      Resource: `arn:aws:kms:${region}:${account}:key/*`,
      Condition: { StringEquals: { 'kms:ViaService': kmsServices.map((s) => `${s}.${region}.amazonaws.com`) } },
    });
  if (plan.secretArns.length > 0) {
    // CloudFormation resolves {{resolve:secretsmanager:...}} with the execution role
    // (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/dynamic-references-secretsmanager.html):
    // exactly the configured database secrets, whose ARNs end in six random characters.
    statements.push({
      Sid: 'ResolveTheDatabaseSecrets',
      Effect: 'Allow',
      Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      Resource: plan.secretArns.map((arn) => `${arn}-??????`),
    });
    if (has(plan, (t) => t === 'AWS::SecretsManager::RotationSchedule'))
      // A rotation schedule on those secrets: RotateSecret (which invokes the rotation function) and, on delete,
      // CancelRotateSecret (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_RotateSecret.html).
      statements.push({
        Sid: 'RotateTheDatabaseSecrets',
        Effect: 'Allow',
        Action: ['secretsmanager:RotateSecret', 'secretsmanager:CancelRotateSecret', 'lambda:InvokeFunction'],
        Resource: [
          ...plan.secretArns.map((arn) => `${arn}-??????`),
          // Naming.secretRotation: `<project>-db-rotation-<suffix>`.
          `arn:aws:lambda:${region}:${account}:function:${project}-db-rotation-*`,
        ],
      });
    if (plan.secretKeyArns.length > 0)
      statements.push({
        Sid: 'DecryptTheDatabaseSecrets',
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: [...plan.secretKeyArns],
        Condition: { StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` } },
      });
  }
  if (plan.rdsManagedSecrets)
    // RDS creates the secret of a ManageMasterUserPassword instance with the caller's permissions, named rds!db-<uuid>
    // (AWS::RDS::DBInstance's handler permissions; https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html),
    // and rotates and deletes it itself. Encrypted with aws/secretsmanager, whose AWS-written key policy admits every
    // principal of the account through Secrets Manager: no KMS statement. Nothing here reads a secret's value.
    statements.push({
      Sid: 'SecretsRdsManages',
      Effect: 'Allow',
      Action: ['secretsmanager:CreateSecret', 'secretsmanager:TagResource'],
      Resource: `arn:aws:secretsmanager:${region}:${account}:secret:rds!db-*`,
    });
  if (plan.producerStacks.length > 0)
    // Fn::GetStackOutput is resolved with the consuming stack's execution role
    // (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-getstackoutput.html).
    statements.push({
      Sid: 'ReadProducingStacksOutputs',
      Effect: 'Allow',
      Action: 'cloudformation:DescribeStacks',
      Resource: plan.producerStacks.map((name) => `arn:aws:cloudformation:${region}:${account}:stack/${name}/*`),
    });
  statements.push(
    // The template's BootstrapVersion parameter reads the bootstrap stack's SSM parameter.
    {
      Sid: 'BootstrapVersion',
      Effect: 'Allow',
      Action: 'ssm:GetParameters',
      Resource: `arn:aws:ssm:${region}:${account}:parameter/cdk-bootstrap/*`,
    },
  );
  if (has(plan, (t) => t === 'AWS::Lambda::Function'))
    // Lambda reads a function's code from the asset bucket with the caller's credentials (CreateFunction, UpdateFunctionCode).
    statements.push({
      Sid: 'FunctionCodeFromTheAssetBucket',
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:GetObjectVersion'],
      Resource: `arn:aws:s3:::cdk-*-assets-${account}-${region}/*`,
    });
  if (has(plan, (t) => t.startsWith('Custom::') || t === 'AWS::CloudFormation::CustomResource'))
    // CloudFormation invokes a custom resource's ServiceToken function with the execution role.
    statements.push({
      Sid: 'InvokeCustomResourceHandlers',
      Effect: 'Allow',
      Action: 'lambda:InvokeFunction',
      Resource: `arn:aws:lambda:${region}:${account}:function:${project}-*`,
    });
  if (has(plan, (t) => t === 'AWS::EC2::VPCEndpoint'))
    // Interface endpoints with private DNS associate the VPC with an AWS-managed private hosted zone
    // (https://docs.aws.amazon.com/vpc/latest/privatelink/manage-dns-names.html).
    statements.push({
      Sid: 'PrivateDnsOfInterfaceEndpoints',
      Effect: 'Allow',
      Action: ['route53:AssociateVPCWithHostedZone', 'route53:DisassociateVPCFromHostedZone'],
      Resource: '*',
    });
  if (plan.connectionArns.length > 0)
    // Creating a pipeline whose source is a connection passes it; the action prefix must match the ARN's
    // (https://docs.aws.amazon.com/dtconsole/latest/userguide/security-iam.html#permissions-reference-connections-passconnection).
    statements.push({
      Sid: 'PassTheSourceConnection',
      Effect: 'Allow',
      Action: ['codestar-connections:PassConnection', 'codeconnections:PassConnection'],
      Resource: uniqueSorted(
        plan.connectionArns.flatMap((arn) => [
          arn.replace(':codeconnections:', ':codestar-connections:'),
          arn.replace(':codestar-connections:', ':codeconnections:'),
        ]),
      ),
    });
  statements.push(
    { Sid: 'NeverNeededToDeploy', Effect: 'Deny', Action: [...NEVER_NEEDED], Resource: '*' },
    // Keys are used only through the services above; a direct call has no kms:ViaService.
    { Sid: 'NoDirectDecrypt', Effect: 'Deny', Action: 'kms:Decrypt', Resource: '*', Condition: { Null: { 'kms:ViaService': 'true' } } },
    // CloudTrail writes under AWSLogs/; nothing CloudFormation does deletes a trail's log file.
    {
      Sid: 'TrailLogFilesStay',
      Effect: 'Deny',
      Action: ['s3:DeleteObject', 's3:DeleteObjectVersion'],
      Resource: 'arn:aws:s3:::*/AWSLogs/*',
    },
    ...protectBoundaryStatements(account, project),
  );
  if (plan.branchQualifier) statements.push(...branchStatements(plan, plan.branchQualifier));
  return { Version: '2012-10-17', Statement: statements };
}

/** The boundary and the execution policy cannot be rewritten by anything they govern. */
function protectBoundaryStatements(account: string, project: string): Array<Record<string, unknown>> {
  const names = new ToolingNames(project);
  return [
    {
      Sid: 'TheseTwoPoliciesStayAsBootstrapped',
      Effect: 'Deny',
      Action: [
        'iam:CreatePolicyVersion',
        'iam:DeletePolicy',
        'iam:DeletePolicyVersion',
        'iam:SetDefaultPolicyVersion',
        'iam:TagPolicy',
        'iam:UntagPolicy',
      ],
      Resource: [
        policyArn(account, names.permissionsBoundaryName),
        policyArn(account, names.executionPolicyName),
        policyArn(account, `${names.executionPolicyName}-*`),
      ],
    },
  ];
}

/** In the sandbox, the per-branch bootstrap's execution role (branch code) reaches per-branch resources only. */
function branchStatements(plan: AccountPlan, qualifier: string): Array<Record<string, unknown>> {
  const branchExec = { ArnLike: { 'aws:PrincipalArn': executionRoleArn(plan.account, plan.region, qualifier) } };
  return [
    {
      Sid: 'BranchCodeOnlyPerBranchRoles',
      Effect: 'Deny',
      Action: BRANCH_ROLE_CALLS,
      NotResource: `arn:aws:iam::${plan.account}:role/${plan.project}-*-br-*`,
      Condition: branchExec,
    },
    {
      Sid: 'BranchCodeOnlyPreviewResources',
      Effect: 'Deny',
      Action: [...PREVIEW_ONLY_DESTRUCTIVE],
      Resource: '*',
      // Preview resources carry Preview=true (EnvironmentStack tags every resource); services per the
      // Service Authorization Reference's aws:ResourceTag support.
      Condition: { ...branchExec, StringNotEquals: { [`aws:ResourceTag/${PREVIEW_TAG.key}`]: PREVIEW_TAG.value } },
    },
  ];
}

/** Exact IAM actions the roles under the boundary may use (everything else of IAM is outside it). */
function boundaryIamActions(plan: AccountPlan, workloadActions: readonly string[]): string[] {
  return uniqueSorted([
    ...ROLE_WRITES_WITH_BOUNDARY,
    ...ROLE_ATTACH,
    ...ROLE_READ_AND_TAG,
    'iam:PassRole',
    'iam:CreateServiceLinkedRole',
    ...handlerActions(plan.resourceTypes).filter((a) => a.startsWith('iam:')),
    ...workloadActions.filter((a) => a.toLowerCase().startsWith('iam:')),
  ]);
}

/**
 * The permissions boundary of one account: every service but IAM and the organisation's own, the exact IAM
 * role calls the stacks make (with the same boundary and managed-policy conditions as the execution policy),
 * and denials no role can lift.
 */
export function permissionsBoundary(plan: AccountPlan, workloadActions: readonly string[]): PolicyDocument {
  const { account, project } = plan;
  const boundary = policyArn(account, new ToolingNames(project).permissionsBoundaryName);
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'EverythingButIdentityAndTheOrganisation',
        Effect: 'Allow',
        NotAction: ['iam:*', 'organizations:*', 'account:*', 'sso:*', 'sso-directory:*', 'identitystore:*'],
        Resource: '*',
      },
      { Sid: 'ExactlyTheIamCallsOfTheStacks', Effect: 'Allow', Action: boundaryIamActions(plan, workloadActions), Resource: '*' },
      {
        Sid: 'NewRolesCarryThisBoundary',
        Effect: 'Deny',
        Action: [...ROLE_WRITES_WITH_BOUNDARY, ...ROLE_ATTACH],
        Resource: '*',
        Condition: { StringNotEquals: { 'iam:PermissionsBoundary': boundary } },
      },
      {
        Sid: 'ReviewedManagedPoliciesOnly',
        Effect: 'Deny',
        Action: 'iam:AttachRolePolicy',
        Resource: '*',
        Condition: { ArnNotEquals: { 'iam:PolicyARN': [...ALLOWED_MANAGED_POLICIES] } },
      },
      { Sid: 'NoProjectRoleEver', Effect: 'Deny', Action: [...NO_PROJECT_ROLE], Resource: '*' },
      {
        // The CDK look-up role has AWS's ReadOnlyAccess and is trusted by the tooling account; CloudWatch Logs
        // decrypts log events server-side, so its DontReadSecrets (kms:Decrypt) does not keep it from PHI in logs.
        // The app never looks anything up (`cdk synth --no-lookups`, pinned zones): no record, log event, object
        // or secret value for it (bootstrap with --apply-permissions-boundary-to-all-roles puts it under this boundary).
        Sid: 'LookupRoleReadsNoData',
        Effect: 'Deny',
        Action: [...LOOKUP_ROLE_NEVER],
        Resource: '*',
        Condition: { ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${account}:role/cdk-*-lookup-role-${account}-*` } },
      },
      {
        Sid: 'TrailLogFilesStay',
        Effect: 'Deny',
        Action: ['s3:DeleteObject', 's3:DeleteObjectVersion'],
        Resource: 'arn:aws:s3:::*/AWSLogs/*',
      },
      ...protectBoundaryStatements(account, project),
    ],
  };
}
