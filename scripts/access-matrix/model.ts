/**
 * Turns the synthesized stacks into the inputs of a policy evaluation: principals with their identity
 * and trust policies, resource policies by ARN, and, per environment, the concrete ARNs the matrix asks about.
 */
import { dynamicReferenceSecretArns, type LoadedStack } from './assembly';
import { KEY_ADMINISTRATION_ACTIONS } from '../../lib/constructs/encryption-key';
import { AUDITOR_DB_USER } from '../../lib/contract';
import managedPolicies from './aws-managed-policies.json';
import { PlacedStack, Resolver, UNRESOLVED } from './intrinsics';

export type PolicyDocument = { Version?: string; Statement: Array<Record<string, unknown>> };

/** `outside`: an IAM principal the templates do not create (an operator's role, another application's), as the account could grant it. */
export type PrincipalKind = 'role' | 'bootstrap' | 'service' | 'outside';
/** What the intended matrix allows a principal to be for an environment's PHI. */
export type PrincipalPurpose = 'workload' | 'post-deploy' | 'producer' | 'reader' | 'deploy-execution' | 'other';

export interface Principal {
  /** Stable display id: `<stack>/<logicalId>`, a bootstrap role name, or a service principal. */
  readonly id: string;
  /** Role ARN, or the service principal name. */
  readonly arn: string;
  /** The role's name (its RoleName, or the stand-in for a generated one): what the intended matrix names principals by. */
  readonly roleName?: string;
  readonly account: string;
  readonly kind: PrincipalKind;
  /** Environment suffix for stage roles; `tooling`, `per-branch tooling`, `shared`, or `account <id>` otherwise. */
  readonly home: string;
  /** Runs or is controlled by branch code (per-branch pipelines and environments, and a sandbox account's bootstrap roles). */
  readonly perBranch: boolean;
  readonly purpose: PrincipalPurpose;
  readonly identityPolicies: Array<{ name: string; policy: PolicyDocument }>;
  readonly trustPolicy?: PolicyDocument;
  /** Tags on the role (iam:ResourceTag conditions of callers). */
  readonly tags?: Readonly<Record<string, string>>;
  /** The permissions boundary on the role, when it has one. */
  readonly permissionBoundary?: PolicyDocument;
}

export interface AlarmTopic {
  readonly arn: string;
  readonly keyArn?: string;
  /** Alarms whose actions publish to this topic (the aws:SourceArn CloudWatch sends). */
  readonly alarmArns: readonly string[];
  readonly stackName: string;
}

export interface EncryptedLogGroup {
  readonly name: string;
  readonly arn: string;
  readonly keyArn: string;
}

export interface Environment {
  readonly suffix: string;
  readonly account: string;
  readonly region: string;
  /** A per-branch environment (from `-c branch=...`), as opposed to a long-lived one (dev, prod). */
  readonly perBranch: boolean;
  readonly profile: string;
  readonly stacks: ReadonlyArray<{ name: string; arn: string }>;
  readonly streamArn?: string;
  readonly streamKeyArn?: string;
  readonly databaseKeyArn?: string;
  readonly databaseResourceId?: string;
  readonly secretArn?: string;
  /** True when RDS manages the master password (previews): a secret of RDS's, which no template resolves. */
  readonly secretManagedByRds: boolean;
  /** Customer managed key of the existing secret, when configured; undefined means the AWS managed key. */
  readonly secretKeyArn?: string;
  readonly processorLogGroups: readonly EncryptedLogGroup[];
  readonly databaseLogGroups: readonly EncryptedLogGroup[];
  readonly allLogGroups: readonly EncryptedLogGroup[];
  readonly taskDefinitionArns: readonly string[];
  readonly clusterArn?: string;
  /** Roles ECS tasks of this environment run as (task and execution roles): the ones PassRole matters for. */
  readonly taskRoleArns: readonly string[];
  readonly executionRoleArns: readonly string[];
  /** Task roles of the long-running processor's task definitions (the verify task runs the same definition). */
  readonly processorTaskRoleArns: readonly string[];
  /** Execution roles of the one-off migration task definitions (family `<project>-migrate-<suffix>`): the only readers of the master secret. */
  readonly migrationExecutionRoleArns: readonly string[];
  /** Database users the processor logs in as through IAM authentication (its container's DB_USER with DB_IAM_AUTH=true). */
  readonly iamDatabaseUsers: readonly string[];
  /** Task roles of the restore drill's task definitions (family `<project>-restore-drill-<suffix>`). */
  readonly drillTaskRoleArns: readonly string[];
  /** The live database instance's ARN (restore and delete are asked about it). */
  readonly databaseInstanceArn?: string;
  /** execute-api ARN of a GET through the FHIR read API (`<api>/v1/GET/Patient/<id>/$everything`). */
  readonly readApiArn?: string;
  /** Roles of Lambda functions that log in to the database with IAM authentication (the read API's). */
  readonly readApiFunctionRoleArns: readonly string[];
  /** Their database users (DB_USER with DB_IAM_AUTH=true). */
  readonly apiDatabaseUsers: readonly string[];
  readonly alarmTopics: readonly AlarmTopic[];
  /** Lambda functions of the environment (whoever changes their code runs it as their roles). */
  readonly functionArns: readonly string[];
  /** The VPC endpoints of the environment, with their policies (undefined: none, which allows everything). */
  readonly endpoints: readonly VpcEndpoint[];
  /** Security-group egress rules to any address (`0.0.0.0/0`, `::/0`), as `<stack>/<logical id>` of the group or rule. */
  readonly openEgress: readonly string[];
}

export interface VpcEndpoint {
  /** `<stack>/<logicalId>`. */
  readonly id: string;
  /** The service's short name (`kinesis-streams`, `ecr.dkr`, `s3`, ...). */
  readonly service: string;
  readonly policy?: PolicyDocument;
}

export interface Model {
  readonly principals: readonly Principal[];
  /** Resource policies by resource ARN (KMS key policies, SNS topic policies, S3 bucket policies, secret policies, trust policies). */
  readonly resourcePolicies: ReadonlyMap<string, PolicyDocument>;
  readonly environments: readonly Environment[];
  /** Accounts that appear, with what they hold, for the legend. */
  readonly accounts: ReadonlyMap<string, { environments: string[]; tooling: boolean }>;
  /** CDK bootstrap deploy role ARNs per account, one per bootstrap qualifier. */
  readonly deployRoles: ReadonlyMap<string, readonly string[]>;
  /** Managed policies referenced but not modelled (their grants are unknown offline). */
  readonly unmodelled: readonly string[];
  readonly region: string;
  /** KMS aliases by key ARN (the kms:ResourceAliases context key). */
  readonly aliasesByKey: ReadonlyMap<string, string[]>;
  /** Tags of an environment's resources (stack tags propagate to them), for aws:ResourceTag conditions. */
  readonly environmentTags: ReadonlyMap<string, Record<string, string>>;
}

/** Key id of the placeholder customer managed key of each database secret (see matrixContext in ./index.ts). */
export const PLACEHOLDER_SECRET_KEY_ID = '00000000-0000-4000-8000-00000000c3c7';

/**
 * The key policy docs/deploying.md tells operators to give the master secret's customer managed key: administration
 * with the account, use only by the migration task's execution role, the secret's rotation function (which also
 * writes the secret) and CloudFormation's execution roles, only through Secrets Manager.
 */
export function secretKeyPolicy(
  account: string,
  region: string,
  migrationExecutionRoleName: string,
  rotationRoleName?: string,
): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'KeyAdministrationStaysWithTheAccount',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${account}:root` },
        Action: [...KEY_ADMINISTRATION_ACTIONS],
        Resource: '*',
      },
      {
        Sid: 'UseByTheMigrationTaskAndCloudFormationThroughSecretsManager',
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${account}:root` },
        Action: ['kms:Decrypt', 'kms:DescribeKey'],
        Resource: '*',
        Condition: {
          ArnLike: {
            'aws:PrincipalArn': [
              `arn:aws:iam::${account}:role/${migrationExecutionRoleName}`,
              `arn:aws:iam::${account}:role/cdk-*-cfn-exec-role-${account}-${region}`,
            ],
          },
          StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` },
        },
      },
      ...(rotationRoleName
        ? [
            {
              Sid: 'UseByTheRotationFunctionThroughSecretsManager',
              Effect: 'Allow',
              Principal: { AWS: `arn:aws:iam::${account}:root` },
              Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
              Resource: '*',
              Condition: {
                ArnEquals: { 'aws:PrincipalArn': `arn:aws:iam::${account}:role/${rotationRoleName}` },
                StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` },
              },
            },
          ]
        : []),
    ],
  };
}

export interface ModelOptions {
  /** Account for a stack whose manifest says unknown-account, by origin. */
  readonly fallbackAccount: { delivery: string; branch: string };
  readonly fallbackRegion: string;
  /** cdk.json context, for the existing secrets' names and keys. */
  readonly context: Record<string, unknown>;
  /** CDK bootstrap qualifier. @default 'hnb659fds' */
  readonly qualifier?: string;
  /** Accounts the bootstrap roles trust (`cdk bootstrap --trust`), besides their own. @default the tooling account(s) */
  readonly bootstrapTrust?: readonly string[];
  /**
   * Each account's bootstrap policies (`npm run bootstrap:policy`): the CloudFormation execution role's policies,
   * and the boundary on every bootstrap role (`--apply-permissions-boundary-to-all-roles`).
   */
  readonly bootstrapPolicies?: ReadonlyMap<string, { readonly execution: readonly PolicyDocument[]; readonly boundary: PolicyDocument }>;
}

/**
 * AWS managed policies with their real default versions, committed in ./aws-managed-policies.json with their
 * source (a public mirror of the AWS managed policies) and version: the stacks' attached ones in full, and
 * ReadOnlyAccess (the CDK look-up role's) reduced to the services the matrix asks about.
 */
interface ManagedPolicyFixture {
  readonly source: string;
  readonly policies: Record<string, { versionId: string; createDate: string; document: PolicyDocument; reduced?: string }>;
}
const MANAGED_FIXTURE = managedPolicies as unknown as ManagedPolicyFixture;

/** An AWS managed policy by its path and name after `arn:aws:iam::aws:policy/`, or undefined when no fixture holds it. */
export function awsManagedPolicy(name: string): PolicyDocument | undefined {
  return MANAGED_FIXTURE.policies[name]?.document;
}

/**
 * The CDK bootstrap template's look-up role: AWS's ReadOnlyAccess and the template's own DontReadSecrets
 * (CDK default bootstrap template v2, LookupRole).
 */
export const LOOKUP_ROLE_POLICIES: Array<{ name: string; policy: PolicyDocument }> = [
  { name: 'arn:aws:iam::aws:policy/ReadOnlyAccess', policy: awsManagedPolicy('ReadOnlyAccess')! },
  {
    name: 'LookupRolePolicy',
    policy: { Version: '2012-10-17', Statement: [{ Sid: 'DontReadSecrets', Effect: 'Deny', Action: ['kms:Decrypt'], Resource: '*' }] },
  },
];

/**
 * The CDK bootstrap template's roles, reduced to what the matrix asks about (CDK default bootstrap template v2,
 * https://github.com/aws/aws-cdk-cli/blob/main/packages/aws-cdk/lib/api/bootstrap/bootstrap-template.yaml).
 */
function bootstrapRoles(
  qualifier: string,
  account: string,
  region: string,
  trusted: readonly string[],
): Array<{ name: string; kind: string; identity: PolicyDocument; trusted: readonly string[] }> {
  const exec = `arn:aws:iam::${account}:role/cdk-${qualifier}-cfn-exec-role-${account}-${region}`;
  return [
    {
      name: `cdk-${qualifier}-deploy-role-${account}-${region}`,
      kind: 'deploy',
      identity: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'CloudFormationPermissions',
            Effect: 'Allow',
            Action: [
              'cloudformation:CreateChangeSet',
              'cloudformation:DeleteChangeSet',
              'cloudformation:DescribeChangeSet',
              'cloudformation:DescribeStacks',
              'cloudformation:ExecuteChangeSet',
              'cloudformation:CreateStack',
              'cloudformation:UpdateStack',
              'cloudformation:RollbackStack',
              'cloudformation:ContinueUpdateRollback',
            ],
            Resource: '*',
          },
          {
            Sid: 'CliPermissions',
            Effect: 'Allow',
            Action: [
              'cloudformation:DescribeStackEvents',
              'cloudformation:GetTemplate',
              'cloudformation:DeleteStack',
              'cloudformation:UpdateTerminationProtection',
              'sts:GetCallerIdentity',
              'cloudformation:GetTemplateSummary',
            ],
            Resource: '*',
          },
          { Sid: 'PassRole', Effect: 'Allow', Action: 'iam:PassRole', Resource: exec },
        ],
      },
    },
    {
      name: `cdk-${qualifier}-file-publishing-role-${account}-${region}`,
      kind: 'file-publishing',
      identity: { Version: '2012-10-17', Statement: [] },
    },
    {
      name: `cdk-${qualifier}-image-publishing-role-${account}-${region}`,
      kind: 'image-publishing',
      identity: { Version: '2012-10-17', Statement: [] },
    },
  ].map((r) => ({ ...r, trusted }));
}

/** An AWS service as a principal (e.g. `logs.eu-west-2.amazonaws.com`): no identity policies, acting only where a resource or trust policy names it. */
export function servicePrincipal(name: string): Principal {
  return {
    id: name,
    arn: name,
    account: 'aws',
    kind: 'service',
    home: 'AWS service',
    perBranch: false,
    purpose: 'other',
    identityPolicies: [],
  };
}

function asArray<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function servicePrincipals(doc: PolicyDocument | undefined): string[] {
  const out: string[] = [];
  for (const statement of doc?.Statement ?? []) {
    const principal = statement.Principal as { Service?: string | string[] } | undefined;
    if (principal && typeof principal === 'object') out.push(...asArray(principal.Service));
  }
  return out;
}

function contextObject(context: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = context[key];
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

export function buildModel(stacks: readonly LoadedStack[], options: ModelOptions): Model {
  const qualifier = options.qualifier ?? 'hnb659fds';
  const placed: Array<PlacedStack & { loaded: LoadedStack }> = [];
  const seen = new Set<string>();
  for (const s of stacks) {
    // The branch synth repeats account-level stacks (the shared trail): keep the delivery app's copy.
    if (seen.has(s.stackName)) continue;
    seen.add(s.stackName);
    placed.push({
      stackName: s.stackName,
      account: s.account ?? options.fallbackAccount[s.origin],
      region: s.region ?? options.fallbackRegion,
      template: s.template,
      loaded: s,
    });
  }
  const resolver = new Resolver(placed);
  const resourcePolicies = new Map<string, PolicyDocument>();
  const unmodelled = new Set<string>();
  const principals: Principal[] = [];
  const services = new Set<string>();

  const homeOf = (s: LoadedStack): { home: string; perBranch: boolean } => {
    const suffix = s.tags.EnvironmentSuffix;
    if (suffix) return { home: suffix, perBranch: s.origin === 'branch' };
    if (s.template.Resources && Object.values(s.template.Resources).some((r) => r.Type === 'AWS::CodePipeline::Pipeline')) {
      // A pipeline that builds branch code (the per-branch deploy/destroy/sweep pipelines) runs it with these roles.
      const perBranch =
        /-(previews|preview-sandbox)$/.test(s.stackName) ||
        Object.values(s.template.Resources).some(
          (r) => r.Type === 'AWS::CodeBuild::Project' && JSON.stringify(r.Properties ?? {}).includes('branch='),
        );
      return { home: perBranch ? 'per-branch tooling' : 'tooling', perBranch };
    }
    return { home: 'shared', perBranch: s.origin === 'branch' };
  };

  // Identity policies attached through AWS::IAM::Policy / ManagedPolicy, by role name per account.
  const attached = new Map<string, Array<{ name: string; policy: PolicyDocument }>>();
  const attach = (account: string, roleName: string, name: string, policy: PolicyDocument) => {
    const key = `${account}/${roleName}`;
    attached.set(key, [...(attached.get(key) ?? []), { name, policy }]);
  };
  const customerManaged = new Map<string, PolicyDocument>();
  const aliasesByKey = new Map<string, string[]>();
  const assumedKeyPolicies = new Set<string>();
  for (const stack of placed) {
    for (const [logicalId, resource] of Object.entries(stack.template.Resources ?? {})) {
      if (resource.Condition && !resolver.condition(stack, resource.Condition)) continue;
      const p = resource.Properties ?? {};
      const doc = (value: unknown) => resolver.resolve(stack, value) as PolicyDocument;
      switch (resource.Type) {
        case 'AWS::IAM::Policy':
        case 'AWS::IAM::ManagedPolicy': {
          const policy = doc(p.PolicyDocument);
          for (const role of asArray(p.Roles as unknown[]))
            attach(stack.account, resolver.str(stack, role), `${stack.stackName}/${logicalId}`, policy);
          if (resource.Type === 'AWS::IAM::ManagedPolicy') customerManaged.set(resolver.ref(stack, logicalId), policy);
          break;
        }
        case 'AWS::KMS::Key':
          resourcePolicies.set(resolver.getAtt(stack, logicalId, 'Arn'), doc(p.KeyPolicy));
          break;
        case 'AWS::SNS::TopicPolicy':
          for (const topic of asArray(p.Topics as unknown[])) resourcePolicies.set(resolver.str(stack, topic), doc(p.PolicyDocument));
          break;
        case 'AWS::S3::BucketPolicy': {
          const bucket = resolver.str(stack, p.Bucket);
          resourcePolicies.set(`arn:aws:s3:::${bucket}`, doc(p.PolicyDocument));
          break;
        }
        case 'AWS::KMS::Alias': {
          const target = resolver.str(stack, p.TargetKeyId);
          const keyArn = target.startsWith('arn:') ? target : resolver.arn(stack, 'kms', `key/${target}`);
          aliasesByKey.set(keyArn, [...(aliasesByKey.get(keyArn) ?? []), resolver.str(stack, p.AliasName)]);
          break;
        }
        case 'AWS::SecretsManager::ResourcePolicy':
          resourcePolicies.set(resolver.str(stack, p.SecretId), doc(p.ResourcePolicy));
          break;
        default:
          break;
      }
    }
  }
  for (const policy of resourcePolicies.values()) servicePrincipals(policy).forEach((s) => services.add(s));

  for (const stack of placed) {
    const { home, perBranch } = homeOf(stack.loaded);
    for (const [logicalId, resource] of Object.entries(stack.template.Resources ?? {})) {
      if (resource.Type !== 'AWS::IAM::Role') continue;
      if (resource.Condition && !resolver.condition(stack, resource.Condition)) continue;
      const p = resource.Properties ?? {};
      const name = resolver.ref(stack, logicalId);
      const arn = resolver.getAtt(stack, logicalId, 'Arn');
      const trustPolicy = resolver.resolve(stack, p.AssumeRolePolicyDocument) as PolicyDocument;
      resourcePolicies.set(arn, trustPolicy);
      servicePrincipals(trustPolicy).forEach((s) => services.add(s));
      const identityPolicies: Array<{ name: string; policy: PolicyDocument }> = [];
      for (const inline of asArray(resolver.resolve(stack, p.Policies) as Array<{ PolicyName: string; PolicyDocument: PolicyDocument }>)) {
        identityPolicies.push({ name: `${stack.stackName}/${logicalId}/${inline.PolicyName}`, policy: inline.PolicyDocument });
      }
      for (const managed of asArray(resolver.resolve(stack, p.ManagedPolicyArns) as string[])) {
        const awsManaged = /:iam::aws:policy\/(.+)$/.exec(managed)?.[1];
        const policy = awsManaged ? awsManagedPolicy(awsManaged) : customerManaged.get(managed);
        if (policy) identityPolicies.push({ name: managed, policy });
        else unmodelled.add(managed);
      }
      identityPolicies.push(...(attached.get(`${stack.account}/${name}`) ?? []));
      const trusted = servicePrincipals(trustPolicy);
      const trustsAws = (trustPolicy.Statement ?? []).some(
        (s) => s.Principal && typeof s.Principal === 'object' && (s.Principal as Record<string, unknown>).AWS !== undefined,
      );
      const stageRole = stack.loaded.tags.EnvironmentSuffix !== undefined;
      const purpose: PrincipalPurpose =
        stageRole && trusted.includes('ecs-tasks.amazonaws.com')
          ? 'workload'
          : // Naming.producerRoleName: the environment's producer role (put records, nothing else).
            stageRole && /-producer-/.test(name)
            ? 'producer'
            : // The read API's reader role (Naming.readerRoleName): callers assume it to read through the API.
              stageRole && trustsAws && /:role\/[a-z0-9-]+-reader-[a-z0-9-]+$/.test(arn)
              ? 'reader'
              : stageRole && trustsAws
                ? 'post-deploy'
                : // The per-branch pipeline's integration step is the post-deploy step of per-branch environments.
                  perBranch && home === 'per-branch tooling' && /^IntegrationTest/.test(logicalId)
                  ? 'post-deploy'
                  : 'other';
      principals.push({
        id: `${stack.stackName}/${logicalId}`,
        arn,
        roleName: name,
        account: stack.account,
        kind: 'role',
        home,
        perBranch,
        purpose,
        identityPolicies,
        trustPolicy,
      });
    }
  }

  // Environments, from the stage stacks' EnvironmentSuffix tag.
  const bySuffix = new Map<string, Array<PlacedStack & { loaded: LoadedStack }>>();
  for (const stack of placed) {
    const suffix = stack.loaded.tags.EnvironmentSuffix;
    if (suffix) bySuffix.set(suffix, [...(bySuffix.get(suffix) ?? []), stack]);
  }
  const previewContext = contextObject(options.context, 'previews');
  const environmentsContext = contextObject(options.context, 'environments');
  const environments: Environment[] = [];
  const environmentTags = new Map<string, Record<string, string>>();
  for (const [suffix, envStacks] of bySuffix) {
    const first = envStacks[0];
    environmentTags.set(suffix, Object.fromEntries(Object.entries(first.loaded.tags).filter(([k]) => k !== 'ExpiresAt')));
    const perBranch = first.loaded.origin === 'branch';
    const configured = perBranch ? previewContext : contextObject(environmentsContext, suffix);
    const keyOf = (stack: PlacedStack, value: unknown): string | undefined => {
      const v = resolver.str(stack, value);
      if (v === UNRESOLVED) return undefined;
      return v.startsWith('arn:') ? v : resolver.arn(stack, 'kms', `key/${v}`);
    };
    let streamArn: string | undefined;
    let streamKeyArn: string | undefined;
    let databaseKeyArn: string | undefined;
    let databaseResourceId: string | undefined;
    let databaseIdentifier: string | undefined;
    let clusterArn: string | undefined;
    const logGroups: EncryptedLogGroup[] = [];
    const taskDefinitionArns: string[] = [];
    const taskRoleArns: string[] = [];
    const executionRoleArns: string[] = [];
    const processorTaskRoleArns: string[] = [];
    const migrationExecutionRoleArns: string[] = [];
    const iamDatabaseUsers: string[] = [];
    const drillTaskRoleArns: string[] = [];
    let databaseInstanceArn: string | undefined;
    let secretArn: string | undefined;
    let secretManagedByRds = false;
    const functionArns: string[] = [];
    const endpoints: VpcEndpoint[] = [];
    const openEgress: string[] = [];
    let readApiArn: string | undefined;
    const readApiFunctionRoleArns: string[] = [];
    const apiDatabaseUsers: string[] = [];
    const topics: Array<{ arn: string; keyArn?: string; stackName: string }> = [];
    const alarmsByTopic = new Map<string, string[]>();
    for (const stack of envStacks) {
      for (const [logicalId, resource] of Object.entries(stack.template.Resources ?? {})) {
        const p = resource.Properties ?? {};
        const anywhere = (rule: Record<string, unknown>) => rule.CidrIp === '0.0.0.0/0' || rule.CidrIpv6 === '::/0';
        if (
          (resource.Type === 'AWS::EC2::SecurityGroupEgress' && anywhere(p)) ||
          (resource.Type === 'AWS::EC2::SecurityGroup' && asArray(p.SecurityGroupEgress as Array<Record<string, unknown>>).some(anywhere))
        )
          openEgress.push(`${stack.stackName}/${logicalId}`);
        switch (resource.Type) {
          case 'AWS::Kinesis::Stream':
            streamArn = resolver.getAtt(stack, logicalId, 'Arn');
            streamKeyArn = keyOf(stack, (p.StreamEncryption as { KeyId?: unknown } | undefined)?.KeyId);
            break;
          case 'AWS::RDS::DBInstance':
            databaseKeyArn = keyOf(stack, p.KmsKeyId);
            databaseResourceId = resolver.getAtt(stack, logicalId, 'DbiResourceId');
            databaseIdentifier = resolver.ref(stack, logicalId);
            databaseInstanceArn = resolver.arn(stack, 'rds', `db:${databaseIdentifier}`);
            // The master secret: the one RDS manages (previews), or the existing one the password resolves from.
            secretManagedByRds = p.ManageMasterUserPassword === true;
            if (secretManagedByRds) secretArn = resolver.getAtt(stack, logicalId, 'MasterUserSecret.SecretArn');
            else {
              const [existing] = dynamicReferenceSecretArns(resolver.str(stack, p.MasterUserPassword));
              if (existing) secretArn = `${existing}-AbCdEf`;
            }
            break;
          case 'AWS::Logs::LogGroup': {
            const keyArn = keyOf(stack, p.KmsKeyId);
            const name = resolver.ref(stack, logicalId);
            if (keyArn) logGroups.push({ name, arn: resolver.arn(stack, 'logs', `log-group:${name}`), keyArn });
            else logGroups.push({ name, arn: resolver.arn(stack, 'logs', `log-group:${name}`), keyArn: '' });
            break;
          }
          case 'AWS::ECS::TaskDefinition':
            taskDefinitionArns.push(resolver.ref(stack, logicalId));
            if (p.TaskRoleArn) taskRoleArns.push(resolver.str(stack, p.TaskRoleArn));
            if (p.ExecutionRoleArn) executionRoleArns.push(resolver.str(stack, p.ExecutionRoleArn));
            if (/-migrate-/.test(resolver.str(stack, p.Family))) {
              if (p.ExecutionRoleArn) migrationExecutionRoleArns.push(resolver.str(stack, p.ExecutionRoleArn));
            } else if (/-restore-drill-/.test(resolver.str(stack, p.Family))) {
              if (p.TaskRoleArn) drillTaskRoleArns.push(resolver.str(stack, p.TaskRoleArn));
            } else if (/-audit-chain-/.test(resolver.str(stack, p.Family))) {
              // The audit chain export (permitted.ts names its role): chain columns only, asked as audit-db-connect.
            } else if (p.TaskRoleArn) {
              processorTaskRoleArns.push(resolver.str(stack, p.TaskRoleArn));
            }
            for (const container of asArray(p.ContainerDefinitions as Array<{ Environment?: Array<{ Name: string; Value: unknown }> }>)) {
              const vars = new Map((container.Environment ?? []).map((e) => [e.Name, resolver.str(stack, e.Value)]));
              const user = vars.get('DB_USER');
              // The audit chain export's login reads chain columns only (evaluate.ts asks it as audit-db-connect).
              if (vars.get('DB_IAM_AUTH') === 'true' && user && user !== AUDITOR_DB_USER) iamDatabaseUsers.push(user);
            }
            break;
          case 'AWS::ECS::Cluster':
            clusterArn = resolver.getAtt(stack, logicalId, 'Arn');
            break;
          case 'AWS::ApiGateway::RestApi':
            readApiArn = resolver.arn(stack, 'execute-api', `${resolver.ref(stack, logicalId)}/v1/GET/Patient/matrix-probe/$everything`);
            break;
          case 'AWS::EC2::VPCEndpoint': {
            const service = resolver.str(stack, p.ServiceName).replace(/^com\.amazonaws\.[a-z0-9-]+\./, '');
            const policy = p.PolicyDocument === undefined ? undefined : (resolver.resolve(stack, p.PolicyDocument) as PolicyDocument);
            endpoints.push({ id: `${stack.stackName}/${logicalId}`, service, policy });
            break;
          }
          case 'AWS::Lambda::Function': {
            functionArns.push(resolver.getAtt(stack, logicalId, 'Arn'));
            const vars = (p.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
            const user = vars.DB_USER !== undefined ? resolver.str(stack, vars.DB_USER) : undefined;
            if (resolver.str(stack, vars.DB_IAM_AUTH) === 'true' && user) {
              apiDatabaseUsers.push(user);
              readApiFunctionRoleArns.push(resolver.str(stack, p.Role));
            }
            break;
          }
          case 'AWS::SNS::Topic':
            topics.push({
              arn: resolver.ref(stack, logicalId),
              keyArn: p.KmsMasterKeyId ? keyOf(stack, p.KmsMasterKeyId) : undefined,
              stackName: stack.stackName,
            });
            break;
          case 'AWS::CloudWatch::Alarm': {
            const alarmArn = resolver.getAtt(stack, logicalId, 'Arn');
            for (const action of [
              ...asArray(p.AlarmActions as unknown[]),
              ...asArray(p.OKActions as unknown[]),
              ...asArray(p.InsufficientDataActions as unknown[]),
            ]) {
              const target = resolver.str(stack, action);
              if (target.includes(':sns:')) alarmsByTopic.set(target, [...new Set([...(alarmsByTopic.get(target) ?? []), alarmArn])]);
            }
            break;
          }
          default:
            break;
        }
      }
    }
    // Alarm topics: every topic an alarm of this environment publishes to, even one in another stack.
    const alarmTopics: AlarmTopic[] = [...alarmsByTopic.entries()].map(([arn, alarmArns]) => {
      const topic = topics.find((t) => t.arn === arn);
      return { arn, keyArn: topic?.keyArn, alarmArns, stackName: topic?.stackName ?? '(outside this environment)' };
    });
    const secretKeyArn = typeof configured.databaseSecretKeyArn === 'string' ? configured.databaseSecretKeyArn : undefined;
    if (secretKeyArn?.endsWith(`:key/${PLACEHOLDER_SECRET_KEY_ID}`) && !resourcePolicies.has(secretKeyArn)) {
      // The placeholder stands for the key docs/deploying.md asks for, with the policy it asks for.
      const roleNamed = (pattern: RegExp) =>
        envStacks
          .flatMap((s) => Object.values(s.template.Resources ?? {}))
          .map((r) => (r.Type === 'AWS::IAM::Role' ? String(r.Properties?.RoleName ?? '') : ''))
          .find((name) => pattern.test(name));
      const roleName = roleNamed(/-migrate-exec-/) ?? `${suffix}-migrate-exec-not-found`;
      // The rotation function's role, where the environment rotates its secret (docs/deploying.md adds it to the policy then).
      const rotationRoleName = roleNamed(/-db-rotation-/);
      resourcePolicies.set(
        secretKeyArn,
        secretKeyPolicy(secretKeyArn.split(':')[4], secretKeyArn.split(':')[3], roleName, rotationRoleName),
      );
    } else if (secretKeyArn && !resourcePolicies.has(secretKeyArn)) {
      // A key outside the app: its policy is unknown offline, so assume the default key policy (the account decides through IAM).
      resourcePolicies.set(secretKeyArn, {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'AssumedDefaultKeyPolicy',
            Effect: 'Allow',
            Principal: { AWS: `arn:aws:iam::${secretKeyArn.split(':')[4]}:root` },
            Action: 'kms:*',
            Resource: '*',
          },
        ],
      });
      assumedKeyPolicies.add(secretKeyArn);
    }
    const isDbLog = (g: EncryptedLogGroup) =>
      (databaseIdentifier !== undefined && g.name.includes(`/rds/instance/${databaseIdentifier}/`)) || /\/database\b/.test(g.name);
    const isProcessorLog = (g: EncryptedLogGroup) => /processor|migrat|verify/.test(g.name) && !isDbLog(g);
    environments.push({
      suffix,
      account: first.account,
      region: first.region,
      perBranch,
      profile: first.loaded.tags.Profile ?? 'unknown',
      stacks: envStacks.map((s) => ({ name: s.stackName, arn: resolver.stackArn(s) })),
      streamArn,
      streamKeyArn,
      databaseKeyArn,
      databaseResourceId,
      secretArn,
      secretManagedByRds,
      secretKeyArn,
      processorLogGroups: logGroups.filter(isProcessorLog),
      databaseLogGroups: logGroups.filter(isDbLog),
      allLogGroups: logGroups,
      taskDefinitionArns,
      clusterArn,
      taskRoleArns: [...new Set(taskRoleArns)],
      executionRoleArns: [...new Set(executionRoleArns)],
      processorTaskRoleArns: [...new Set(processorTaskRoleArns)],
      migrationExecutionRoleArns: [...new Set(migrationExecutionRoleArns)],
      iamDatabaseUsers: [...new Set(iamDatabaseUsers)].sort(),
      drillTaskRoleArns: [...new Set(drillTaskRoleArns)],
      databaseInstanceArn,
      readApiArn,
      readApiFunctionRoleArns: [...new Set(readApiFunctionRoleArns)],
      apiDatabaseUsers: [...new Set(apiDatabaseUsers)].sort(),
      alarmTopics,
      functionArns,
      endpoints,
      openEgress,
    });
  }

  // Accounts and their CDK bootstrap roles.
  const accounts = new Map<string, { environments: string[]; tooling: boolean }>();
  for (const stack of placed) {
    const entry = accounts.get(stack.account) ?? { environments: [], tooling: false };
    const suffix = stack.loaded.tags.EnvironmentSuffix;
    if (suffix && !entry.environments.includes(suffix)) entry.environments.push(suffix);
    if (!suffix && homeOf(stack.loaded).home.includes('tooling')) entry.tooling = true;
    accounts.set(stack.account, entry);
  }
  const toolingAccounts = [...accounts.entries()].filter(([, a]) => a.tooling).map(([id]) => id);
  const trust = options.bootstrapTrust ?? toolingAccounts;
  // Qualifiers: the default everywhere, every one a policy names, and the sandbox's own (previews.bootstrapQualifier).
  const qualifiers = new Map<string, Set<string>>([...accounts.keys()].map((a) => [a, new Set([qualifier])]));
  const named = /cdk-([a-z0-9]+)-(?:deploy|file-publishing|image-publishing|lookup)-role-(\d{12})-/g;
  const policyText = JSON.stringify(principals.map((p) => p.identityPolicies));
  for (const match of policyText.matchAll(named)) qualifiers.set(match[2], new Set([...(qualifiers.get(match[2]) ?? []), match[1]]));
  const sandboxQualifier = typeof previewContext.bootstrapQualifier === 'string' ? previewContext.bootstrapQualifier : undefined;
  if (sandboxQualifier)
    qualifiers.set(options.fallbackAccount.branch, new Set([...(qualifiers.get(options.fallbackAccount.branch) ?? []), sandboxQualifier]));
  const deployRoles = new Map<string, string[]>();
  for (const [account, accountQualifiers] of qualifiers) {
    const info = accounts.get(account) ?? { environments: [], tooling: false };
    const onlyBranch =
      info.environments.length > 0 && info.environments.every((suffix) => environments.find((e) => e.suffix === suffix)?.perBranch);
    const policies = options.bootstrapPolicies?.get(account);
    for (const q of [...accountQualifiers].sort()) {
      // The sandbox's own bootstrap exists for per-branch builds: its roles act for branch code.
      const perBranch = onlyBranch || (q === sandboxQualifier && q !== qualifier);
      for (const role of bootstrapRoles(q, account, options.fallbackRegion, trust)) {
        const arn = `arn:aws:iam::${account}:role/${role.name}`;
        const trustPolicy: PolicyDocument = {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { AWS: [...new Set([account, ...role.trusted])].map((a) => `arn:aws:iam::${a}:root`) },
              Action: 'sts:AssumeRole',
            },
          ],
        };
        resourcePolicies.set(arn, trustPolicy);
        if (role.kind === 'deploy') deployRoles.set(account, [...(deployRoles.get(account) ?? []), arn]);
        principals.push({
          id: role.name,
          arn,
          roleName: role.name,
          account,
          kind: 'bootstrap',
          home: `account ${account}`,
          perBranch,
          purpose: 'other',
          identityPolicies: [{ name: 'cdk-bootstrap-default', policy: role.identity }],
          trustPolicy,
          tags: { 'aws-cdk:bootstrap-role': role.kind },
          ...(policies ? { permissionBoundary: policies.boundary } : {}),
        });
      }
      if (!policies) continue;
      // The CloudFormation execution role (only CloudFormation assumes it) with the generated policies, and the
      // look-up role (its account and the trusted accounts), both under the account's boundary.
      const extraRole = (
        kind: 'cfn-exec' | 'lookup',
        purpose: PrincipalPurpose,
        identityPolicies: Principal['identityPolicies'],
        trusted: Record<string, unknown>,
      ) => {
        const name = `cdk-${q}-${kind === 'cfn-exec' ? 'cfn-exec' : 'lookup'}-role-${account}-${options.fallbackRegion}`;
        const arn = `arn:aws:iam::${account}:role/${name}`;
        const trustPolicy: PolicyDocument = {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: trusted, Action: 'sts:AssumeRole' }],
        };
        resourcePolicies.set(arn, trustPolicy);
        principals.push({
          id: name,
          arn,
          roleName: name,
          account,
          kind: 'bootstrap',
          home: `account ${account}`,
          perBranch,
          purpose,
          identityPolicies,
          trustPolicy,
          tags: { 'aws-cdk:bootstrap-role': kind },
          permissionBoundary: policies.boundary,
        });
      };
      extraRole(
        'cfn-exec',
        'deploy-execution',
        policies.execution.map((policy, i) => ({ name: `cfn-exec-${i + 1}`, policy })),
        { Service: 'cloudformation.amazonaws.com' },
      );
      extraRole('lookup', 'other', LOOKUP_ROLE_POLICIES, { AWS: [...new Set([account, ...trust])].map((a) => `arn:aws:iam::${a}:root`) });
    }
  }

  // Principals outside the templates: in every account holding an environment, one an administrator allowed the
  // use of every KMS key (a common over-broad grant). The data keys' policies must keep it out.
  for (const [account, info] of [...accounts.entries()].sort()) {
    if (info.environments.length === 0) continue;
    principals.push({
      id: `account ${account}: any IAM principal allowed KMS key use on *`,
      arn: `arn:aws:iam::${account}:role/matrix-probe-kms-user`,
      roleName: 'matrix-probe-kms-user',
      account,
      kind: 'outside',
      home: `account ${account}`,
      perBranch:
        environments.some((e) => e.account === account && e.perBranch) && environments.every((e) => e.account !== account || e.perBranch),
      purpose: 'other',
      identityPolicies: [
        {
          name: 'kms-use-everywhere',
          policy: {
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*', 'kms:CreateGrant', 'kms:DescribeKey'],
                Resource: '*',
              },
            ],
          },
        },
      ],
    });
  }

  // Service principals named in trust or resource policies; `logs.<region>` is asked about explicitly.
  services.add(`logs.${options.fallbackRegion}.amazonaws.com`);
  services.add('cloudwatch.amazonaws.com');
  for (const service of [...services].sort()) principals.push(servicePrincipal(service));

  return {
    principals,
    resourcePolicies,
    environments,
    accounts,
    unmodelled: [...unmodelled, ...[...assumedKeyPolicies].map((k) => `key policy of ${k} (assumed: the default key policy)`)].sort(),
    region: options.fallbackRegion,
    aliasesByKey,
    environmentTags,
    deployRoles,
  };
}
