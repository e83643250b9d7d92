/**
 * The intended access matrix by identity (issue 20): every principal that may hold a PHI-reaching capability of an
 * environment, named by its role name or, for a role whose name CloudFormation generates, by its construct path,
 * with what it may do there. Any other principal that reaches PHI is a violation, whatever its trust policy looks
 * like. A new permitted principal is one entry here.
 *
 * Patterns: `*` matches any characters; `{project}`, `{suffix}`, `{account}` and `{region}` stand for the app's
 * project, the environment's suffix, account and region.
 */
export interface PermittedPrincipal {
  /** The role's name (a stage role's RoleName, a bootstrap role's name). */
  readonly role?: string;
  /** `<stack>/<logical id>` for a role with a generated name (its logical id ends in CDK's hash: end the pattern in `*`). */
  readonly path?: string;
  /** Capability ids (scripts/access-matrix/evaluate.ts) it may hold in its own environment. */
  readonly may: readonly string[];
  /** Only in environments of these profiles. @default every profile */
  readonly profiles?: readonly string[];
  /** Only through a service on the caller's behalf: every condition of the grant must match. @default unconditionally */
  readonly onlyIf?: RegExp;
  /** Principals (in any account; the trust check keeps them to the tooling step roles) that may hold these by assuming it. */
  readonly assumedBy?: ReadonlyArray<{ readonly role: string; readonly perBranchOnly?: boolean }>;
  readonly why: string;
}

/** A grant that depends only on a data key's use through RDS or AWS Backup (no plaintext reaches the caller). */
const SERVICE_MEDIATED =
  '(?:kms:ViaService String(?:Equals|Like) [a-z0-9.*|-]+|kms:EncryptionContextKeys ForAnyValue:StringEquals [A-Za-z0-9:_-]+|not kms:ViaService Null false|kms:GrantIsForAWSResource Bool true)';
const THROUGH_STORAGE = new RegExp(`^(?:${SERVICE_MEDIATED}|\\(${SERVICE_MEDIATED}(?: or ${SERVICE_MEDIATED})*\\))$`);

export const PERMITTED: readonly PermittedPrincipal[] = [
  {
    role: '{project}-processor-task-{suffix}',
    may: ['phi-stream', 'phi-stream-key', 'phi-db-connect'],
    why: 'the processor (and the verify task, which runs its task definition) reads the stream and logs in as its own database user',
  },
  {
    role: '{project}-producer-{suffix}',
    may: ['put-records'],
    why: "the environment's producer role (producerPrincipals in cdk.json assume it) puts records on its stream and reads nothing",
  },
  {
    role: '{project}-reader-{suffix}',
    may: ['phi-read-api'],
    why: "the read API's reader role (the readers in cdk.json assume it) invokes the API's GET methods, which audit every read",
  },
  {
    role: '{project}-reader-{suffix}',
    may: ['phi-read-api'],
    profiles: ['development'],
    assumedBy: [{ role: '{project}-post-deploy-{suffix}' }],
    why: 'the integration tests of a development environment (synthetic data) read back what they wrote through the API, as the reader role',
  },
  {
    path: '{project}-compute-{suffix}/ReadApiFunctionServiceRole*',
    may: ['phi-db-connect-api'],
    why: "the read API's function (only Lambda assumes its role) logs in as fhir_api: SELECT on current and history, INSERT of its audit events",
  },
  {
    path: '{project}-compute-{suffix}/AuditChainExportTaskRole*',
    may: ['audit-db-connect'],
    why: 'the audit chain export logs in as fhir_auditor, which reads the id and chain columns of audit_event only (no PHI)',
  },
  {
    path: '{project}-compute-{suffix}/AuditChainExportTaskEventsRole*',
    may: ['run-task'],
    why: 'the hourly schedule runs the audit chain export task',
  },
  {
    role: '{project}-migrate-exec-{suffix}',
    may: ['phi-secret', 'phi-secret-key'],
    why: "the migration task's execution role injects the master secret, the only use of it",
  },
  {
    role: '{project}-db-rotation-{suffix}',
    may: ['phi-secret', 'phi-secret-key'],
    why: "the master secret's rotation function (only Lambda assumes its role, only Secrets Manager invokes it) reads the secret to log in as the master user and writes its next password: a path to all PHI, like the migration task's",
  },
  {
    role: '{project}-restore-drill-task-{suffix}',
    may: ['phi-db-restore'],
    why: 'the restore drill restores the live database into drill-named copies it deletes',
  },
  {
    role: '{project}-restore-drill-task-{suffix}',
    may: ['phi-key-grant'],
    onlyIf: THROUGH_STORAGE,
    why: 'RDS creates the restored copy under the database key on its behalf (grants for AWS resources, through RDS only)',
  },
  {
    role: '{project}-post-deploy-{suffix}',
    may: ['phi-processor-logs', 'run-task', 'put-records'],
    profiles: ['development'],
    assumedBy: [{ role: '{project}-post-deploy-step-{suffix}' }, { role: '{project}-preview-integ-test', perBranchOnly: true }],
    why: "the integration tests of a development environment (synthetic data) read the processor's log and run its one-off tasks",
  },
  {
    path: '{project}-compute-{suffix}/MigrationRunServiceRole*',
    may: ['run-task'],
    why: 'the deploy hook runs the migration task before the processor starts',
  },
  {
    path: '{project}-compute-{suffix}/RestoreDrillTaskEventsRole*',
    may: ['run-task'],
    why: 'the schedule runs the restore drill task',
  },
  {
    path: '{project}-data-{suffix}/BackupPlanDatabaseRole*',
    may: ['phi-db-snapshot', 'drill-db-delete'],
    why: "AWS Backup's service role (only backup.amazonaws.com assumes it): AWSBackupServiceRolePolicyForBackup snapshots, copies and modifies RDS instances",
  },
  {
    path: '{project}-data-{suffix}/BackupPlanDatabaseRole*',
    may: ['phi-database-key', 'phi-key-grant'],
    onlyIf: THROUGH_STORAGE,
    why: "AWS Backup's service role uses the database key through RDS and AWS Backup only",
  },
  {
    role: 'cdk-*-cfn-exec-role-{account}-{region}',
    may: ['phi-secret', 'phi-secret-key'],
    why: "CloudFormation resolves the master password's dynamic reference with its execution role (only CloudFormation assumes it)",
  },
  {
    role: 'cdk-*-cfn-exec-role-{account}-{region}',
    may: ['phi-stream-key', 'phi-database-key', 'phi-key-grant'],
    onlyIf: THROUGH_STORAGE,
    why: 'CloudFormation creates the encrypted instance and vault: RDS and AWS Backup use the data keys on its behalf (kms:ViaService only)',
  },
  {
    role: 'cdk-*-cfn-exec-role-{account}-{region}',
    may: ['phi-key-policy', 'phi-function-code', 'phi-db-snapshot'],
    why: 'CloudFormation deploys the key policies and the functions of the stacks, and takes the final snapshot of a database it deletes (copying, sharing, exporting and restoring snapshots stay denied to it: NEVER_NEEDED)',
  },
];

function matches(pattern: string, value: string, vars: Readonly<Record<string, string>>): boolean {
  const concrete = pattern.replace(/\{(\w+)\}/g, (whole, name: string) => vars[name] ?? whole);
  const re = new RegExp(
    `^${concrete
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(value);
}

export interface EnvironmentVars {
  readonly project: string;
  readonly suffix: string;
  readonly account: string;
  readonly region: string;
  readonly profile: string;
}

/** The entries that name this principal (by role name or construct path) in this environment. */
export function entriesFor(
  principal: { id: string; roleName?: string; account: string },
  env: EnvironmentVars,
  table: readonly PermittedPrincipal[] = PERMITTED,
): PermittedPrincipal[] {
  const vars = { project: env.project, suffix: env.suffix, account: env.account, region: env.region };
  return table.filter(
    (e) =>
      principal.account === env.account &&
      (!e.profiles || e.profiles.includes(env.profile)) &&
      ((e.role !== undefined && principal.roleName !== undefined && matches(e.role, principal.roleName, vars)) ||
        (e.path !== undefined && matches(e.path, principal.id, vars))),
  );
}

/** Whether `assumer` (by role name) is one an entry names as the step that assumes its role. */
export function isPermittedAssumer(
  entry: PermittedPrincipal,
  assumer: { roleName?: string },
  env: EnvironmentVars & { perBranch: boolean },
): boolean {
  const vars = { project: env.project, suffix: env.suffix, account: env.account, region: env.region };
  return (entry.assumedBy ?? []).some(
    (a) => (!a.perBranchOnly || env.perBranch) && assumer.roleName !== undefined && matches(a.role, assumer.roleName, vars),
  );
}
