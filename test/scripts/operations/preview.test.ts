import { CloudFormationClient, DeleteStackCommand, DescribeStacksCommand, Stack } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { spawnSync } from 'child_process';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { LAYERS } from '../../../lib/contract';
import { UsageError } from '../../../scripts/shared/cli';
import {
  CapReachedError,
  destroyEnvironment,
  enforceCap,
  PreviewEnvironment,
  listPreviewEnvironments,
  main,
  NotPreviewError,
  parsePreviewArgs,
  SDK_RETRY,
  selectForDeletion,
} from '../../../scripts/operations/preview';

const cfnMock = mockClient(CloudFormationClient);

function stacks(suffix: string, tags: Record<string, string>, status = 'CREATE_COMPLETE'): Stack[] {
  return LAYERS.map((layer) => ({
    StackName: `hipaa-fhir-${layer}-${suffix}`,
    StackStatus: status as Stack['StackStatus'],
    CreationTime: new Date(),
    Tags: Object.entries({ Project: 'hipaa-fhir', EnvironmentSuffix: suffix, Profile: 'development', ...tags }).map(([Key, Value]) => ({
      Key,
      Value,
    })),
  }));
}
const eph = (suffix: string, branch: string, expiresAt: string, status?: string) =>
  stacks(suffix, { Preview: 'true', Branch: branch, ExpiresAt: expiresAt }, status);

const now = new Date('2026-11-22T12:00:00Z');
const client = () => new CloudFormationClient({ region: 'eu-west-2' });

describe('ephemeral environments', () => {
  beforeEach(() => cfnMock.reset());

  test("listing groups the project's Preview=true stacks by suffix across pages; persistent and foreign stacks are ignored", async () => {
    cfnMock
      .on(DescribeStacksCommand)
      .resolvesOnce({ Stacks: [...eph('br-abc-1', 'feature/abc-1', '2026-11-23T00:00:00Z'), ...stacks('prod', {})], NextToken: 't' })
      .resolvesOnce({
        Stacks: [...eph('old', 'feature/old', '2026-11-20T00:00:00Z'), ...stacks('x', { Preview: 'true', Project: 'other' })],
      });
    const envs = await listPreviewEnvironments(client(), 'hipaa-fhir');
    expect(envs.map((e) => [e.suffix, e.branch, e.expiresAt, e.stacks.length])).toEqual([
      ['br-abc-1', 'feature/abc-1', '2026-11-23T00:00:00Z', 4],
      ['old', 'feature/old', '2026-11-20T00:00:00Z', 4],
    ]);
    // The SDK paginator asked for the second page with the first page's token, and stopped there.
    const calls = cfnMock.commandCalls(DescribeStacksCommand);
    expect(calls).toHaveLength(2);
    expect(calls[1].args[0].input.NextToken).toBe('t');
  });

  describe('sweeper selection', () => {
    const envs: PreviewEnvironment[] = [
      { suffix: 'expired', branch: 'feature/expired', expiresAt: '2026-11-22T11:59:59Z', stacks: [] },
      { suffix: 'fresh', branch: 'feature/fresh', expiresAt: '2026-11-23T00:00:00Z', stacks: [] },
      { suffix: 'gone', branch: 'feature/gone', expiresAt: '2026-11-25T00:00:00Z', stacks: [] },
      {
        suffix: 'busy',
        branch: 'feature/busy',
        expiresAt: '2026-11-01T00:00:00Z',
        stacks: [{ name: 'hipaa-fhir-data-busy', status: 'UPDATE_IN_PROGRESS', tags: {} }],
      },
      { suffix: 'no-tag', stacks: [] },
    ];
    test('TTL only: expired ones, not those mid-update or without an expiry', () => {
      expect(selectForDeletion(envs, now).map((s) => [s.env.suffix, s.reason])).toEqual([['expired', 'expired']]);
    });
    test('with the live branches: also those whose branch is gone', () => {
      const live = new Set(['feature/fresh', 'feature/expired', 'main']);
      expect(selectForDeletion(envs, now, live).map((s) => [s.env.suffix, s.reason])).toEqual([
        ['expired', 'expired'],
        ['gone', 'branch-gone'],
      ]);
    });
    test('exactly at ExpiresAt counts as expired', () => {
      expect(selectForDeletion([{ suffix: 'edge', expiresAt: '2026-11-22T12:00:00Z', stacks: [] }], now)).toHaveLength(1);
    });
  });

  describe("cap (counted by the deploy-time check's own function)", () => {
    const stack = (suffix: string, status = 'CREATE_COMPLETE') => ({
      name: `hipaa-fhir-network-${suffix}`,
      status,
      tags: { Preview: 'true', Project: 'hipaa-fhir', EnvironmentSuffix: suffix },
    });
    const envs = ['a', 'b', 'c'].map((suffix) => ({ suffix, stacks: [stack(suffix)] }));
    test('a new environment past the cap is refused with a message naming the ones in use', () => {
      expect(() => enforceCap(envs, 'hipaa-fhir', 'd', 3)).toThrow(CapReachedError);
      expect(() => enforceCap(envs, 'hipaa-fhir', 'd', 3)).toThrow(
        'preview environment cap reached: 3 of 3 in use (a, b, c); d was not created. Merge or close a branch, or run npm run destroy -- --suffix <name>, then deploy again',
      );
    });
    test('updating an existing one, or creating below the cap, is allowed', () => {
      expect(enforceCap(envs, 'hipaa-fhir', 'b', 3)).toBe(3);
      expect(enforceCap(envs, 'hipaa-fhir', 'd', 4)).toBe(3);
    });
    test('a refused preview (its first stack ROLLBACK_COMPLETE) or one being deleted holds no slot', () => {
      const withLeftovers = [
        ...envs.slice(0, 2),
        { suffix: 'c', stacks: [stack('c', 'ROLLBACK_COMPLETE')] },
        { suffix: 'e', stacks: [stack('e', 'DELETE_IN_PROGRESS')] },
      ];
      expect(enforceCap(withLeftovers, 'hipaa-fhir', 'd', 3)).toBe(2);
    });
  });

  describe('destroy', () => {
    test('deletes in reverse dependency order and retries a failed deletion once', async () => {
      cfnMock.on(DeleteStackCommand).resolves({});
      let dataAttempts = 0;
      cfnMock.on(DescribeStacksCommand).callsFake((input: { StackName?: string }) => {
        if (input.StackName === 'hipaa-fhir-data-br-abc-1' && ++dataAttempts === 1)
          return { Stacks: [{ StackName: input.StackName, StackStatus: 'DELETE_FAILED', CreationTime: new Date() }] };
        return { Stacks: [{ StackName: input.StackName, StackStatus: 'DELETE_COMPLETE', CreationTime: new Date() }] };
      });
      const env: PreviewEnvironment = {
        suffix: 'br-abc-1',
        stacks: eph('br-abc-1', 'feature/abc-1', 'x').map((s) => ({
          name: s.StackName!,
          status: 'CREATE_COMPLETE',
          tags: { Preview: 'true', Profile: 'development' },
        })),
      };
      const lines: string[] = [];
      await destroyEnvironment(client(), 'hipaa-fhir', env, (l) => lines.push(l), 30);
      expect(cfnMock.commandCalls(DeleteStackCommand).map((c) => c.args[0].input.StackName)).toEqual([
        'hipaa-fhir-compute-br-abc-1',
        'hipaa-fhir-audit-br-abc-1',
        'hipaa-fhir-data-br-abc-1',
        'hipaa-fhir-data-br-abc-1',
        'hipaa-fhir-network-br-abc-1',
      ]);
      expect(lines).toContain('deleting hipaa-fhir-data-br-abc-1 (attempt 2)');
    });

    test('refuses anything not tagged ephemeral, or tagged production, before deleting a thing', async () => {
      const env: PreviewEnvironment = {
        suffix: 'prod',
        stacks: [{ name: 'hipaa-fhir-data-prod', status: 'CREATE_COMPLETE', tags: { Preview: 'true', Profile: 'production' } }],
      };
      await expect(destroyEnvironment(client(), 'hipaa-fhir', env)).rejects.toThrow(NotPreviewError);
      expect(cfnMock.commandCalls(DeleteStackCommand)).toHaveLength(0);
    });

    test('npm run destroy without --yes and without a terminal destroys nothing', async () => {
      cfnMock.on(DescribeStacksCommand).resolves({ Stacks: eph('br-abc-1', 'feature/abc-1', '2026-11-23T00:00:00Z') });
      const spy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
      try {
        expect(await main(['destroy', '--suffix', 'br-abc-1'], client(), now)).toBe(1);
      } finally {
        spy.mockRestore();
      }
      expect(cfnMock.commandCalls(DeleteStackCommand)).toHaveLength(0);
    });

    test('sweep is a dry run without --yes', async () => {
      cfnMock.on(DescribeStacksCommand).resolves({ Stacks: eph('old', 'feature/old', '2026-11-20T00:00:00Z') });
      const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
      try {
        expect(await main(['sweep'], client(), now)).toBe(0);
        expect(log.mock.calls.map((c) => c[0])).toEqual(
          expect.arrayContaining([
            'sweep: old (expired; branch feature/old, expires 2026-11-20T00:00:00Z)',
            'dry run: add --yes to delete',
          ]),
        );
      } finally {
        log.mockRestore();
      }
      expect(cfnMock.commandCalls(DeleteStackCommand)).toHaveLength(0);
    });

    test('check-cap fails with the cap message', async () => {
      cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [...eph('br-a', 'feature/a', 'x'), ...eph('br-b', 'feature/b', 'x')] });
      await expect(main(['check-cap', '--suffix', 'br-c', '--max', '2'], client(), now)).rejects.toThrow(
        'cap reached: 2 of 2 in use (br-a, br-b); br-c was not created',
      );
    });
  });

  describe('flags', () => {
    const usageError = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
      try {
        parsePreviewArgs(argv, env);
      } catch (error) {
        expect(error).toBeInstanceOf(UsageError);
        return (error as Error).message;
      }
      throw new Error(`no usage error for ${JSON.stringify(argv)}`);
    };

    test.each([
      [['check-cap', '--suffix', 'a', '--max', 'abc'], '--max must be a whole number ≥ 1, not "abc"'],
      [['check-cap', '--suffix', 'a', '--max', '0'], '--max must be a whole number ≥ 1, not "0"'],
      [['check-cap', '--suffix', 'a', '--max'], "Option '--max <value>' argument missing"],
      [['destroy', '--suffix', '--yes'], '--suffix needs a value (for one that starts with "-", write --suffix=<value>)'],
      [['destroy', '--suffix'], "Option '--suffix <value>' argument missing"],
      [['destroy', '--record', 'x'], "Unknown option '--record'"],
      [['sweep', '--yess'], "Unknown option '--yess'"],
      [['destroy'], 'destroy needs --suffix or --branch'],
      [['check-cap'], 'check-cap needs --suffix or --branch'],
      [['suffix'], 'suffix needs --branch'],
      [[], 'a command is required'],
      [['nuke'], 'unknown command "nuke": use one of suffix, list, check-cap, destroy, sweep'],
      [['list', 'extra'], 'unexpected argument "extra"'],
      [['list', '--yes'], 'list does not take --yes'],
      [['sweep', '--suffix', 'a'], 'sweep does not take --suffix'],
      [
        ['destroy', '--suffix', 'prod', '--yes'],
        '--suffix "prod" is not a preview environment (their suffixes start with "br-"); this command only acts on previews',
      ],
      [
        ['check-cap', '--suffix', 'alice'],
        '--suffix "alice" is not a preview environment (their suffixes start with "br-"); this command only acts on previews',
      ],
      [['destroy', '--suffix', 'a', '--branch', 'feature/a'], 'use either --suffix or --branch, not both'],
    ])('%j: %s', (argv, message) => {
      expect(usageError(argv)).toBe(message);
    });

    test('a bad MAX_PREVIEW_ENVIRONMENTS is a usage error too, never a disabled cap', () => {
      expect(usageError(['check-cap', '--suffix', 'br-a'], { MAX_PREVIEW_ENVIRONMENTS: 'abc' })).toBe(
        'MAX_PREVIEW_ENVIRONMENTS must be a whole number ≥ 1, not "abc"',
      );
      expect(parsePreviewArgs(['check-cap', '--suffix', 'br-a'], { MAX_PREVIEW_ENVIRONMENTS: '7' })?.max).toBe(7);
      expect(parsePreviewArgs(['check-cap', '--branch', 'feature/ABC-1', '--max', '3'], {})).toMatchObject({
        suffix: expect.stringMatching(/^br-/),
        max: 3,
      });
    });

    test('--help parses to nothing and main prints usage without touching AWS', async () => {
      expect(parsePreviewArgs(['destroy', '--help'])).toBeUndefined();
      const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
      try {
        expect(await main(['--help'])).toBe(0);
        expect(log.mock.calls[0][0]).toMatch(/^usage: npm run preview -- <command>/);
      } finally {
        log.mockRestore();
      }
    });

    test('the SDK retries (bounded, adaptive) instead of hand-written loops', () => {
      expect(SDK_RETRY).toEqual({ maxAttempts: 8, retryMode: 'adaptive' });
    });
  });

  describe('as a command (spawned)', () => {
    const script = join(__dirname, '..', '..', '..', 'scripts', 'operations', 'preview.ts');
    const home = mkdtempSync(join(tmpdir(), 'ephemeral-cli-'));
    afterAll(() => rmSync(home, { recursive: true, force: true }));
    // No credentials anywhere: no profile files, no instance metadata, no keys in the environment.
    const env = {
      PATH: process.env.PATH,
      HOME: home,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_REGION: 'eu-west-2',
      AWS_CONFIG_FILE: join(home, 'none'),
      AWS_SHARED_CREDENTIALS_FILE: join(home, 'none'),
    };
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [require.resolve('ts-node/dist/bin'), '--transpile-only', script, ...args], {
        env,
        encoding: 'utf8',
        timeout: 60_000,
      });

    test('check-cap --max abc: one line and the usage, exit 2, no AWS call', () => {
      const r = run('check-cap', '--suffix', 'a', '--max', 'abc');
      expect(r.status).toBe(2);
      expect(r.stderr.split('\n')[0]).toBe('preview: --max must be a whole number ≥ 1, not "abc"');
      expect(r.stderr).toContain('usage: npm run preview -- <command>');
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });

    test('without credentials: one line saying how to provide them, exit 1', () => {
      const r = run('list');
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^preview: no AWS credentials found: set AWS_PROFILE .*\n$/);
    });
  });
});
