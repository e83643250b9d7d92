/**
 * The intended access matrix of issue 8, evaluated with an IAM policy engine over the synthesized app.
 * One synth (delivery app + one per-branch environment) is shared by every assertion; the mutation tests
 * change the loaded templates in memory to prove the checks can fail.
 */
import { spawnSync } from 'child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { main, USAGE } from '../../scripts/access-matrix';
import { UsageError } from '../../scripts/shared/cli';
import { evaluateMatrix, LoadedStack, Matrix, modelOf, PLACEHOLDER_SECRET_KEY_ID, synthAll } from '../../scripts/access-matrix/index';
import { permittedPhiReaders, violations } from '../../scripts/access-matrix/intended';
import { phiReaders } from '../../scripts/access-matrix/summary';
import { renderMarkdown } from '../../scripts/access-matrix/markdown';
import { TS_HOOK } from '../../scripts/shared/child';

// ACCESS_MATRIX_ROOT lets a reviewer evaluate another checkout (e.g. a `git archive` of a commit) with these tests.
const root = process.env.ACCESS_MATRIX_ROOT ?? join(__dirname, '..', '..');

type Statement = { Sid?: string; Effect?: string; Action?: unknown; Resource?: unknown; Principal?: unknown; Condition?: unknown };
type Doc = { Statement: Statement[] };

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function actions(statement: Statement): string[] {
  return (Array.isArray(statement.Action) ? statement.Action : [statement.Action]).filter((a): a is string => typeof a === 'string');
}

/**
 * Every identity policy document of the roles whose logical id starts with `rolePrefix`, in the stacks
 * `stackFilter` selects: AWS::IAM::Policy resources attached to them and their inline policies.
 */
function roleDocuments(stacks: LoadedStack[], stackFilter: (s: LoadedStack) => boolean, rolePrefix: string): Doc[] {
  const docs: Doc[] = [];
  for (const stack of stacks.filter(stackFilter)) {
    for (const [logicalId, resource] of Object.entries(stack.template.Resources ?? {})) {
      const p = resource.Properties ?? {};
      if (
        resource.Type === 'AWS::IAM::Policy' &&
        (p.Roles as Array<{ Ref?: string }>).some((r) => typeof r.Ref === 'string' && r.Ref.startsWith(rolePrefix))
      )
        docs.push(p.PolicyDocument as Doc);
      if (resource.Type === 'AWS::IAM::Role' && logicalId.startsWith(rolePrefix))
        docs.push(...((p.Policies ?? []) as Array<{ PolicyDocument: Doc }>).map((i) => i.PolicyDocument));
    }
  }
  return docs;
}

describe('access matrix (npm run access-matrix)', () => {
  let stacks: LoadedStack[];
  let matrix: Matrix;

  beforeAll(async () => {
    stacks = await synthAll(root);
    matrix = await evaluateMatrix(modelOf(root, stacks));
    // A hang guard, not a speed check: two synth processes share 2 cores with the other Jest worker.
  }, 1_200_000);

  test('evaluates the long-lived dev and prod environments and one per-branch environment', () => {
    expect(
      matrix.environments
        .filter((e) => !e.environment.perBranch)
        .map((e) => e.environment.suffix)
        .sort(),
    ).toEqual(['dev', 'prod']);
    expect(matrix.environments.filter((e) => e.environment.perBranch).map((e) => e.environment.suffix)).toEqual([
      expect.stringMatching(/(^|-)x$/),
    ]);
    // Every environment is asked every question: a missing resource would silently shrink the proof.
    for (const { environment, capabilities } of matrix.environments) {
      expect([environment.suffix, capabilities.map((c) => c.capability.id)]).toEqual([
        environment.suffix,
        expect.arrayContaining([
          'phi-stream',
          'phi-stream-key',
          'phi-database-key',
          'phi-secret',
          'phi-db-connect',
          'phi-processor-logs',
          'phi-database-logs',
          'put-records',
          'run-task',
          'pass-roles',
          'change-stacks',
          'assume-deploy-role',
        ]),
      ]);
    }
    expect(matrix.errors).toEqual([]);
  });

  /** The CloudFormation execution roles of an environment's account: the default bootstrap's, and in the sandbox the per-branch one's. */
  const cfnExecRoles = (account: string, region: string) =>
    (account === '444444444444' ? ['branches', 'hnb659fds'] : ['hnb659fds']).map((q) => `cdk-${q}-cfn-exec-role-${account}-${region}`);

  test("the processor reads its own stream and logs in as its own database user; only the migration execution role and the rotation role read the master secret and its key (and CloudFormation's execution role, resolving an existing one; a preview's is RDS's own)", () => {
    for (const { environment, capabilities } of matrix.environments) {
      const compute = environment.stacks.find((s) => s.name.includes('compute'))!.name;
      const who = (id: string) =>
        capabilities
          .find((c) => c.capability.id === id)!
          .grants.map((g) => `${g.principal}${g.via.length > 0 ? ' via ' + g.via.join(',') : ''}`);
      expect([environment.suffix, who('phi-stream')]).toEqual([
        environment.suffix,
        expect.arrayContaining([`${compute}/ProcessorTaskRoleDD380273`]),
      ]);
      expect([environment.suffix, who('phi-db-connect')]).toEqual([environment.suffix, [`${compute}/ProcessorTaskRoleDD380273`]]);
      expect([environment.suffix, who('phi-db-connect-other')]).toEqual([environment.suffix, []]);
      if (environment.perBranch) {
        // A preview's secret is RDS's own (rds!db-..., aws/secretsmanager): only the migration task reads it; no
        // template resolves it, so CloudFormation's execution role cannot.
        expect(environment.secretManagedByRds).toBe(true);
        expect(environment.secretArn).toMatch(/:secret:rds!db-[0-9a-f-]{36}-AbCdEf$/);
        expect([environment.suffix, who('phi-secret')]).toEqual([environment.suffix, [`${compute}/MigrationExecutionRole1547E116`]]);
        expect(capabilities.some((c) => c.capability.id === 'phi-secret-key')).toBe(false);
        continue;
      }
      // Every long-lived environment here rotates its existing secret with its rotation function.
      const secretReaders = [
        `${compute}/MigrationExecutionRole1547E116`,
        `${compute}/SecretRotationRoleFFFE6C68`,
        ...cfnExecRoles(environment.account, environment.region),
      ].sort();
      expect([environment.suffix, who('phi-secret').sort(), who('phi-secret-key').sort()]).toEqual([
        environment.suffix,
        secretReaders,
        secretReaders,
      ]);
      // The CMK path is the one proven (a placeholder key where cdk.json names none).
      expect(environment.secretKeyArn).toMatch(new RegExp(`^arn:aws:kms:[a-z0-9-]+:${environment.account}:key/`));
    }
    expect(matrix.environments.map((e) => e.environment.perBranch)).toEqual([false, false, true]);
    expect(matrix.environments.map((e) => e.environment.iamDatabaseUsers)).toEqual([
      ['fhir_processor'],
      ['fhir_processor'],
      ['fhir_processor'],
    ]);
  });

  test("the restore drill: only its task role restores prod and logs in as fhir_drill; nobody but CloudFormation's execution role (and AWS Backup's role, by AWS's managed policy) deletes or modifies a live database; no drill outside prod", () => {
    for (const { environment, capabilities } of matrix.environments) {
      const who = (id: string) =>
        capabilities
          .find((c) => c.capability.id === id)!
          .grants.map((g) => `${g.principal}${g.via.length > 0 ? ' via ' + g.via.join(',') : ''}`);
      const drill = environment.suffix === 'prod' ? ['hipaa-fhir-compute-prod/RestoreDrillTaskRole1D1426BA'] : [];
      // Where AWS Backup is on (prod), its service role holds AWSBackupServiceRolePolicyForBackup's rds:ModifyDBInstance on db:*.
      const backup = environment.suffix === 'prod' ? ['hipaa-fhir-data-prod/BackupPlanDatabaseRoleA1C316D3'] : [];
      expect([environment.suffix, who('phi-db-restore'), who('drill-db-connect'), who('drill-db-delete').sort()]).toEqual([
        environment.suffix,
        drill,
        drill,
        [...cfnExecRoles(environment.account, environment.region), ...backup].sort(),
      ]);
    }
  });

  test('matches the intended matrix: PHI only to own workload and post-deploy roles, nothing per-branch reaches dev or prod, services can act', () => {
    expect(violations(matrix)).toEqual([]);
  });

  test('put records: only the producer role (and the post-deploy role where the integration suite writes); the producer reads nothing', () => {
    const putters = (suffix: string) =>
      matrix.environments
        .find((e) => e.environment.suffix === suffix)!
        .capabilities.find((c) => c.capability.id === 'put-records')!
        .grants.map((g) => `${g.principal}${g.via.length > 0 ? ' via ' + g.via.join(',') : ''}`)
        .sort();
    expect(putters('prod')).toEqual(['hipaa-fhir-data-prod/ProducerRoleBBAD4ABE']);
    expect(putters('dev')).toEqual([
      'hipaa-fhir-compute-dev/PostDeployRole8C3A7137',
      'hipaa-fhir-data-dev/ProducerRoleBBAD4ABE',
      'hipaa-fhir-pipeline/PostDeployStepRoledev16424E50 via hipaa-fhir-compute-dev/PostDeployRole8C3A7137',
    ]);
    for (const { environment, capabilities } of matrix.environments) {
      const reads = capabilities
        .filter(
          (c) =>
            c.capability.group === 'Read PHI' &&
            c.grants.some((g) => /ProducerRole/.test(g.principal) || g.via.some((v) => /ProducerRole/.test(v))),
        )
        .map((c) => c.capability.id);
      expect([environment.suffix, reads]).toEqual([environment.suffix, []]);
    }
  });

  test("(a) widening put records to prod's processor task role, or giving the producer role GetRecords, is caught", async () => {
    const mutated = clone(stacks);
    const prod = (s: LoadedStack) => s.tags.EnvironmentSuffix === 'prod';
    const [processorDoc] = roleDocuments(mutated, prod, 'ProcessorTaskRole');
    const streamArn = processorDoc.Statement.find((st) => actions(st).includes('kinesis:GetRecords'))!.Resource;
    processorDoc.Statement.push({ Effect: 'Allow', Action: 'kinesis:PutRecords', Resource: streamArn });
    const [producerDoc] = roleDocuments(mutated, prod, 'ProducerRole');
    producerDoc.Statement.push({ Effect: 'Allow', Action: ['kinesis:GetRecords', 'kinesis:GetShardIterator'], Resource: streamArn });
    const found = violations(await evaluateMatrix(modelOf(root, mutated)));
    expect(found).toEqual(
      expect.arrayContaining([
        'prod: put-records: hipaa-fhir-compute-prod/ProcessorTaskRoleDD380273 can, but only the producer role (and the post-deploy role of the integration suite) may put records',
        'prod: phi-stream: hipaa-fhir-data-prod/ProducerRoleBBAD4ABE can, but the intended matrix (permitted.ts) names no such principal for it',
      ]),
    );
    expect(found.filter((v) => !v.startsWith('prod: '))).toEqual([]);
  }, 60_000);

  test("(r) the rotation role's statement on the master secret, given to prod's processor execution role, is caught: permitted.ts names the role, not the statement", async () => {
    const mutated = clone(stacks);
    const prod = (s: LoadedStack) => s.tags.EnvironmentSuffix === 'prod';
    const rotate = roleDocuments(mutated, prod, 'SecretRotationRole')
      .flatMap((d) => d.Statement)
      .find((st) => st.Sid === 'RotateTheMasterSecret')!;
    expect(actions(rotate)).toEqual(expect.arrayContaining(['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue']));
    const [executionDoc] = roleDocuments(mutated, prod, 'ProcessorExecutionRole');
    executionDoc.Statement.push(clone(rotate));
    const found = violations(await evaluateMatrix(modelOf(root, mutated)));
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^prod: phi-secret: hipaa-fhir-compute-prod\/ProcessorExecutionRole\w+ can, but the intended matrix \(permitted.ts\) names no such principal for it$/,
        ),
      ]),
    );
    expect(found.filter((v) => !v.startsWith('prod: '))).toEqual([]);
  }, 60_000);

  test("a preview's processor task role given its RDS-managed master secret (secretsmanager:GetSecretValue on rds!db-*) is caught", async () => {
    const mutated = clone(stacks);
    const preview = (s: LoadedStack) => s.tags.EnvironmentSuffix === 'br-x';
    const [processorDoc] = roleDocuments(mutated, preview, 'ProcessorTaskRole');
    processorDoc.Statement.push({
      Effect: 'Allow',
      Action: 'secretsmanager:GetSecretValue',
      Resource: 'arn:aws:secretsmanager:eu-west-2:444444444444:secret:rds!db-*',
    });
    const found = violations(await evaluateMatrix(modelOf(root, mutated)));
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^br-x: phi-secret: hipaa-fhir-compute-br-x\/ProcessorTaskRole\w+ can, but only the migration task's execution role reads the master secret/,
        ),
      ]),
    );
    expect(found.filter((v) => !/^br-x: phi-secret: hipaa-fhir-compute-br-x\/ProcessorTaskRole\w+ can, but /.test(v))).toEqual([]);
  }, 60_000);

  test('(c/e) a per-branch pipeline role whose sts:AssumeRole resources become "*" is caught reaching prod', async () => {
    const mutated = clone(stacks);
    let changed = 0;
    for (const stack of mutated.filter((s) => s.origin === 'delivery' && !s.tags.EnvironmentSuffix && /-previews$/.test(s.stackName))) {
      for (const resource of Object.values(stack.template.Resources ?? {})) {
        if (resource.Type !== 'AWS::IAM::Policy') continue;
        for (const statement of (resource.Properties!.PolicyDocument as Doc).Statement) {
          if (actions(statement).includes('sts:AssumeRole')) {
            statement.Resource = '*';
            changed++;
          }
        }
      }
    }
    expect(changed).toBeGreaterThan(0);
    const found = violations(await evaluateMatrix(modelOf(root, mutated)));
    // Each per-branch build (operate: deploy, destroy and sweep; integration test) is caught reaching prod on its own.
    for (const build of ['OperateProject', 'IntegrationTestProject']) {
      expect([
        build,
        found.some((v) =>
          new RegExp(
            `^prod: change-stacks: per-branch principal hipaa-fhir-previews/${build}Role\\w+ .*reaches a long-lived environment$`,
          ).test(v),
        ),
      ]).toEqual([build, true]);
    }
  }, 300_000);

  test('(c) the per-branch integration build\'s post-deploy role pattern widened to "*" is caught reaching prod', async () => {
    const mutated = clone(stacks);
    let changed = 0;
    for (const doc of roleDocuments(
      mutated,
      (s) => s.origin === 'delivery' && /-previews$/.test(s.stackName),
      'IntegrationTestProjectRole',
    )) {
      for (const statement of doc.Statement.filter((st) => st.Sid === 'AssumePreviewPostDeployRoles')) {
        expect(statement.Resource).toMatch(/:role\/hipaa-fhir-post-deploy-br-\*$/);
        statement.Resource = '*';
        changed++;
      }
    }
    expect(changed).toBe(1);
    const found = violations(await evaluateMatrix(modelOf(root, mutated)));
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^prod: change-stacks: per-branch principal hipaa-fhir-previews\/IntegrationTestProjectRole\w+ \(via cdk-hnb659fds-deploy-role-333333333333-[a-z0-9-]+\) reaches a long-lived environment$/,
        ),
      ]),
    );
  }, 300_000);

  test('(e) the per-branch operate (deploy) build allowed sts:AssumeRole on arn:aws:iam::*:role/cdk-* is caught changing prod stacks', async () => {
    const mutated = clone(stacks);
    let changed = 0;
    for (const doc of roleDocuments(mutated, (s) => s.origin === 'delivery' && /-previews$/.test(s.stackName), 'OperateProjectRole')) {
      for (const statement of doc.Statement.filter((st) => st.Sid === 'DeployThroughSandboxBootstrapRoles')) {
        statement.Resource = 'arn:aws:iam::*:role/cdk-*';
        changed++;
      }
    }
    expect(changed).toBe(1);
    const found = violations(await evaluateMatrix(modelOf(root, mutated)));
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^prod: change-stacks: per-branch principal hipaa-fhir-previews\/OperateProjectRole\w+ \(via cdk-hnb659fds-deploy-role-333333333333-[a-z0-9-]+\) reaches a long-lived environment$/,
        ),
        expect.stringMatching(
          /^prod: assume-deploy-role: per-branch principal hipaa-fhir-previews\/OperateProjectRole\w+ reaches a long-lived environment$/,
        ),
      ]),
    );
  }, 300_000);

  test("(b) removing kms:Decrypt on the secret's key from the prod migration execution role is caught", async () => {
    const mutated = clone(stacks);
    let removed = 0;
    for (const doc of roleDocuments(mutated, (s) => s.tags.EnvironmentSuffix === 'prod', 'MigrationExecutionRole')) {
      const kept = doc.Statement.filter(
        (st) => !(actions(st).includes('kms:Decrypt') && JSON.stringify(st.Resource).includes(PLACEHOLDER_SECRET_KEY_ID)),
      );
      removed += doc.Statement.length - kept.length;
      doc.Statement = kept;
    }
    expect(removed).toBe(1);
    const found = violations(await evaluateMatrix(modelOf(root, mutated)));
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^prod: The migration task execution role decrypts with the secret's key: hipaa-fhir-compute-prod\/MigrationExecutionRole\w+ cannot kms:Decrypt on arn:aws:kms:/,
        ),
        expect.stringMatching(/^prod: phi-secret-key: hipaa-fhir-compute-prod\/MigrationExecutionRole\w+ cannot, but /),
      ]),
    );
    expect(found.filter((v) => !v.startsWith('prod: '))).toEqual([]);
  }, 300_000);

  test("(d) the prod processor's rds-db:connect widened to dbuser:*/* changes the PHI rows and is caught", async () => {
    const mutated = clone(stacks);
    let changed = 0;
    for (const doc of roleDocuments(mutated, (s) => s.tags.EnvironmentSuffix === 'prod', 'ProcessorTaskRole')) {
      for (const statement of doc.Statement.filter((st) => actions(st).includes('rds-db:connect'))) {
        expect(JSON.stringify(statement.Resource)).toContain('/fhir_processor');
        statement.Resource = {
          'Fn::Join': [
            '',
            ['arn:', { Ref: 'AWS::Partition' }, ':rds-db:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':dbuser:*/*'],
          ],
        };
        changed++;
      }
    }
    expect(changed).toBe(1);
    const after = await evaluateMatrix(modelOf(root, mutated));
    const row = (m: Matrix) =>
      m.environments
        .find((e) => e.environment.suffix === 'prod')!
        .capabilities.find((c) => c.capability.id === 'phi-db-connect-other')!
        .grants.map((g) => g.principal);
    expect(row(matrix)).toEqual([]);
    expect(row(after)).toEqual(['hipaa-fhir-compute-prod/ProcessorTaskRoleDD380273']);
    expect(violations(after)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^prod: phi-db-connect-other: hipaa-fhir-compute-prod\/ProcessorTaskRoleDD380273 can, but no IAM principal logs in as any other database user$/,
        ),
      ]),
    );
  }, 300_000);

  test('read PHI through the API: only the reader role (and who assumes it) in dev, nobody in prod; a widened grant is caught', async () => {
    const row = (m: Matrix, suffix: string) =>
      m.environments
        .find((e) => e.environment.suffix === suffix)!
        .capabilities.find((c) => c.capability.id === 'phi-read-api')!
        .grants.map((g) => (g.via.length > 0 ? g.via[g.via.length - 1] : g.principal));
    expect([...new Set(row(matrix, 'dev'))]).toEqual(['hipaa-fhir-compute-dev/ReadApiReaderRole533F7B97']);
    expect(row(matrix, 'prod')).toEqual([]);
    // The prod processor's task role given execute-api:Invoke on every API of its account.
    const mutated = clone(stacks);
    let changed = 0;
    for (const doc of roleDocuments(mutated, (s) => s.tags.EnvironmentSuffix === 'prod', 'ProcessorTaskRole')) {
      doc.Statement.push({ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: '*' });
      changed++;
    }
    expect(changed).toBe(1);
    const after = await evaluateMatrix(modelOf(root, mutated));
    expect(row(after, 'prod')).toEqual(['hipaa-fhir-compute-prod/ProcessorTaskRoleDD380273']);
    expect(violations(after)).toEqual(
      expect.arrayContaining([
        'prod: phi-read-api: hipaa-fhir-compute-prod/ProcessorTaskRoleDD380273 can, but only the reader role reads PHI through the API',
      ]),
    );
  }, 60_000);

  test("(d) the prod restore drill's rds-db:connect widened from dbuser:*/fhir_drill to fhir_processor, or to any user, is caught", async () => {
    const widen = async (user: string) => {
      const mutated = clone(stacks);
      let changed = 0;
      for (const doc of roleDocuments(mutated, (s) => s.tags.EnvironmentSuffix === 'prod', 'RestoreDrillTaskRole')) {
        for (const statement of doc.Statement.filter((st) => actions(st).includes('rds-db:connect'))) {
          expect(JSON.stringify(statement.Resource)).toContain(':dbuser:*/fhir_drill"');
          statement.Resource = {
            'Fn::Join': [
              '',
              ['arn:', { Ref: 'AWS::Partition' }, ':rds-db:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:dbuser:*/${user}`],
            ],
          };
          changed++;
        }
      }
      expect(changed).toBe(1);
      return violations(await evaluateMatrix(modelOf(root, mutated)));
    };
    const asProcessor = await widen('fhir_processor');
    expect(asProcessor).toEqual([
      expect.stringMatching(
        /^prod: phi-db-connect: hipaa-fhir-compute-prod\/RestoreDrillTaskRole\w+ can, but the intended matrix \(permitted\.ts\) names no such principal for it$/,
      ),
      expect.stringMatching(
        /^prod: phi-db-connect: hipaa-fhir-compute-prod\/RestoreDrillTaskRole\w+ can, but only the processor's task role logs in as the processor user$/,
      ),
      expect.stringMatching(
        /^prod: drill-db-connect: hipaa-fhir-compute-prod\/RestoreDrillTaskRole\w+ cannot, but only the restore drill's task role logs in as the drill user$/,
      ),
    ]);
    const asAnyone = await widen('*');
    expect(asAnyone).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^prod: phi-db-connect: hipaa-fhir-compute-prod\/RestoreDrillTaskRole\w+ can, but only the processor's task role logs in as the processor user$/,
        ),
        expect.stringMatching(
          /^prod: phi-db-connect-other: hipaa-fhir-compute-prod\/RestoreDrillTaskRole\w+ can, but no IAM principal logs in as any other database user$/,
        ),
      ]),
    );
    expect(asAnyone.filter((v) => !v.startsWith('prod: '))).toEqual([]);
  }, 300_000);

  test("(d) the prod restore drill's delete widened from its drill-named instances to db:* is caught reaching the live database", async () => {
    const mutated = clone(stacks);
    let changed = 0;
    for (const doc of roleDocuments(mutated, (s) => s.tags.EnvironmentSuffix === 'prod', 'RestoreDrillTaskRole')) {
      for (const statement of doc.Statement.filter((st) => actions(st).includes('rds:DeleteDBInstance'))) {
        expect(JSON.stringify(statement.Resource)).toContain(':db:hipaa-fhir-drill-prod-??????????????');
        statement.Resource = {
          'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':rds:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':db:*']],
        };
        changed++;
      }
    }
    expect(changed).toBe(1);
    const found = violations(await evaluateMatrix(modelOf(root, mutated)));
    expect(found).toEqual([
      expect.stringMatching(
        /^prod: drill-db-delete: hipaa-fhir-compute-prod\/RestoreDrillTaskRole\w+ can, but no IAM principal but CloudFormation's execution role deletes or modifies the live database/,
      ),
    ]);
  }, 300_000);

  test('(c) a per-branch environment role whose resources become "*" is caught in a long-lived environment of the same account, and only there', async () => {
    // cdk.json keeps per-branch environments in an account of their own; to prove the check can fail,
    // dev is placed in the sandbox account here (the layout the synth refuses only for production accounts).
    const shared = clone(stacks) as Array<LoadedStack & { account?: string }>;
    const sandbox = modelOf(root, stacks).environments.find((e) => e.perBranch)!.account;
    for (const stack of shared.filter((s) => s.tags.EnvironmentSuffix === 'dev')) stack.account = sandbox;
    const before = violations(await evaluateMatrix(modelOf(root, shared)));
    const mutated = clone(shared);
    for (const stack of mutated.filter((s) => s.origin === 'branch' && s.tags.EnvironmentSuffix)) {
      for (const resource of Object.values(stack.template.Resources ?? {})) {
        if (resource.Type !== 'AWS::IAM::Policy') continue;
        for (const statement of (resource.Properties!.PolicyDocument as Doc).Statement) statement.Resource = '*';
      }
    }
    const model = modelOf(root, mutated);
    const branch = model.environments.find((e) => e.perBranch)!;
    const found = violations(await evaluateMatrix(model));
    const reached = (list: string[], suffix: string) =>
      list.some((v) => v.startsWith(`${suffix}: phi-stream: per-branch principal hipaa-fhir-compute-${branch.suffix}/ProcessorTaskRole`));
    // Same account: identity policies alone decide, so the widened pattern reaches the stream.
    // Another account: the stream has no resource policy, so the widened identity policy cannot cross.
    expect([reached(before, 'dev'), reached(found, 'dev'), reached(found, 'prod')]).toEqual([false, true, false]);
  }, 300_000);

  test('(c) the sandbox manager role reaches a long-lived stack in a shared account only when both its br- name patterns and its Preview=true tag condition go', async () => {
    const shared = clone(stacks) as Array<LoadedStack & { account?: string }>;
    const sandbox = modelOf(root, stacks).environments.find((e) => e.perBranch)!.account;
    for (const stack of shared.filter((s) => s.tags.EnvironmentSuffix === 'dev')) stack.account = sandbox;
    const managerReachesDev = async (mutate: (statement: Statement) => void) => {
      const mutated = clone(shared);
      let changed = 0;
      for (const doc of roleDocuments(mutated, (s) => /-preview-sandbox$/.test(s.stackName), 'ManagerRole')) {
        for (const statement of doc.Statement.filter((st) => actions(st).includes('cloudformation:DeleteStack'))) {
          mutate(statement);
          changed++;
        }
      }
      expect(changed).toBe(1);
      return violations(await evaluateMatrix(modelOf(root, mutated))).some((v) =>
        /^dev: change-stacks: per-branch principal hipaa-fhir-preview-sandbox\/ManagerRole\w+ reaches a long-lived environment$/.test(v),
      );
    };
    const unchanged = await managerReachesDev(() => undefined);
    const nameOnly = await managerReachesDev((st) => {
      st.Resource = '*';
    });
    const both = await managerReachesDev((st) => {
      st.Resource = '*';
      delete st.Condition;
    });
    expect({ unchanged, nameOnly, both }).toEqual({ unchanged: false, nameOnly: false, both: true });
  }, 300_000);

  test('(a) removing the CloudWatch Allow from the prod alarm topic policy is caught', async () => {
    const mutated = clone(stacks);
    let removed = 0;
    for (const stack of mutated.filter((s) => s.tags.EnvironmentSuffix === 'prod')) {
      for (const resource of Object.values(stack.template.Resources ?? {})) {
        if (resource.Type !== 'AWS::SNS::TopicPolicy') continue;
        const doc = resource.Properties!.PolicyDocument as Doc;
        const kept = doc.Statement.filter(
          (s) => !(s.Effect === 'Allow' && JSON.stringify(s.Principal ?? '').includes('cloudwatch.amazonaws.com')),
        );
        removed += doc.Statement.length - kept.length;
        doc.Statement = kept;
      }
    }
    const found = violations(await evaluateMatrix(modelOf(root, mutated)));
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^prod: CloudWatch alarms publish to the alarm topic: cloudwatch\.amazonaws\.com cannot sns:Publish on arn:aws:sns:/,
        ),
      ]),
    );
    // Before the fix there is no Allow to remove and the baseline already fails; after it, this removal must.
    if (removed === 0)
      expect(violations(matrix)).toEqual(expect.arrayContaining([expect.stringMatching(/^prod: CloudWatch alarms publish/)]));
  }, 300_000);

  describe('issue 20: the intended matrix names who may; every other path to PHI is caught', () => {
    /** The prod compute stack of a copy of the stacks. */
    const prodCompute = (copy: LoadedStack[]) =>
      copy.find((s) => s.tags.EnvironmentSuffix === 'prod' && /-compute-prod$/.test(s.stackName))!;
    const prodEnv = () => matrix.environments.find((e) => e.environment.suffix === 'prod')!.environment;
    const role = (trust: unknown, statements: Statement[]) => ({
      Type: 'AWS::IAM::Role',
      Properties: {
        AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: trust }] },
        Policies: [{ PolicyName: 'injected', PolicyDocument: { Version: '2012-10-17', Statement: statements } }],
      },
    });
    /** GetRecords on the stream, Decrypt with its key, Filter/GetLogEvents on the processor and database log groups. */
    const phiReads = (): Statement[] => {
      const env = prodEnv();
      const groups = [...env.processorLogGroups, ...env.databaseLogGroups];
      return [
        { Effect: 'Allow', Action: ['kinesis:GetRecords', 'kinesis:GetShardIterator'], Resource: env.streamArn },
        { Effect: 'Allow', Action: 'kms:Decrypt', Resource: env.streamKeyArn },
        {
          Effect: 'Allow',
          Action: ['logs:FilterLogEvents', 'logs:GetLogEvents'],
          Resource: groups.flatMap((g) => [g.arn, `${g.arn}:log-stream:*`]),
        },
      ];
    };
    /** One injected role per new class of PHI-reaching action, each allowed only that action on everything. */
    const ACTION_CLASSES: Record<string, string> = {
      'logs:StartQuery': 'phi-log-query',
      'logs:StartLiveTail': 'phi-log-query',
      'logs:CreateExportTask': 'phi-log-export',
      'logs:PutSubscriptionFilter': 'phi-log-export',
      'kms:PutKeyPolicy': 'phi-key-policy',
      'rds:CreateDBSnapshot': 'phi-db-snapshot',
      'rds:ModifyDBSnapshotAttribute': 'phi-db-snapshot',
      'rds:StartExportTask': 'phi-db-snapshot',
      'rds:RestoreDBInstanceFromDBSnapshot': 'phi-db-snapshot',
      'rds:CopyDBSnapshot': 'phi-db-snapshot',
      'backup:StartRestoreJob': 'phi-backup-restore',
      'backup:StartCopyJob': 'phi-backup-restore',
      'lambda:UpdateFunctionCode': 'phi-function-code',
      'ecs:RunTask': 'run-task',
    };
    const logicalIdOf = (action: string) => `Injected${action.replace(/[^A-Za-z]/g, '')}Role`;
    let found: string[];

    beforeAll(async () => {
      const mutated = clone(stacks);
      const compute = prodCompute(mutated);
      const resources = compute.template.Resources!;
      const prodAccount = prodEnv().account;
      resources.InjectedExternalRole = role({ AWS: 'arn:aws:iam::999999999999:root' }, phiReads());
      resources.InjectedAccountRootRole = role({ AWS: `arn:aws:iam::${prodAccount}:root` }, phiReads());
      resources.InjectedTaskRole = role({ Service: 'ecs-tasks.amazonaws.com' }, phiReads());
      for (const action of Object.keys(ACTION_CLASSES))
        resources[logicalIdOf(action)] = role({ AWS: `arn:aws:iam::${prodAccount}:root` }, [
          { Effect: 'Allow', Action: action, Resource: '*' },
        ]);
      // The prod post-deploy role (which the tooling account's smoke build assumes) given PHI reads.
      const postDeploy = roleDocuments(mutated, (s) => s.tags.EnvironmentSuffix === 'prod', 'PostDeployRole');
      expect(postDeploy.length).toBeGreaterThan(0);
      postDeploy[0].Statement.push(...phiReads());
      // The processor, named in the stream key's policy, given the key's grant and re-encryption actions.
      const processor = roleDocuments(mutated, (s) => s.tags.EnvironmentSuffix === 'prod', 'ProcessorTaskRole');
      processor[0].Statement.push({ Effect: 'Allow', Action: ['kms:CreateGrant', 'kms:ReEncryptFrom'], Resource: prodEnv().streamKeyArn });
      // The Kinesis endpoint's policy widened to everything.
      let widened = 0;
      for (const stack of mutated.filter((s) => s.tags.EnvironmentSuffix === 'prod'))
        for (const resource of Object.values(stack.template.Resources ?? {}))
          if (resource.Type === 'AWS::EC2::VPCEndpoint' && JSON.stringify(resource.Properties!.ServiceName).includes('kinesis-streams')) {
            resource.Properties!.PolicyDocument = {
              Version: '2012-10-17',
              Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*' }],
            };
            widened++;
          }
      expect(widened).toBe(1);
      // The workload's HTTPS egress back to any address.
      const prodNetwork = mutated.find((s) => s.tags.EnvironmentSuffix === 'prod' && /-network-prod$/.test(s.stackName))!;
      prodNetwork.template.Resources!.InjectedOpenEgress = {
        Type: 'AWS::EC2::SecurityGroupEgress',
        Properties: { GroupId: 'sg-0123456789abcdef0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443, CidrIp: '0.0.0.0/0' },
      };
      // The database key's policy back to CDK's default (kms:* for the account: IAM alone decides).
      let restored = 0;
      for (const stack of mutated.filter((s) => s.tags.EnvironmentSuffix === 'prod'))
        for (const [logicalId, resource] of Object.entries(stack.template.Resources ?? {}))
          if (resource.Type === 'AWS::KMS::Key' && logicalId.startsWith('DatabaseKey')) {
            resource.Properties!.KeyPolicy = {
              Version: '2012-10-17',
              Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${prodAccount}:root` }, Action: 'kms:*', Resource: '*' }],
            };
            restored++;
          }
      expect(restored).toBe(1);
      found = violations(await evaluateMatrix(modelOf(root, mutated)));
    }, 1_200_000);

    const caught = (pattern: RegExp) => found.filter((v) => pattern.test(v));

    test('a role trusted by an external account with GetRecords, stream-key Decrypt and Filter/GetLogEvents is caught, by identity and by its trust', () => {
      for (const id of ['phi-stream', 'phi-processor-logs', 'phi-database-logs'])
        expect([id, caught(new RegExp(`^prod: ${id}: hipaa-fhir-compute-prod/InjectedExternalRole can, but the intended matrix`))]).toEqual(
          [id, [expect.any(String)]],
        );
      expect(
        caught(/^prod: trust: hipaa-fhir-compute-prod\/InjectedExternalRole can be assumed by a principal of account 999999999999/),
      ).toHaveLength(1);
    });

    test('a role trusting the prod account root, and a new ECS task role, with the same reads are caught', () => {
      for (const name of ['InjectedAccountRootRole', 'InjectedTaskRole'])
        for (const id of ['phi-stream', 'phi-processor-logs', 'phi-database-logs'])
          expect([name, id, caught(new RegExp(`^prod: ${id}: hipaa-fhir-compute-prod/${name} can, but the intended matrix`))]).toEqual([
            name,
            id,
            [expect.any(String)],
          ]);
      // Trusting its own account is no trust violation: the identity rule is what catches it.
      expect(caught(/^prod: trust: hipaa-fhir-compute-prod\/(InjectedAccountRootRole|InjectedTaskRole)/)).toEqual([]);
    });

    test('the prod post-deploy role given GetRecords, Decrypt and FilterLogEvents is caught, and the tooling step that assumes it', () => {
      for (const id of ['phi-stream', 'phi-processor-logs', 'phi-database-logs']) {
        expect([id, caught(new RegExp(`^prod: ${id}: hipaa-fhir-compute-prod/PostDeployRole\\w+ can, but the intended matrix`))]).toEqual([
          id,
          [expect.any(String)],
        ]);
        expect([
          id,
          caught(
            new RegExp(
              `^prod: ${id}: hipaa-fhir-pipeline/PostDeployStepRoleprod\\w+ \\(via hipaa-fhir-compute-prod/PostDeployRole\\w+\\) can`,
            ),
          ),
        ]).toEqual([id, [expect.any(String)]]);
      }
    });

    test('each new class of PHI-reaching action, granted to a principal the intended matrix does not name, is caught', () => {
      for (const [action, id] of Object.entries(ACTION_CLASSES))
        expect([
          action,
          caught(new RegExp(`^prod: ${id}: hipaa-fhir-compute-prod/${logicalIdOf(action)} can, but the intended matrix`)),
        ]).toEqual([action, [expect.any(String)]]);
      // kms:CreateGrant and ReEncryptFrom: only a role the key policy names could use them; the processor may not.
      expect(caught(/^prod: phi-key-grant: hipaa-fhir-compute-prod\/ProcessorTaskRole\w+ can, but the intended matrix/)).toHaveLength(1);
    });

    test("the Kinesis endpoint's policy widened to * is caught letting records go to another account", () => {
      expect(
        caught(
          /^prod: endpoint hipaa-fhir-network-prod\/\w+ \(kinesis-streams\) allows kinesis:PutRecord on arn:aws:kinesis:[a-z0-9-]+:999999999999:stream\/exfiltration \(account 999999999999\), but should deny$/,
        ),
      ).toHaveLength(1);
    });

    test('the injected readers join the summary of who can read prod PHI, and each is a difference from the intended set', () => {
      for (const name of ['InjectedExternalRole', 'InjectedAccountRootRole', 'InjectedTaskRole'])
        expect([name, caught(new RegExp(`^prod: can read PHI: hipaa-fhir-compute-prod/${name} can, but`))]).toEqual([
          name,
          [expect.any(String)],
        ]);
    });

    test('a security-group egress rule to 0.0.0.0/0 is caught; unmutated, no group of any environment has one', () => {
      expect(caught(/^prod: security group hipaa-fhir-network-prod\/InjectedOpenEgress allows egress to 0\.0\.0\.0\/0/)).toHaveLength(1);
      expect(matrix.model.environments.map((e) => [e.suffix, e.openEgress])).toEqual(matrix.model.environments.map((e) => [e.suffix, []]));
    });

    test("the database key's policy back to CDK's default is caught: any principal of the account allowed KMS use on * reaches it", () => {
      expect(
        caught(/^prod: phi-database-key: account \d{12}: any IAM principal allowed KMS key use on \* can, but the intended matrix/),
      ).toHaveLength(1);
      // Unmutated, the narrowed key policies keep that principal from every data key.
      expect(JSON.stringify(matrix.environments.map((e) => e.capabilities.map((c) => c.grants.map((g) => g.principal))))).not.toContain(
        'any IAM principal allowed KMS key use',
      );
    });

    test("the CDK look-up role without the boundary's LookupRoleReadsNoData (ReadOnlyAccess alone) is caught reading the PHI log groups", async () => {
      const model = modelOf(root, stacks);
      const lookups = model.principals.filter((p) => /^cdk-hnb659fds-lookup-role-333333333333-/.test(p.id));
      expect(lookups).toHaveLength(1);
      const unbounded = {
        ...model,
        principals: model.principals.map((p) =>
          lookups.includes(p)
            ? {
                ...p,
                permissionBoundary: {
                  ...p.permissionBoundary!,
                  Statement: p.permissionBoundary!.Statement.filter((st) => st.Sid !== 'LookupRoleReadsNoData'),
                },
              }
            : p,
        ),
      };
      const lookupFound = violations(await evaluateMatrix(unbounded));
      for (const id of ['phi-processor-logs', 'phi-database-logs', 'phi-log-query'])
        expect([
          id,
          lookupFound.filter((v) => new RegExp(`^prod: ${id}: cdk-hnb659fds-lookup-role-333333333333-[a-z0-9-]+ can`).test(v)),
        ]).toEqual([id, [expect.any(String)]]);
    }, 300_000);

    test('the AWS managed policies are modelled with their real contents, with their source', () => {
      const fixture = JSON.parse(readFileSync(join(root, 'scripts', 'access-matrix', 'aws-managed-policies.json'), 'utf8')) as {
        source: string;
        policies: Record<string, { versionId: string; document: Doc }>;
      };
      expect(fixture.source).toMatch(/^https:\/\/github\.com\/zoph-io\/MAMIP\/tree\/[0-9a-f]{40}\/policies /);
      const backup = fixture.policies['service-role/AWSBackupServiceRolePolicyForBackup'].document.Statement.flatMap(actions);
      expect(backup).toEqual(expect.arrayContaining(['rds:CopyDBSnapshot', 'rds:ModifyDBSnapshotAttribute', 'rds:ModifyDBInstance']));
      const readOnly = fixture.policies.ReadOnlyAccess.document.Statement.flatMap(actions);
      expect(readOnly).toEqual(expect.arrayContaining(['logs:FilterLogEvents', 'logs:Get*', 'logs:StartQuery', 'kinesis:Get*', 's3:Get*']));
      expect(matrix.model.unmodelled.filter((u) => u.startsWith('arn:aws:iam::aws:policy/'))).toEqual([]);
    });
  });

  test('who can read PHI, per environment, by any modelled path, is exactly the set permitted.ts names, and docs/access-matrix.md shows it', () => {
    const doc = readFileSync(join(root, 'docs', 'access-matrix.md'), 'utf8');
    for (const env of matrix.environments) {
      const readers = phiReaders(env);
      expect([env.environment.suffix, readers]).toEqual([env.environment.suffix, permittedPhiReaders(matrix, env)]);
      // The look-up role is modelled (ReadOnlyAccess) and kept out by the boundary; the execution role resolves the secret.
      expect(
        matrix.model.principals.some((p) => p.id.startsWith('cdk-hnb659fds-lookup-role-') && p.account === env.environment.account),
      ).toBe(true);
      expect(readers.filter((id) => /lookup-role|deploy-role|publishing-role/.test(id))).toEqual([]);
      expect(readers.some((id) => /-cfn-exec-role-/.test(id))).toBe(true);
      const section = doc.slice(doc.indexOf(`## Environment \`${env.environment.suffix}\``));
      const line = section.split('\n').find((l) => l.startsWith('**Can read PHI, by any modelled path**'))!;
      expect(line).toContain('exactly the set permitted.ts names');
      expect(line.slice(line.indexOf('): ') + 3)).toBe(`${readers.map((id) => `\`${id}\``).join(', ')}.`);
    }
    const prod = matrix.environments.find((e) => e.environment.suffix === 'prod')!;
    // Prod's post-deploy role (which the tooling account's smoke build assumes) reads nothing, nor does the tooling step.
    expect(phiReaders(prod).filter((id) => /PostDeploy/.test(id))).toEqual([]);
  });

  test('a principal permitted.ts names that can no longer read PHI is a difference too (the summary must equal the intended set)', () => {
    const prod = matrix.environments.find((e) => e.environment.suffix === 'prod')!;
    const processor = phiReaders(prod).find((id) => /ProcessorTaskRole/.test(id))!;
    const without = {
      ...matrix,
      environments: matrix.environments.map((e) =>
        e !== prod
          ? e
          : { ...e, capabilities: e.capabilities.map((c) => ({ ...c, grants: c.grants.filter((g) => g.principal !== processor) })) },
      ),
    };
    expect(violations(without).filter((v) => v.startsWith('prod: can read PHI:'))).toEqual([
      `prod: can read PHI: ${processor} cannot, but the intended matrix (permitted.ts) names it for a Read PHI capability`,
    ]);
  });

  test('docs/access-matrix.md is the current generated matrix (run npm run access-matrix to refresh it)', () => {
    expect(readFileSync(join(root, 'docs', 'access-matrix.md'), 'utf8')).toBe(renderMarkdown(matrix));
  });

  test('the AGPL-3.0 engine stays a devDependency that no product code imports and the image prunes', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
    };
    expect(Object.keys(pkg.dependencies ?? {})).not.toContain('@cloud-copilot/iam-simulate');
    expect(Object.keys(pkg.devDependencies ?? {})).toContain('@cloud-copilot/iam-simulate');
    const importers = (readdirSync(join(root, 'lib'), { recursive: true }) as string[])
      .filter((f) => /\.(ts|js)$/.test(f))
      .filter((f) => readFileSync(join(root, 'lib', f), 'utf8').includes('@cloud-copilot/'));
    expect(importers).toEqual([]);
    expect(readFileSync(join(root, 'lib', 'processor', 'Dockerfile'), 'utf8')).toMatch(/npm prune --omit=dev/);
  });

  describe('the command (scripts/access-matrix.ts), on this evaluation', () => {
    let dir: string;
    let stdout: string[];
    let stderr: string[];
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'access-matrix-cli-'));
      stdout = [];
      stderr = [];
      jest.spyOn(console, 'log').mockImplementation((line: string) => {
        stdout.push(line);
      });
      jest.spyOn(console, 'error').mockImplementation((line: string) => {
        stderr.push(line);
      });
    });
    afterEach(() => {
      jest.restoreAllMocks();
      rmSync(dir, { recursive: true, force: true });
    });
    const evaluated = (m: Matrix) =>
      jest.fn(async (checkout: string) => {
        expect(checkout).toBe(root);
        return m;
      });

    test('writes the matrix and exits 0 when it matches the intended matrix', async () => {
      const out = join(dir, 'docs', 'matrix.md');
      const evaluate = evaluated(matrix);
      await expect(main(['--root', root, '--out', out], evaluate)).resolves.toBe(0);
      expect(evaluate).toHaveBeenCalledTimes(1);
      expect(readFileSync(out, 'utf8')).toBe(renderMarkdown(matrix));
      expect(stderr).toEqual(expect.arrayContaining([`access-matrix: wrote ${out}`, 'access-matrix: matches the intended matrix']));
      expect(stdout).toEqual([]);
    });

    test('--check writes nothing: 0 on the current file, 1 on a stale or missing one', async () => {
      const current = join(dir, 'current.md');
      const stale = join(dir, 'stale.md');
      const missing = join(dir, 'missing.md');
      writeFileSync(current, renderMarkdown(matrix));
      writeFileSync(stale, 'an older matrix\n');
      await expect(main(['--root', root, '--check', '--out', current], evaluated(matrix))).resolves.toBe(0);
      await expect(main(['--root', root, '--check', '--out', stale], evaluated(matrix))).resolves.toBe(1);
      await expect(main(['--root', root, '--check', '--out', missing], evaluated(matrix))).resolves.toBe(1);
      expect(readFileSync(stale, 'utf8')).toBe('an older matrix\n');
      expect(existsSync(missing)).toBe(false);
      expect(stderr.filter((l) => l.includes('is stale'))).toEqual([
        `access-matrix: ${stale} is stale: run npm run access-matrix and commit it`,
        `access-matrix: ${missing} is stale: run npm run access-matrix and commit it`,
      ]);
    });

    test('a matrix that differs from the intended one exits 1, one stdout line per difference', async () => {
      // The prod alarm topic loses its CloudWatch Allow (as in test (a) above).
      const mutated = clone(stacks);
      for (const stack of mutated.filter((s) => s.tags.EnvironmentSuffix === 'prod')) {
        for (const resource of Object.values(stack.template.Resources ?? {})) {
          if (resource.Type !== 'AWS::SNS::TopicPolicy') continue;
          const doc = resource.Properties!.PolicyDocument as Doc;
          doc.Statement = doc.Statement.filter(
            (s) => !(s.Effect === 'Allow' && JSON.stringify(s.Principal ?? '').includes('cloudwatch.amazonaws.com')),
          );
        }
      }
      const differing = await evaluateMatrix(modelOf(root, mutated));
      const expected = violations(differing);
      expect(expected.length).toBeGreaterThan(0);
      await expect(main(['--root', root, '--out', join(dir, 'm.md')], evaluated(differing))).resolves.toBe(1);
      expect(stdout).toEqual(expected.map((v) => `DIFFERS FROM INTENDED: ${v}`));
      expect(stderr).toContain(`access-matrix: ${expected.length} difference(s) from the intended matrix`);
    });

    test('--help prints the usage; an unknown or valueless flag is a usage error, before any synth', async () => {
      const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
      const evaluate = jest.fn(async () => matrix);
      await expect(main(['--help'], evaluate)).resolves.toBe(0);
      expect(write).toHaveBeenCalledWith(`${USAGE}\n`);
      const usageError = (argv: string[]) =>
        main(argv, evaluate).then(
          () => undefined,
          (error: unknown) => error instanceof UsageError && error.message,
        );
      expect(await usageError(['--chek'])).toBe("Unknown option '--chek'");
      expect(await usageError(['--out'])).toBe("Option '--out <value>' argument missing");
      expect(await usageError(['--out='])).toBe('--out needs a value');
      expect(evaluate).not.toHaveBeenCalled();
    });

    test('spawned: a usage error is one line and the usage on stderr, exit 2', () => {
      const run = spawnSync(process.execPath, [...TS_HOOK, join(__dirname, '..', '..', 'scripts', 'access-matrix.ts'), '--outt', 'x'], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(run.status).toBe(2);
      expect(run.stderr).toBe(`access-matrix: Unknown option '--outt'\n${USAGE}\n`);
      expect(run.stdout).toBe('');
    }, 300_000);
  });
});
