import { CloudFormationClient, DeleteStackCommand, DescribeStacksCommand, Stack } from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import { CapReachedError, destroyEnvironment, enforceCap, EphemeralEnvironment, listEphemeralEnvironments, main, NotEphemeralError, selectForDeletion } from '../../scripts/ephemeral';

const cfnMock = mockClient(CloudFormationClient);
const LAYERS = ['network', 'data', 'audit', 'compute'];

function stacks(suffix: string, tags: Record<string, string>, status = 'CREATE_COMPLETE'): Stack[] {
  return LAYERS.map((layer) => ({
    StackName: `hipaa-fhir-${layer}-${suffix}`, StackStatus: status as Stack['StackStatus'], CreationTime: new Date(),
    Tags: Object.entries({ Project: 'hipaa-fhir', EnvironmentSuffix: suffix, Profile: 'ephemeral', ...tags }).map(([Key, Value]) => ({ Key, Value })),
  }));
}
const eph = (suffix: string, branch: string, expiresAt: string, status?: string) => stacks(suffix, { Ephemeral: 'true', Branch: branch, ExpiresAt: expiresAt }, status);

const now = new Date('2026-11-22T12:00:00Z');
const client = () => new CloudFormationClient({ region: 'eu-west-2' });

describe('ephemeral environments', () => {
  beforeEach(() => cfnMock.reset());

  test('listing groups the project\'s Ephemeral=true stacks by suffix across pages; persistent and foreign stacks are ignored', async () => {
    cfnMock.on(DescribeStacksCommand)
      .resolvesOnce({ Stacks: [...eph('abc-1', 'feature/abc-1', '2026-11-23T00:00:00Z'), ...stacks('prod', {})], NextToken: 't' })
      .resolvesOnce({ Stacks: [...eph('old', 'feature/old', '2026-11-20T00:00:00Z'), ...stacks('x', { Ephemeral: 'true', Project: 'other' })] });
    const envs = await listEphemeralEnvironments(client(), 'hipaa-fhir');
    expect(envs.map((e) => [e.suffix, e.branch, e.expiresAt, e.stacks.length])).toEqual([
      ['abc-1', 'feature/abc-1', '2026-11-23T00:00:00Z', 4],
      ['old', 'feature/old', '2026-11-20T00:00:00Z', 4],
    ]);
  });

  describe('sweeper selection', () => {
    const envs: EphemeralEnvironment[] = [
      { suffix: 'expired', branch: 'feature/expired', expiresAt: '2026-11-22T11:59:59Z', stacks: [] },
      { suffix: 'fresh', branch: 'feature/fresh', expiresAt: '2026-11-23T00:00:00Z', stacks: [] },
      { suffix: 'gone', branch: 'feature/gone', expiresAt: '2026-11-25T00:00:00Z', stacks: [] },
      { suffix: 'busy', branch: 'feature/busy', expiresAt: '2026-11-01T00:00:00Z', stacks: [{ name: 'hipaa-fhir-data-busy', status: 'UPDATE_IN_PROGRESS', tags: {} }] },
      { suffix: 'no-tag', stacks: [] },
    ];
    test('TTL only: expired ones, not those mid-update or without an expiry', () => {
      expect(selectForDeletion(envs, now).map((s) => [s.env.suffix, s.reason])).toEqual([['expired', 'expired']]);
    });
    test('with the live branches: also those whose branch is gone', () => {
      const live = new Set(['feature/fresh', 'feature/expired', 'main']);
      expect(selectForDeletion(envs, now, live).map((s) => [s.env.suffix, s.reason])).toEqual([['expired', 'expired'], ['gone', 'branch-gone']]);
    });
    test('exactly at ExpiresAt counts as expired', () => {
      expect(selectForDeletion([{ suffix: 'edge', expiresAt: '2026-11-22T12:00:00Z', stacks: [] }], now)).toHaveLength(1);
    });
  });

  describe('cap', () => {
    const envs = ['a', 'b', 'c'].map((suffix) => ({ suffix, stacks: [] }));
    test('a new environment past the cap is refused with a message naming the ones in use', () => {
      expect(() => enforceCap(envs, 'd', 3)).toThrow(CapReachedError);
      expect(() => enforceCap(envs, 'd', 3)).toThrow('ephemeral environment cap reached: 3 of 3 in use (a, b, c); merge or close a branch, or run npm run destroy -- --suffix <name>');
    });
    test('updating an existing one, or creating below the cap, is allowed', () => {
      expect(() => enforceCap(envs, 'b', 3)).not.toThrow();
      expect(() => enforceCap(envs, 'd', 4)).not.toThrow();
    });
  });

  describe('destroy', () => {
    test('deletes in reverse dependency order and retries a failed deletion once', async () => {
      cfnMock.on(DeleteStackCommand).resolves({});
      let dataAttempts = 0;
      cfnMock.on(DescribeStacksCommand).callsFake((input: { StackName?: string }) => {
        if (input.StackName === 'hipaa-fhir-data-abc-1' && ++dataAttempts === 1) return { Stacks: [{ StackName: input.StackName, StackStatus: 'DELETE_FAILED', CreationTime: new Date() }] };
        return { Stacks: [{ StackName: input.StackName, StackStatus: 'DELETE_COMPLETE', CreationTime: new Date() }] };
      });
      const env: EphemeralEnvironment = { suffix: 'abc-1', stacks: eph('abc-1', 'feature/abc-1', 'x').map((s) => ({ name: s.StackName!, status: 'CREATE_COMPLETE', tags: { Ephemeral: 'true', Profile: 'ephemeral' } })) };
      const lines: string[] = [];
      await destroyEnvironment(client(), 'hipaa-fhir', env, (l) => lines.push(l), 30);
      expect(cfnMock.commandCalls(DeleteStackCommand).map((c) => c.args[0].input.StackName)).toEqual([
        'hipaa-fhir-compute-abc-1', 'hipaa-fhir-audit-abc-1', 'hipaa-fhir-data-abc-1', 'hipaa-fhir-data-abc-1', 'hipaa-fhir-network-abc-1',
      ]);
      expect(lines).toContain('deleting hipaa-fhir-data-abc-1 (attempt 2)');
    });

    test('refuses anything not tagged ephemeral, or tagged production, before deleting a thing', async () => {
      const env: EphemeralEnvironment = { suffix: 'prod', stacks: [{ name: 'hipaa-fhir-data-prod', status: 'CREATE_COMPLETE', tags: { Ephemeral: 'true', Profile: 'production' } }] };
      await expect(destroyEnvironment(client(), 'hipaa-fhir', env)).rejects.toThrow(NotEphemeralError);
      expect(cfnMock.commandCalls(DeleteStackCommand)).toHaveLength(0);
    });

    test('npm run destroy without --yes and without a terminal destroys nothing', async () => {
      cfnMock.on(DescribeStacksCommand).resolves({ Stacks: eph('abc-1', 'feature/abc-1', '2026-11-23T00:00:00Z') });
      const spy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
      try {
        expect(await main(['destroy', '--suffix', 'abc-1'], client(), now)).toBe(1);
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
        expect(log.mock.calls.map((c) => c[0])).toEqual(expect.arrayContaining(['sweep: old (expired; branch feature/old, expires 2026-11-20T00:00:00Z)', 'dry run: add --yes to delete']));
      } finally {
        log.mockRestore();
      }
      expect(cfnMock.commandCalls(DeleteStackCommand)).toHaveLength(0);
    });

    test('check-cap fails with the cap message', async () => {
      cfnMock.on(DescribeStacksCommand).resolves({ Stacks: [...eph('a', 'feature/a', 'x'), ...eph('b', 'feature/b', 'x')] });
      await expect(main(['check-cap', '--suffix', 'c', '--max', '2'], client(), now)).rejects.toThrow('cap reached: 2 of 2 in use (a, b)');
    });
  });
});
