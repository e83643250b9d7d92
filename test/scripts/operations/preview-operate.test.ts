import { CloudFormationClient, DeleteStackCommand, DescribeStacksCommand, Stack } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { execFile } from 'child_process';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { LAYERS } from '../../../lib/contract';
import { UsageError } from '../../../scripts/shared/cli';
import { CapReachedError } from '../../../scripts/operations/preview';
import {
  BranchListError,
  gitBranches,
  main,
  operate,
  OperateDeps,
  parseLsRemote,
  parseOperateArgs,
} from '../../../scripts/operations/preview-operate';

const cfnMock = mockClient(CloudFormationClient);
const now = new Date('2026-11-22T12:00:00Z');

const previewStacks = (suffix: string, branch: string, expiresAt: string): Stack[] =>
  LAYERS.map((layer) => ({
    StackName: `hipaa-fhir-${layer}-${suffix}`,
    StackStatus: 'CREATE_COMPLETE',
    CreationTime: new Date(),
    Tags: Object.entries({
      Project: 'hipaa-fhir',
      EnvironmentSuffix: suffix,
      Profile: 'development',
      Preview: 'true',
      Branch: branch,
      ExpiresAt: expiresAt,
    }).map(([Key, Value]) => ({ Key, Value })),
  }));

/** The sandbox as CloudFormation shows it: listing returns `existing`; every deletion completes. */
function sandbox(existing: Stack[]): void {
  cfnMock.on(DeleteStackCommand).resolves({});
  cfnMock
    .on(DescribeStacksCommand)
    .callsFake((input: { StackName?: string }) =>
      input.StackName
        ? { Stacks: [{ StackName: input.StackName, StackStatus: 'DELETE_COMPLETE', CreationTime: new Date() }] }
        : { Stacks: existing },
    );
}
const deleted = () => cfnMock.commandCalls(DeleteStackCommand).map((c) => c.args[0].input.StackName);

function deps(live: string[] | Error) {
  const deploys: Array<[string, string]> = [];
  const lines: string[] = [];
  const d: OperateDeps = {
    cfn: new CloudFormationClient({ region: 'eu-west-2' }),
    listBranches: async () => {
      if (live instanceof Error) throw live;
      return new Set(live);
    },
    deploy: async (branch, suffix) => {
      deploys.push([branch, suffix]);
    },
    log: (l) => lines.push(l),
    now,
  };
  return { d, deploys, lines };
}

const request = (operation: 'deploy' | 'destroy' | 'sweep', branch?: string) => ({ operation, branch, project: 'hipaa-fhir', max: 2 });

describe('preview-operate: the one build that changes preview environments', () => {
  beforeEach(() => cfnMock.reset());

  test('deploy of a live branch checks the cap, then deploys its stage; the integration stage will run', async () => {
    sandbox(previewStacks('br-other', 'feature/other', '2026-11-23T00:00:00Z'));
    const { d, deploys } = deps(['main', 'feature/x', 'feature/other']);
    await expect(operate(request('deploy', 'feature/x'), d)).resolves.toEqual({ environmentSuffix: 'br-x', deployed: true });
    expect(deploys).toEqual([['feature/x', 'br-x']]);
    expect(deleted()).toEqual([]);
  });

  test('deploy over the cap deploys nothing', async () => {
    sandbox([...previewStacks('br-a', 'feature/a', '2026-11-23T00:00:00Z'), ...previewStacks('br-b', 'feature/b', '2026-11-23T00:00:00Z')]);
    const { d, deploys } = deps(['feature/a', 'feature/b', 'feature/x']);
    await expect(operate(request('deploy', 'feature/x'), d)).rejects.toThrow(CapReachedError);
    expect(deploys).toEqual([]);
  });

  test('a deploy that waited in the queue behind its branch being deleted destroys the environment instead of deploying it', async () => {
    sandbox(previewStacks('br-x', 'feature/x', '2026-11-23T00:00:00Z'));
    const { d, deploys, lines } = deps(['main']);
    await expect(operate(request('deploy', 'feature/x'), d)).resolves.toEqual({ environmentSuffix: 'br-x', deployed: false });
    expect(deploys).toEqual([]);
    expect(deleted()).toEqual(['compute', 'audit', 'data', 'network'].map((l) => `hipaa-fhir-${l}-br-x`));
    expect(lines[0]).toBe('branch feature/x no longer exists: destroying br-x');
  });

  test('deploy fails, deploying and deleting nothing, when the branches cannot be listed', async () => {
    sandbox(previewStacks('br-x', 'feature/x', '2026-11-23T00:00:00Z'));
    const { d, deploys } = deps(new BranchListError('git ls-remote failed: fatal: unable to access'));
    await expect(operate(request('deploy', 'feature/x'), d)).rejects.toThrow('git ls-remote failed');
    expect([deploys, deleted()]).toEqual([[], []]);
  });

  test('destroy deletes the branch environment, and is a no-op when there is none', async () => {
    sandbox(previewStacks('br-x', 'feature/x', '2026-11-23T00:00:00Z'));
    await expect(operate(request('destroy', 'feature/x'), deps([]).d)).resolves.toEqual({ environmentSuffix: 'br-x', deployed: false });
    expect(deleted()).toHaveLength(4);
    cfnMock.reset();
    sandbox([]);
    const { d, lines } = deps([]);
    await expect(operate(request('destroy', 'feature/y'), d)).resolves.toEqual({ environmentSuffix: 'br-y', deployed: false });
    expect([deleted(), lines]).toEqual([[], ['destroy feature/y: no preview environment br-y, nothing to do']]);
  });

  test('sweep deletes expired environments and those of deleted branches', async () => {
    sandbox([
      ...previewStacks('br-old', 'feature/old', '2026-11-22T11:00:00Z'),
      ...previewStacks('br-gone', 'feature/gone', '2026-11-25T00:00:00Z'),
      ...previewStacks('br-live', 'feature/live', '2026-11-25T00:00:00Z'),
    ]);
    await expect(operate(request('sweep'), deps(['main', 'feature/live', 'feature/old']).d)).resolves.toEqual({
      environmentSuffix: 'none',
      deployed: false,
    });
    expect(new Set(deleted().map((n) => n!.replace(/^hipaa-fhir-\w+-/, '')))).toEqual(new Set(['br-old', 'br-gone']));
  });

  test('sweep with unlisted branches still deletes the expired ones, then fails with the reason: never a silent TTL-only sweep', async () => {
    sandbox([
      ...previewStacks('br-old', 'feature/old', '2026-11-22T11:00:00Z'),
      ...previewStacks('br-gone', 'feature/gone', '2026-11-25T00:00:00Z'),
    ]);
    const { d, lines } = deps(new BranchListError('git ls-remote failed: remote: Repository not found.'));
    await expect(operate(request('sweep'), d)).rejects.toThrow(
      "swept by TTL only: the repository's branches could not be listed (git ls-remote failed: remote: Repository not found.)",
    );
    expect(new Set(deleted().map((n) => n!.replace(/^hipaa-fhir-\w+-/, '')))).toEqual(new Set(['br-old']));
    expect(lines[0]).toMatch(/^sweep: could not list branches/);
  });

  test('main writes the outcome the build exports', async () => {
    sandbox([]);
    const dir = mkdtempSync(join(tmpdir(), 'operate-'));
    try {
      const outcome = join(dir, 'outcome.env');
      const { d } = deps(['feature/x']);
      await expect(main(['deploy', '--branch', 'feature/x', '--outcome', outcome, '--max', '3'], d)).resolves.toBe(0);
      expect(readFileSync(outcome, 'utf8')).toBe('ENVIRONMENT_SUFFIX=br-x\nPREVIEW_DEPLOYED=true\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('git ls-remote output parses to branch names; a failing git is a BranchListError naming its first stderr line', async () => {
    expect(parseLsRemote('a1\trefs/heads/main\nb2\trefs/heads/feature/x\nc3\trefs/tags/v1\n\n')).toEqual(new Set(['main', 'feature/x']));
    const failing = ((_cmd: string, _args: string[], _opts: object, cb: (e: Error | null, out: string, err: string) => void) =>
      cb(new Error('exit 128'), '', 'fatal: could not read Username\nmore')) as unknown as typeof execFile;
    await expect(gitBranches(failing)()).rejects.toEqual(new BranchListError('git ls-remote failed: fatal: could not read Username'));
  });

  test('flags: operations, --branch where needed (the pipeline default "-" means none), --outcome always', () => {
    const env = { MAX_PREVIEW_ENVIRONMENTS: '4' };
    expect(parseOperateArgs(['sweep', '--branch', '-', '--outcome', 'o'], env)).toEqual({
      operation: 'sweep',
      branch: undefined,
      project: 'hipaa-fhir',
      max: 4,
      outcome: 'o',
    });
    expect(parseOperateArgs(['deploy', '--branch', 'feature/x', '--outcome', 'o'], env)).toMatchObject({ branch: 'feature/x', max: 4 });
    for (const [argv, message] of [
      [['--outcome', 'o'], 'an operation is required'],
      [['apply', '--outcome', 'o'], 'unknown operation "apply": use one of deploy, destroy, sweep'],
      [['deploy', '--branch', 'feature/x'], '--outcome is required'],
      [['deploy', '--branch', '-', '--outcome', 'o'], 'deploy needs --branch (the branch of the preview environment)'],
      [['destroy', '--outcome', 'o'], 'destroy needs --branch (the branch of the preview environment)'],
      [['sweep', '--branch', 'feature/x', '--outcome', 'o'], 'sweep acts on every preview environment: it does not take --branch'],
    ] as const) {
      expect(() => parseOperateArgs(argv, env)).toThrow(new UsageError(message));
    }
    expect(parseOperateArgs(['--help'])).toBeUndefined();
  });
});
