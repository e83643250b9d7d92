/**
 * Asks the IAM policy evaluation engine (@cloud-copilot/iam-simulate, AGPL-3.0, a devDependency that never
 * enters the processor image) who can do what to each environment, and follows sts:AssumeRole chains.
 *
 * Each request is evaluated in Discovery mode: context keys the matrix knows (caller, accounts, tags,
 * TLS, the service a request comes through) are given as authoritative; a grant that still depends on an
 * unknown key is reported as conditional, and conditional counts as "can" for the intended-matrix checks.
 */
import { runSimulation, type DiscoveryContextKeyConstraint, type Simulation } from '@cloud-copilot/iam-simulate';
import { AUDITOR_DB_USER, DRILL_DB_USER } from '../../lib/contract';
import { servicePrincipal, type Environment, type Model, type PolicyDocument, type Principal, type VpcEndpoint } from './model';

export type CapabilityGroup =
  'Read PHI' | 'Put records' | 'Run the processor task' | 'Change or delete stacks' | 'Restore drill' | 'Audit chain';

export interface Probe {
  readonly action: string;
  readonly resource: string;
  /** Extra authoritative context keys for this request (e.g. iam:PassedToService). */
  readonly context?: Readonly<Record<string, string | string[]>>;
}

export interface Capability {
  readonly id: string;
  readonly group: CapabilityGroup;
  readonly title: string;
  /** Any allowed probe grants the capability. */
  readonly probes: readonly Probe[];
}

export interface Grant {
  readonly principal: string;
  /** `direct`, or the chain of roles assumed to get there. */
  readonly via: readonly string[];
  /** Conditions the grant still depends on (Discovery mode), as `key op values`. */
  readonly conditions: readonly string[];
}

export interface EnvironmentMatrix {
  readonly environment: Environment;
  readonly capabilities: ReadonlyArray<{ capability: Capability; grants: readonly Grant[] }>;
}

export interface ServiceCheck {
  readonly environment: string;
  readonly description: string;
  readonly principal: string;
  readonly action: string;
  readonly resource: string;
  readonly allowed: boolean;
  readonly detail: string;
}

/** One request through a VPC endpoint, asked of its endpoint policy: the environment's own calls pass, another account's resources do not. */
export interface EndpointCheck {
  readonly environment: string;
  readonly endpoint: string;
  readonly service: string;
  readonly action: string;
  readonly resource: string;
  readonly resourceAccount: string;
  readonly expected: 'allow' | 'deny';
  readonly allowed: boolean;
}

/** Whether any principal of an account other than the environment's can assume one of its roles (the trust policy alone). */
export interface TrustCheck {
  readonly environment: string;
  readonly role: string;
  readonly callerAccount: string;
  readonly allowed: boolean;
}

export interface Matrix {
  readonly model: Model;
  readonly trustChecks: readonly TrustCheck[];
  readonly environments: readonly EnvironmentMatrix[];
  readonly serviceChecks: readonly ServiceCheck[];
  readonly endpointChecks: readonly EndpointCheck[];
  /** Simulations the engine refused (invalid policy or request); listed so nothing is silently skipped. */
  readonly errors: readonly string[];
  readonly simulations: number;
  /** Roles not per-branch by origin that only per-branch principals can assume: they act for branch code too. */
  readonly branchControlled: readonly string[];
}

/** Database users no IAM principal may log in as: RDS PostgreSQL's default master user name and a user nobody created. */
export const OTHER_DATABASE_USERS = ['postgres', 'matrix_probe_other_user'];

/**
 * Decisions by their exact simulation input, shared by every Evaluator in the process: a mutated model
 * re-simulates only the requests whose policies changed (the mutation tests evaluate the app several times).
 */
const decisions = new Map<string, { decision: Decision; error?: string }>();

/** The questions of issue 8 section 4, as concrete requests against one environment's resources. */
export function capabilitiesFor(env: Environment, deployRoleArns: readonly string[]): Capability[] {
  const caps: Capability[] = [];
  const add = (id: string, group: CapabilityGroup, title: string, probes: Probe[]) => {
    if (probes.length > 0) caps.push({ id, group, title, probes });
  };
  const logReads = (groups: Environment['processorLogGroups']): Probe[] =>
    groups.flatMap((g) => [
      { action: 'logs:GetLogEvents', resource: `${g.arn}:log-stream:*` },
      { action: 'logs:FilterLogEvents', resource: g.arn },
    ]);
  if (env.streamArn) {
    add('phi-stream', 'Read PHI', 'kinesis:GetRecords / SubscribeToShard on the stream', [
      { action: 'kinesis:GetRecords', resource: env.streamArn },
      { action: 'kinesis:SubscribeToShard', resource: `${env.streamArn}/consumer/*` },
    ]);
  }
  if (env.streamKeyArn)
    add('phi-stream-key', 'Read PHI', 'kms:Decrypt with the stream key', [{ action: 'kms:Decrypt', resource: env.streamKeyArn }]);
  if (env.databaseKeyArn)
    add('phi-database-key', 'Read PHI', 'kms:Decrypt with the database key', [{ action: 'kms:Decrypt', resource: env.databaseKeyArn }]);
  if (env.secretArn)
    add('phi-secret', 'Read PHI', 'secretsmanager:GetSecretValue on the database secret', [
      { action: 'secretsmanager:GetSecretValue', resource: env.secretArn },
    ]);
  if (env.secretKeyArn)
    add('phi-secret-key', 'Read PHI', "kms:Decrypt with the secret's customer managed key", [
      { action: 'kms:Decrypt', resource: env.secretKeyArn },
    ]);
  if (env.databaseResourceId) {
    const dbuser = (user: string) => `arn:aws:rds-db:${env.region}:${env.account}:dbuser:${env.databaseResourceId}/${user}`;
    add(
      'phi-db-connect',
      'Read PHI',
      `rds-db:connect to the database as the processor's own user (${env.iamDatabaseUsers.join(', ') || 'none found'})`,
      env.iamDatabaseUsers.map((user) => ({ action: 'rds-db:connect', resource: dbuser(user) })),
    );
    // Any other login (the master user, a user a later migration creates): nobody may have IAM access to it.
    add(
      'phi-db-connect-other',
      'Read PHI',
      `rds-db:connect to the database as any other user (${OTHER_DATABASE_USERS.join(', ')})`,
      OTHER_DATABASE_USERS.map((user) => ({ action: 'rds-db:connect', resource: dbuser(user) })),
    );
    // The drill's login may call one function returning counts and timestamps: not PHI, but asked exactly.
    add(
      'drill-db-connect',
      'Restore drill',
      `rds-db:connect to the database as the restore drill's user (${DRILL_DB_USER}: counts only, no PHI)`,
      [{ action: 'rds-db:connect', resource: dbuser(DRILL_DB_USER) }],
    );
  }
  if (env.databaseResourceId) {
    // The audit chain export's login reads audit_event's id and chain columns only: not PHI, but asked exactly.
    add(
      'audit-db-connect',
      'Audit chain',
      `rds-db:connect to the database as the audit chain export's user (${AUDITOR_DB_USER}: chain columns only, no PHI)`,
      [
        {
          action: 'rds-db:connect',
          resource: `arn:aws:rds-db:${env.region}:${env.account}:dbuser:${env.databaseResourceId}/${AUDITOR_DB_USER}`,
        },
      ],
    );
  }
  if (env.readApiArn) {
    // The FHIR read API serves PHI to whoever may invoke its GET methods.
    add('phi-read-api', 'Read PHI', 'execute-api:Invoke GET on the FHIR read API (read PHI through the API)', [
      { action: 'execute-api:Invoke', resource: env.readApiArn },
    ]);
  }
  if (env.databaseResourceId && env.apiDatabaseUsers.length > 0) {
    const dbuser = (user: string) => `arn:aws:rds-db:${env.region}:${env.account}:dbuser:${env.databaseResourceId}/${user}`;
    add(
      'phi-db-connect-api',
      'Read PHI',
      `rds-db:connect to the database as the read API's user (${env.apiDatabaseUsers.join(', ')})`,
      env.apiDatabaseUsers.map((user) => ({ action: 'rds-db:connect', resource: dbuser(user) })),
    );
  }
  if (env.databaseInstanceArn) {
    // A restored copy holds every row (and the master login): restoring is reading PHI.
    add('phi-db-restore', 'Read PHI', 'rds:RestoreDBInstanceToPointInTime from the live database (a non-public copy)', [
      { action: 'rds:RestoreDBInstanceToPointInTime', resource: env.databaseInstanceArn, context: { 'rds:PubliclyAccessible': 'false' } },
    ]);
    add(
      'drill-db-delete',
      'Restore drill',
      'rds:DeleteDBInstance / ModifyDBInstance on the live database (the drill deletes its own copies only)',
      [
        { action: 'rds:DeleteDBInstance', resource: env.databaseInstanceArn },
        { action: 'rds:ModifyDBInstance', resource: env.databaseInstanceArn },
      ],
    );
  }
  add(
    'phi-processor-logs',
    'Read PHI',
    'logs:GetLogEvents / FilterLogEvents on the processor log groups',
    logReads(env.processorLogGroups),
  );
  add('phi-database-logs', 'Read PHI', 'logs:GetLogEvents / FilterLogEvents on the database log groups', logReads(env.databaseLogGroups));
  const phiLogGroups = [...env.processorLogGroups, ...env.databaseLogGroups];
  // Queries and live tails return the events themselves; export and subscription filters copy them elsewhere.
  add(
    'phi-log-query',
    'Read PHI',
    'logs:StartQuery / StartLiveTail on the processor and database log groups',
    phiLogGroups.flatMap((g) => ['logs:StartQuery', 'logs:StartLiveTail'].map((action) => ({ action, resource: g.arn }))),
  );
  add(
    'phi-log-export',
    'Read PHI',
    'logs:CreateExportTask / PutSubscriptionFilter on the processor and database log groups',
    phiLogGroups.flatMap((g) => ['logs:CreateExportTask', 'logs:PutSubscriptionFilter'].map((action) => ({ action, resource: g.arn }))),
  );
  const dataKeys = [env.streamKeyArn, env.databaseKeyArn].filter((k): k is string => k !== undefined);
  // A grant or a re-encryption hands the key's use to someone else; a new key policy lets anyone use it.
  add(
    'phi-key-grant',
    'Read PHI',
    'kms:CreateGrant / ReEncryptFrom on the stream and database keys',
    dataKeys.flatMap((resource) => ['kms:CreateGrant', 'kms:ReEncryptFrom'].map((action) => ({ action, resource }))),
  );
  add(
    'phi-key-policy',
    'Read PHI',
    'kms:PutKeyPolicy on the stream and database keys',
    dataKeys.map((resource) => ({ action: 'kms:PutKeyPolicy', resource })),
  );
  if (env.databaseInstanceArn) {
    const snapshot = (name: string) => `arn:aws:rds:${env.region}:${env.account}:snapshot:${name}`;
    // Snapshots of the live database (automated, manual and AWS Backup's) hold every row: copying, sharing,
    // exporting or restoring one is reading PHI.
    const snapshots = [snapshot('rds:matrix-probe'), snapshot('matrix-probe'), snapshot('awsbackup:job-matrix-probe')];
    add(
      'phi-db-snapshot',
      'Read PHI',
      'rds:CreateDBSnapshot of the live database; CopyDBSnapshot / ModifyDBSnapshotAttribute (sharing) / StartExportTask / RestoreDBInstanceFromDBSnapshot of its snapshots',
      [
        { action: 'rds:CreateDBSnapshot', resource: env.databaseInstanceArn },
        ...snapshots.flatMap((resource) =>
          ['rds:CopyDBSnapshot', 'rds:ModifyDBSnapshotAttribute', 'rds:StartExportTask', 'rds:RestoreDBInstanceFromDBSnapshot'].map(
            (action) => ({
              action,
              resource,
            }),
          ),
        ),
      ],
    );
    const recoveryPoint = `arn:aws:backup:${env.region}:${env.account}:recovery-point:matrix-probe`;
    add('phi-backup-restore', 'Read PHI', 'backup:StartRestoreJob / StartCopyJob of its recovery points', [
      { action: 'backup:StartRestoreJob', resource: recoveryPoint },
      { action: 'backup:StartCopyJob', resource: recoveryPoint },
    ]);
  }
  add(
    'phi-function-code',
    'Read PHI',
    "lambda:UpdateFunctionCode on its functions (new code runs as the function's role)",
    env.functionArns.map((resource) => ({ action: 'lambda:UpdateFunctionCode', resource })),
  );
  if (env.streamArn) {
    add('put-records', 'Put records', 'kinesis:PutRecord / PutRecords on the stream', [
      { action: 'kinesis:PutRecord', resource: env.streamArn },
      { action: 'kinesis:PutRecords', resource: env.streamArn },
    ]);
  }
  // No condition key limits RunTask's overrides: whoever runs these tasks runs any command as their task roles, with their secrets.
  add(
    'run-task',
    'Read PHI',
    'ecs:RunTask with its task definitions (a command override runs any code as their task roles, with their secrets)',
    env.taskDefinitionArns.map((arn): Probe => ({
      action: 'ecs:RunTask',
      resource: arn,
      context: env.clusterArn ? { 'ecs:cluster': env.clusterArn } : undefined,
    })),
  );
  add(
    'pass-roles',
    'Run the processor task',
    'iam:PassRole of its task and execution roles to ECS',
    [...env.taskRoleArns, ...env.executionRoleArns].map((arn) => ({
      action: 'iam:PassRole',
      resource: arn,
      context: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' },
    })),
  );
  add(
    'change-stacks',
    'Change or delete stacks',
    'cloudformation:UpdateStack / DeleteStack / CreateChangeSet / ExecuteChangeSet on its stacks',
    env.stacks.flatMap((s) =>
      ['cloudformation:UpdateStack', 'cloudformation:DeleteStack', 'cloudformation:CreateChangeSet', 'cloudformation:ExecuteChangeSet'].map(
        (action) => ({ action, resource: s.arn }),
      ),
    ),
  );
  add(
    'assume-deploy-role',
    'Change or delete stacks',
    `sts:AssumeRole into a CDK bootstrap deploy role of account ${env.account}`,
    deployRoleArns.map((resource) => ({ action: 'sts:AssumeRole', resource })),
  );
  return caps;
}

function accountOfArn(arn: string): string {
  return arn.split(':')[4] ?? '';
}

/** Finds the resource policy that governs an ARN (exact, or the bucket of an object, or the stream of a consumer). */
function resourcePolicyFor(model: Model, resource: string): PolicyDocument | undefined {
  if (model.resourcePolicies.has(resource)) return model.resourcePolicies.get(resource);
  const bucket = /^(arn:aws:s3:::[^/]+)\//.exec(resource)?.[1];
  if (bucket) return model.resourcePolicies.get(bucket);
  return undefined;
}

function conditionText(expr: unknown): string[] {
  const e = expr as {
    conditionType?: string;
    key?: string;
    op?: string;
    values?: string[];
    conditions?: unknown[];
    operator?: string;
    inverted?: boolean;
  };
  if (!e || e.conditionType === 'always') return [];
  if (e.conditionType === 'condition') return [`${e.inverted ? 'not ' : ''}${e.key} ${e.op} ${(e.values ?? []).join('|')}`];
  if (e.conditionType === 'group') {
    const parts = (e.conditions ?? []).flatMap(conditionText);
    return e.operator === 'or' && parts.length > 1 ? [`(${parts.join(' or ')})`] : parts;
  }
  if (e.conditionType === 'sessionName') return ['role session name constraint'];
  return [];
}

export interface Decision {
  readonly allowed: boolean;
  readonly conditions: string[];
  readonly leaves: Array<{ key: string; op: string; values: string[] }>;
}

function conditionLeaves(expr: unknown): Array<{ key: string; op: string; values: string[] }> {
  const e = expr as { conditionType?: string; key?: string; op?: string; values?: string[]; conditions?: unknown[] };
  if (!e) return [];
  if (e.conditionType === 'condition') return [{ key: e.key ?? '', op: e.op ?? '', values: e.values ?? [] }];
  if (e.conditionType === 'group') return (e.conditions ?? []).flatMap(conditionLeaves);
  return [];
}

/** Compiled wildcard patterns: every request re-checks the actions of every statement (mayGrant). */
const wildcardPatterns = new Map<string, RegExp>();

/** IAM wildcard match (`*`, `?`), as ArnLike/StringLike compare. */
export function wildcardMatch(pattern: string, value: string): boolean {
  let re = wildcardPatterns.get(pattern);
  if (!re) {
    re = new RegExp(
      `^${pattern
        .split('')
        .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
        .join('')}$`,
    );
    wildcardPatterns.set(pattern, re);
  }
  return re.test(value);
}

/** Whether any Allow statement of a policy could match the action (NotAction counts as could). */
function mayGrant(policy: PolicyDocument | undefined, action: string): boolean {
  const wanted = action.toLowerCase();
  return (policy?.Statement ?? []).some(
    (st) =>
      st.Effect === 'Allow' &&
      (st.NotAction !== undefined ||
        (Array.isArray(st.Action) ? st.Action : [st.Action]).some((a) => typeof a === 'string' && wildcardMatch(a.toLowerCase(), wanted))),
  );
}

export class Evaluator {
  private simulations = 0;
  readonly errors: string[] = [];
  private readonly cache = new Map<string, Decision>();

  constructor(private readonly model: Model) {}

  get count(): number {
    return this.simulations;
  }

  /** Evaluates one request as the principal, with its identity policies and the resource's policy. */
  async can(
    principal: Principal,
    probe: Probe,
    extra: { tags?: Record<string, string>; sourceArn?: string; sameAccount?: boolean } = {},
  ): Promise<Decision> {
    const key = `${principal.id}|${probe.action}|${probe.resource}|${JSON.stringify(probe.context ?? {})}|${JSON.stringify(extra)}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    // Cheap pre-filter: no statement anywhere names a matching action, so the engine could only say no.
    const resourcePolicy = resourcePolicyFor(this.model, probe.resource);
    if (!principal.identityPolicies.some((p) => mayGrant(p.policy, probe.action)) && !mayGrant(resourcePolicy, probe.action)) {
      const denied: Decision = { allowed: false, conditions: [], leaves: [] };
      this.cache.set(key, denied);
      return denied;
    }
    const resourceAccount = accountOfArn(probe.resource) || principal.account;
    const context: Record<string, string | string[]> = {
      'aws:SecureTransport': 'true',
      'aws:ResourceAccount': resourceAccount,
      ...(probe.context ?? {}),
    };
    if (principal.kind === 'service') {
      context['aws:SourceAccount'] = resourceAccount;
      if (extra.sourceArn) context['aws:SourceArn'] = extra.sourceArn;
      context['aws:PrincipalServiceName'] = principal.arn;
    } else {
      context['aws:PrincipalArn'] = principal.arn;
      context['aws:PrincipalAccount'] = principal.account;
      if (probe.action.startsWith('kms:')) context['kms:CallerAccount'] = principal.account;
    }
    if (probe.action.startsWith('kms:')) {
      const aliases = this.model.aliasesByKey.get(probe.resource);
      if (aliases) context['kms:ResourceAliases'] = aliases;
    }
    for (const [tag, value] of Object.entries(extra.tags ?? {})) context[`aws:ResourceTag/${tag}`] = value;
    const target = probe.action === 'sts:AssumeRole' ? this.model.principals.find((p) => p.arn === probe.resource) : undefined;
    for (const [tag, value] of Object.entries(target?.tags ?? {})) {
      context[`iam:ResourceTag/${tag}`] = value;
      context[`aws:ResourceTag/${tag}`] = value;
    }
    const constraints: DiscoveryContextKeyConstraint[] = [
      // Encryption context keys are not validated per action by the engine: leave them to Discovery and check the condition values.
      ...Object.keys(context)
        .filter((k) => !k.startsWith('kms:EncryptionContext:'))
        .map((keyName) => ({ keyName, presenceIsKnown: true as const, valueIsKnown: true as const })),
      { keyName: '/^iam:ResourceTag\\/.*$/', presenceIsKnown: true, valueIsKnown: true },
      // The resource's tags are all known: an absent tag is absent.
      { keyName: '/^aws:ResourceTag\\/.*$/', presenceIsKnown: true, valueIsKnown: true },
    ];
    const simulation: Simulation = {
      request: {
        principal: principal.arn,
        action: probe.action,
        // sameAccount: only the identity policies decide (an endpoint policy asked about another account's resource).
        resource: { resource: probe.resource, accountId: extra.sameAccount ? principal.account : resourceAccount },
        contextVariables: context,
      },
      identityPolicies: principal.identityPolicies.filter((p) => Array.isArray(p.policy?.Statement) && p.policy.Statement.length > 0),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy,
      ...(principal.permissionBoundary ? { permissionBoundaryPolicies: [{ name: 'boundary', policy: principal.permissionBoundary }] } : {}),
    };
    const inputKey = JSON.stringify([simulation, constraints]);
    const known = decisions.get(inputKey);
    if (known) {
      if (known.error) this.errors.push(`${principal.id} ${probe.action} ${probe.resource}: ${known.error}`);
      this.cache.set(key, known.decision);
      return known.decision;
    }
    this.simulations++;
    const response = await runSimulation(simulation, { simulationMode: 'Discovery', discoveryContextKeyConstraints: constraints });
    let result: Decision;
    let error: string | undefined;
    if (response.resultType === 'error') {
      error = response.errors.message;
      this.errors.push(`${principal.id} ${probe.action} ${probe.resource}: ${error}`);
      result = { allowed: false, conditions: [], leaves: [] };
    } else if (response.resultType === 'single') {
      const c = response.result.analysis.conditions;
      result = { allowed: response.overallResult === 'Allowed', conditions: conditionText(c), leaves: conditionLeaves(c) };
    } else {
      const allowed = response.results.filter((r) => r.analysis.result === 'Allowed');
      const c = allowed[0]?.analysis.conditions;
      result = { allowed: allowed.length > 0, conditions: conditionText(c), leaves: conditionLeaves(c) };
    }
    this.cache.set(key, result);
    decisions.set(inputKey, { decision: result, error });
    return result;
  }
}

/** Evaluates every capability of every environment for every principal, following assume-role chains. */
export async function evaluateMatrix(model: Model): Promise<Matrix> {
  const evaluator = new Evaluator(model);
  const roles = model.principals.filter((p) => p.kind !== 'service');

  // Who can assume whom: identity policy of the caller and trust policy of the role, cross-account aware.
  const assumable = new Map<string, Principal[]>();
  for (const caller of roles) {
    const targets: Principal[] = [];
    for (const target of roles) {
      if (target === caller) continue;
      const result = await evaluator.can(caller, { action: 'sts:AssumeRole', resource: target.arn });
      if (result.allowed) targets.push(target);
    }
    assumable.set(caller.id, targets);
  }

  const assumers = new Map<string, string[]>();
  for (const [caller, targets] of assumable) for (const t of targets) assumers.set(t.id, [...(assumers.get(t.id) ?? []), caller]);
  const perBranch = new Set(model.principals.filter((p) => p.perBranch).map((p) => p.id));
  const branchControlled = roles
    .filter(
      (r) =>
        !r.perBranch &&
        r.kind === 'role' &&
        (assumers.get(r.id) ?? []).length > 0 &&
        (assumers.get(r.id) ?? []).every((a) => perBranch.has(a)),
    )
    .map((r) => r.id);

  const environments: EnvironmentMatrix[] = [];
  for (const env of model.environments) {
    const tags = model.environmentTags.get(env.suffix) ?? {};
    const capabilities: Array<{ capability: Capability; grants: Grant[] }> = [];
    for (const capability of capabilitiesFor(env, model.deployRoles.get(env.account) ?? [])) {
      const direct = new Map<string, string[]>();
      for (const principal of model.principals) {
        for (const probe of capability.probes) {
          const result = await evaluator.can(principal, probe, { tags });
          if (result.allowed) {
            direct.set(principal.id, result.conditions);
            break;
          }
        }
      }
      // Breadth-first over the assume-role graph: the shortest chain to a principal that can.
      const grants: Grant[] = [];
      for (const principal of model.principals) {
        if (direct.has(principal.id)) {
          grants.push({ principal: principal.id, via: [], conditions: direct.get(principal.id)! });
          continue;
        }
        if (principal.kind === 'service') continue;
        const seen = new Set([principal.id]);
        let frontier: Array<{ id: string; path: string[] }> = [{ id: principal.id, path: [] }];
        let found: Grant | undefined;
        while (frontier.length > 0 && !found) {
          const next: Array<{ id: string; path: string[] }> = [];
          for (const node of frontier) {
            for (const target of assumable.get(node.id) ?? []) {
              if (seen.has(target.id)) continue;
              seen.add(target.id);
              const path = [...node.path, target.id];
              if (direct.has(target.id)) {
                found = { principal: principal.id, via: path, conditions: direct.get(target.id)! };
                break;
              }
              next.push({ id: target.id, path });
            }
            if (found) break;
          }
          frontier = next;
        }
        if (found) grants.push(found);
      }
      capabilities.push({ capability, grants });
    }
    environments.push({ environment: env, capabilities });
  }

  const serviceChecks = await checkServices(model, evaluator);
  const endpointChecks = await checkEndpoints(model, evaluator);
  const trustChecks = await checkTrusts(model, evaluator);
  return {
    model,
    environments,
    serviceChecks,
    endpointChecks,
    trustChecks,
    errors: [...new Set(evaluator.errors)],
    simulations: evaluator.count,
    branchControlled,
  };
}

/** The service principals (and the execution role) that must be able to act, per environment. */
async function checkServices(model: Model, evaluator: Evaluator): Promise<ServiceCheck[]> {
  const checks: ServiceCheck[] = [];
  const service = (name: string): Principal =>
    model.principals.find((p) => p.kind === 'service' && p.arn === name) ?? servicePrincipal(name);
  for (const env of model.environments) {
    const tags = model.environmentTags.get(env.suffix) ?? {};
    const cloudwatch = service('cloudwatch.amazonaws.com');
    for (const topic of env.alarmTopics) {
      const sourceArn = topic.alarmArns[0];
      const publish = await evaluator.can(cloudwatch, { action: 'sns:Publish', resource: topic.arn }, { tags, sourceArn });
      checks.push({
        environment: env.suffix,
        description: 'CloudWatch alarms publish to the alarm topic',
        principal: cloudwatch.id,
        action: 'sns:Publish',
        resource: topic.arn,
        allowed: publish.allowed,
        detail: publish.conditions.join('; '),
      });
      if (topic.keyArn) {
        for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
          const key = await evaluator.can(cloudwatch, { action, resource: topic.keyArn }, { tags, sourceArn });
          checks.push({
            environment: env.suffix,
            description: "CloudWatch alarms use the alarm topic's key",
            principal: cloudwatch.id,
            action,
            resource: topic.keyArn,
            allowed: key.allowed,
            detail: key.conditions.join('; '),
          });
        }
      }
    }
    const logs = service(`logs.${env.region}.amazonaws.com`);
    for (const group of env.allLogGroups.filter((g) => g.keyArn !== '')) {
      for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
        // CloudWatch Logs sends the log group ARN as encryption context (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html).
        const r = await evaluator.can(
          logs,
          { action, resource: group.keyArn, context: { 'kms:EncryptionContext:aws:logs:arn': group.arn } },
          { tags, sourceArn: group.arn },
        );
        // The grant may depend on the encryption context: it must name this log group.
        const contextOk = r.leaves
          .filter((l) => l.key.toLowerCase() === 'kms:encryptioncontext:aws:logs:arn')
          .every((l) => l.values.some((v) => wildcardMatch(v, group.arn)));
        const unknown = r.leaves.filter((l) => l.key.toLowerCase() !== 'kms:encryptioncontext:aws:logs:arn');
        checks.push({
          environment: env.suffix,
          description: `CloudWatch Logs uses the key of ${group.name}`,
          principal: logs.id,
          action,
          resource: group.keyArn,
          allowed: r.allowed && contextOk && unknown.length === 0,
          detail: r.conditions.join('; '),
        });
      }
    }
    // The master secret is read only by the migration task's execution role (the processor logs in with IAM).
    for (const executionRoleArn of env.migrationExecutionRoleArns) {
      const role = model.principals.find((p) => p.arn === executionRoleArn);
      if (!role) continue;
      if (env.secretArn) {
        const r = await evaluator.can(role, { action: 'secretsmanager:GetSecretValue', resource: env.secretArn }, { tags });
        checks.push({
          environment: env.suffix,
          description: 'The migration task execution role reads the database secret',
          principal: role.id,
          action: 'secretsmanager:GetSecretValue',
          resource: env.secretArn,
          allowed: r.allowed,
          detail: r.conditions.join('; '),
        });
      }
      if (env.secretKeyArn) {
        // ECS reads the secret through Secrets Manager, which decrypts on the caller's behalf (kms:ViaService).
        const r = await evaluator.can(
          role,
          {
            action: 'kms:Decrypt',
            resource: env.secretKeyArn,
            context: { 'kms:ViaService': `secretsmanager.${env.region}.amazonaws.com` },
          },
          { tags },
        );
        checks.push({
          environment: env.suffix,
          description: "The migration task execution role decrypts with the secret's key",
          principal: role.id,
          action: 'kms:Decrypt',
          resource: env.secretKeyArn,
          allowed: r.allowed,
          detail: r.conditions.join('; '),
        });
      }
    }
  }
  return checks;
}

/** An account nobody in the app owns: where exfiltrated data would go. */
export const FOREIGN_ACCOUNT = '999999999999';

/**
 * An endpoint policy as the identity policy of a caller in the environment's account: a request passes the endpoint
 * only if the policy allows it. Statements for `*` apply to every caller; one naming principals applies to those ARNs.
 */
function endpointCaller(env: Environment, endpoint: VpcEndpoint): Principal {
  const statements = (endpoint.policy?.Statement ?? [{ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }]).flatMap((st) => {
    const { Principal: principal, ...rest } = st as Record<string, unknown>;
    if (principal === '*' || (principal as { AWS?: unknown } | undefined)?.AWS === '*') return [rest];
    const aws = (principal as { AWS?: unknown } | undefined)?.AWS;
    if (aws === undefined) return [];
    return [{ ...rest, Condition: { ...((rest.Condition as object) ?? {}), ArnLike: { 'aws:PrincipalArn': aws } } }];
  });
  return {
    id: `endpoint policy of ${endpoint.id}`,
    arn: `arn:aws:iam::${env.account}:role/matrix-probe-workload`,
    account: env.account,
    kind: 'role',
    home: env.suffix,
    perBranch: env.perBranch,
    purpose: 'other',
    identityPolicies: [{ name: endpoint.id, policy: { Version: '2012-10-17', Statement: statements } }],
  };
}

/** The requests asked of each endpoint's policy, by service: what the environment needs, and writes to another account. */
function endpointProbes(
  env: Environment,
  service: string,
  qualifier: string,
): Array<{ action: string; resource: string; resourceAccount: string; expected: 'allow' | 'deny' }> {
  const own = (action: string, resource: string) => ({ action, resource, resourceAccount: env.account, expected: 'allow' as const });
  const foreign = (action: string, resource: string) => ({ action, resource, resourceAccount: FOREIGN_ACCOUNT, expected: 'deny' as const });
  const r = env.region;
  const repository = (account: string) => `arn:aws:ecr:${r}:${account}:repository/cdk-${qualifier}-container-assets-${account}-${r}`;
  switch (service) {
    case 'kinesis-streams':
      return [
        ...(env.streamArn ? [own('kinesis:GetRecords', env.streamArn)] : []),
        foreign('kinesis:PutRecord', `arn:aws:kinesis:${r}:${FOREIGN_ACCOUNT}:stream/exfiltration`),
      ];
    case 'logs':
      return [
        ...env.processorLogGroups.map((g) => own('logs:PutLogEvents', `${g.arn}:log-stream:probe`)),
        foreign('logs:PutLogEvents', `arn:aws:logs:${r}:${FOREIGN_ACCOUNT}:log-group:exfiltration:log-stream:probe`),
      ];
    case 'secretsmanager':
      return [
        ...(env.secretArn ? [own('secretsmanager:GetSecretValue', env.secretArn)] : []),
        foreign('secretsmanager:PutSecretValue', `arn:aws:secretsmanager:${r}:${FOREIGN_ACCOUNT}:secret:exfiltration-AbCdEf`),
      ];
    case 'ecr.api':
      return [
        own('ecr:GetAuthorizationToken', '*'),
        own('ecr:BatchGetImage', repository(env.account)),
        foreign('ecr:InitiateLayerUpload', repository(FOREIGN_ACCOUNT)),
      ];
    case 'ecr.dkr':
      return [
        own('ecr:BatchGetImage', repository(env.account)),
        own('ecr:GetDownloadUrlForLayer', repository(env.account)),
        foreign('ecr:PutImage', repository(FOREIGN_ACCOUNT)),
        foreign('ecr:UploadLayerPart', repository(FOREIGN_ACCOUNT)),
      ];
    case 's3':
      return [
        // ECR's image layers: an AWS-owned bucket (https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html).
        {
          action: 's3:GetObject',
          resource: `arn:aws:s3:::prod-${r}-starport-layer-bucket/layer`,
          resourceAccount: '000000000000',
          expected: 'allow',
        },
        foreign('s3:PutObject', 'arn:aws:s3:::exfiltration-bucket/records.json'),
      ];
    case 'rds':
      return [
        ...(env.databaseInstanceArn ? [own('rds:RestoreDBInstanceToPointInTime', env.databaseInstanceArn)] : []),
        foreign('rds:RestoreDBInstanceToPointInTime', `arn:aws:rds:${r}:${FOREIGN_ACCOUNT}:db:exfiltration`),
      ];
    default:
      // An endpoint the matrix has no requests for: intended.ts reports it as not proven.
      return [];
  }
}

async function checkEndpoints(model: Model, evaluator: Evaluator): Promise<EndpointCheck[]> {
  const checks: EndpointCheck[] = [];
  for (const env of model.environments) {
    const qualifier = model.deployRoles.get(env.account)?.[0]?.match(/:role\/cdk-([a-z0-9]+)-deploy-role-/)?.[1] ?? 'hnb659fds';
    for (const endpoint of env.endpoints) {
      const caller = endpointCaller(env, endpoint);
      for (const probe of endpointProbes(env, endpoint.service, qualifier)) {
        const r = await evaluator.can(
          caller,
          { action: probe.action, resource: probe.resource, context: { 'aws:ResourceAccount': probe.resourceAccount } },
          { sameAccount: true },
        );
        checks.push({
          environment: env.suffix,
          endpoint: endpoint.id,
          service: endpoint.service,
          action: probe.action,
          resource: probe.resource,
          resourceAccount: probe.resourceAccount,
          expected: probe.expected,
          allowed: r.allowed,
        });
      }
    }
  }
  return checks;
}

/** The accounts an AWS principal element names (`*` stands for FOREIGN_ACCOUNT: anyone). */
function trustedAccounts(trust: PolicyDocument | undefined): string[] {
  const out = new Set<string>();
  for (const st of trust?.Statement ?? []) {
    if (st.Effect !== 'Allow') continue;
    const principal = st.Principal as string | { AWS?: string | string[] } | undefined;
    const aws = principal === '*' ? ['*'] : typeof principal === 'object' ? ([] as string[]).concat(principal.AWS ?? []) : [];
    for (const a of aws) {
      if (a === '*') out.add(FOREIGN_ACCOUNT);
      const account = /^(\d{12})$/.exec(a)?.[1] ?? /^arn:aws:(?:iam|sts)::(\d{12}):/.exec(a)?.[1];
      if (account) out.add(account);
    }
  }
  return [...out].sort();
}

/**
 * For each role of an environment and each other account its trust policy names: could some principal of that account
 * (a role allowed sts:AssumeRole on everything) assume it? Only the exact tooling step roles may (an aws:PrincipalArn
 * condition, or their ARNs as the principal), so a probe role of that account must be refused.
 */
async function checkTrusts(model: Model, evaluator: Evaluator): Promise<TrustCheck[]> {
  const checks: TrustCheck[] = [];
  for (const env of model.environments) {
    for (const role of model.principals.filter((p) => p.kind === 'role' && p.home === env.suffix && p.account === env.account)) {
      for (const callerAccount of trustedAccounts(role.trustPolicy).filter((a) => a !== env.account)) {
        const caller: Principal = {
          id: `a principal of account ${callerAccount}`,
          arn: `arn:aws:iam::${callerAccount}:role/matrix-probe-any-role`,
          account: callerAccount,
          kind: 'role',
          home: `account ${callerAccount}`,
          perBranch: false,
          purpose: 'other',
          identityPolicies: [
            {
              name: 'assume-anything',
              policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }] },
            },
          ],
        };
        const r = await evaluator.can(caller, { action: 'sts:AssumeRole', resource: role.arn });
        checks.push({ environment: env.suffix, role: role.id, callerAccount, allowed: r.allowed });
      }
    }
  }
  return checks;
}
