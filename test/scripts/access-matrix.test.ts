/**
 * The intended access matrix of issue 8, evaluated with an IAM policy engine over the synthesized app.
 * One synth (delivery app + one per-branch environment) is shared by every assertion; the mutation tests
 * change the loaded templates in memory to prove the checks can fail.
 */
import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { evaluateMatrix, LoadedStack, Matrix, modelOf, synthAll } from '../../scripts/access-matrix/index';
import { violations } from '../../scripts/access-matrix/intended';
import { renderMarkdown } from '../../scripts/access-matrix/markdown';

// ACCESS_MATRIX_ROOT lets a reviewer evaluate another checkout (e.g. a `git archive` of a commit) with these tests.
const root = process.env.ACCESS_MATRIX_ROOT ?? join(__dirname, '..', '..');

type Statement = { Effect?: string; Action?: unknown; Resource?: unknown; Principal?: unknown };
type Doc = { Statement: Statement[] };

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function actions(statement: Statement): string[] {
  return (Array.isArray(statement.Action) ? statement.Action : [statement.Action]).filter((a): a is string => typeof a === 'string');
}

describe('access matrix (npm run access-matrix)', () => {
  let stacks: LoadedStack[];
  let matrix: Matrix;

  beforeAll(async () => {
    stacks = await synthAll(root);
    matrix = await evaluateMatrix(modelOf(root, stacks));
  }, 120_000);

  test('evaluates the long-lived dev and prod environments and one per-branch environment', () => {
    expect(matrix.environments.filter((e) => !e.environment.perBranch).map((e) => e.environment.suffix).sort()).toEqual(['dev', 'prod']);
    expect(matrix.environments.filter((e) => e.environment.perBranch).map((e) => e.environment.suffix)).toEqual([expect.stringMatching(/(^|-)x$/)]);
    // Every environment is asked every question: a missing resource would silently shrink the proof.
    for (const { environment, capabilities } of matrix.environments) {
      expect([environment.suffix, capabilities.map((c) => c.capability.id)]).toEqual([environment.suffix, expect.arrayContaining(['phi-stream', 'phi-stream-key', 'phi-database-key', 'phi-secret', 'phi-db-connect', 'phi-processor-logs', 'phi-database-logs', 'put-records', 'run-task', 'pass-roles', 'change-stacks', 'assume-deploy-role'])]);
    }
    expect(matrix.errors).toEqual([]);
  });

  test('the processor reads its own stream, and its execution role its own secret', () => {
    for (const { environment, capabilities } of matrix.environments) {
      const stream = capabilities.find((c) => c.capability.id === 'phi-stream')!;
      expect(stream.grants.filter((g) => g.via.length === 0).map((g) => g.principal)).toContain(`${environment.stacks.find((s) => s.name.includes('compute'))!.name}/ProcessorTaskRoleDD380273`);
    }
  });

  test('matches the intended matrix: PHI only to own workload and post-deploy roles, nothing per-branch reaches dev or prod, services can act', () => {
    expect(violations(matrix)).toEqual([]);
  });

  test('a per-branch pipeline role whose sts:AssumeRole resources become "*" is caught reaching prod', async () => {
    const mutated = clone(stacks);
    let changed = 0;
    for (const stack of mutated.filter((s) => s.origin === 'delivery' && !s.tags.EnvironmentSuffix && /ephemeral/i.test(s.stackName))) {
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
    expect(found).toEqual(expect.arrayContaining([expect.stringMatching(/^prod: change-stacks: per-branch principal .*DeployProject.* reaches a long-lived environment$/)]));
  }, 60_000);

  test('a per-branch environment role whose resources become "*" is caught in every long-lived environment of the same account, and only there', async () => {
    const mutated = clone(stacks);
    for (const stack of mutated.filter((s) => s.origin === 'branch' && s.tags.EnvironmentSuffix)) {
      for (const resource of Object.values(stack.template.Resources ?? {})) {
        if (resource.Type !== 'AWS::IAM::Policy') continue;
        for (const statement of (resource.Properties!.PolicyDocument as Doc).Statement) statement.Resource = '*';
      }
    }
    const model = modelOf(root, mutated);
    const branch = model.environments.find((e) => e.perBranch)!;
    const found = violations(await evaluateMatrix(model));
    for (const env of model.environments.filter((e) => !e.perBranch)) {
      const reached = found.filter((v) => v.startsWith(`${env.suffix}: phi-stream: per-branch principal hipaa-fhir-compute-${branch.suffix}/ProcessorTaskRole`));
      // Same account: identity policies alone decide, so the widened pattern reaches the stream.
      // Another account: the stream has no resource policy, so the widened identity policy cannot cross.
      expect([env.suffix, reached.length > 0]).toEqual([env.suffix, env.account === branch.account]);
    }
  }, 60_000);

  test('removing the CloudWatch Allow from the prod alarm topic policy is caught', async () => {
    const mutated = clone(stacks);
    let removed = 0;
    for (const stack of mutated.filter((s) => s.tags.EnvironmentSuffix === 'prod')) {
      for (const resource of Object.values(stack.template.Resources ?? {})) {
        if (resource.Type !== 'AWS::SNS::TopicPolicy') continue;
        const doc = resource.Properties!.PolicyDocument as Doc;
        const kept = doc.Statement.filter((s) => !(s.Effect === 'Allow' && JSON.stringify(s.Principal ?? '').includes('cloudwatch.amazonaws.com')));
        removed += doc.Statement.length - kept.length;
        doc.Statement = kept;
      }
    }
    const found = violations(await evaluateMatrix(modelOf(root, mutated)));
    expect(found).toEqual(expect.arrayContaining([expect.stringMatching(/^prod: CloudWatch alarms publish to the alarm topic: cloudwatch\.amazonaws\.com cannot sns:Publish on arn:aws:sns:/)]));
    // Before the fix there is no Allow to remove and the baseline already fails; after it, this removal must.
    if (removed === 0) expect(violations(matrix)).toEqual(expect.arrayContaining([expect.stringMatching(/^prod: CloudWatch alarms publish/)]));
  }, 60_000);

  test('docs/access-matrix.md is the current generated matrix (run npm run access-matrix to refresh it)', () => {
    expect(readFileSync(join(root, 'docs', 'access-matrix.md'), 'utf8')).toBe(renderMarkdown(matrix));
  });

  test('the AGPL-3.0 engine stays a devDependency that no product code imports and the image prunes', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
    expect(Object.keys(pkg.dependencies ?? {})).not.toContain('@cloud-copilot/iam-simulate');
    expect(Object.keys(pkg.devDependencies ?? {})).toContain('@cloud-copilot/iam-simulate');
    const importers = (readdirSync(join(root, 'lib'), { recursive: true }) as string[])
      .filter((f) => /\.(ts|js)$/.test(f))
      .filter((f) => readFileSync(join(root, 'lib', f), 'utf8').includes('@cloud-copilot/'));
    expect(importers).toEqual([]);
    expect(readFileSync(join(root, 'lib', 'processor', 'Dockerfile'), 'utf8')).toMatch(/npm prune --omit=dev/);
  });
});
