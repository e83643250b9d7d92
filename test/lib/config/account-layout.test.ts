import { accountLayoutProblem, resolveAccounts } from '../../../lib/config';
import { testConfig } from '../../helpers';

describe('resolveAccounts', () => {
  test('an environment or the sandbox without an account of its own deploys into the pipeline account', () => {
    const envs = [
      testConfig({ environmentSuffix: 'dev' }),
      testConfig({ environmentSuffix: 'prod', profile: 'production', account: '333333333333' }),
    ];
    expect(resolveAccounts('111111111111', envs, {})).toEqual({
      pipeline: '111111111111',
      environments: { dev: '111111111111', prod: '333333333333' },
      sandbox: '111111111111',
    });
    expect(resolveAccounts('111111111111', envs, { account: '444444444444' }).sandbox).toBe('444444444444');
  });
});

describe('accountLayoutProblem', () => {
  const env = (suffix: string, profile: 'development' | 'production', account?: string) =>
    testConfig({ environmentSuffix: suffix, profile, ...(account ? { account } : {}) });
  const envs = [env('dev', 'development', '222222222222'), env('prod', 'production', '333333333333')];

  test('a sandbox apart from production is accepted (three accounts: tooling, non-production + sandbox, production)', () => {
    expect(accountLayoutProblem(resolveAccounts('111111111111', envs, { account: '222222222222' }), envs)).toBeUndefined();
  });

  test('per-branch environments in the production account are refused with one line that says how to fix it', () => {
    expect(accountLayoutProblem(resolveAccounts('111111111111', envs, { account: '333333333333' }), envs)).toBe(
      'previews.account 333333333333 holds the production environment "prod": preview environments must deploy into a separate sandbox account; set previews.account to your sandbox (or non-production) account id, or give environments.prod.account its own production account',
    );
  });

  test('no accounts at all puts production and the sandbox in the pipeline account: refused', () => {
    const same = [env('dev', 'development'), env('prod', 'production')];
    expect(accountLayoutProblem(resolveAccounts('111111111111', same, {}), same)).toMatch(/holds the production environment "prod"/);
  });
});
