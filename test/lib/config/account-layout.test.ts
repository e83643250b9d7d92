import { checkAccountLayout, parseEnvironmentConfig, parsePreviewConfig, resolveAccounts } from '../../../lib/config';
import { ConfigError } from '../../../lib/contract';

describe('resolveAccounts', () => {
  test('an environment or the sandbox without an account of its own deploys into the pipeline account', () => {
    const envs = [
      parseEnvironmentConfig({ project: 'hipaa-fhir', environmentSuffix: 'dev' }),
      parseEnvironmentConfig({ project: 'hipaa-fhir', environmentSuffix: 'prod', profile: 'production', account: '333333333333' }),
    ];
    expect(resolveAccounts('111111111111', envs, parsePreviewConfig({}, 'hipaa-fhir'))).toEqual({
      pipeline: '111111111111',
      environments: { dev: '111111111111', prod: '333333333333' },
      sandbox: '111111111111',
    });
    expect(resolveAccounts('111111111111', envs, parsePreviewConfig({ account: '444444444444' }, 'hipaa-fhir')).sandbox).toBe(
      '444444444444',
    );
  });
});

describe('checkAccountLayout', () => {
  const env = (suffix: string, profile: string, account?: string) =>
    parseEnvironmentConfig({ project: 'hipaa-fhir', environmentSuffix: suffix, profile, account });
  const envs = [env('dev', 'development', '222222222222'), env('prod', 'production', '333333333333')];

  test('a sandbox apart from production is accepted (three accounts: tooling, non-production + sandbox, production)', () => {
    expect(() =>
      checkAccountLayout(resolveAccounts('111111111111', envs, parsePreviewConfig({ account: '222222222222' }, 'hipaa-fhir')), envs),
    ).not.toThrow();
  });

  test('per-branch environments in the production account fail with one line that says how to fix it', () => {
    const run = () =>
      checkAccountLayout(resolveAccounts('111111111111', envs, parsePreviewConfig({ account: '333333333333' }, 'hipaa-fhir')), envs);
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(
      'previews.account 333333333333 holds the production environment "prod": preview environments must deploy into a separate sandbox account; set previews.account',
    );
  });

  test('no accounts at all puts production and the sandbox in the pipeline account: refused', () => {
    const same = [env('dev', 'development'), env('prod', 'production')];
    expect(() => checkAccountLayout(resolveAccounts('111111111111', same, parsePreviewConfig({}, 'hipaa-fhir')), same)).toThrow(
      /holds the production environment "prod"/,
    );
  });
});
