import { parseEnvironmentConfig, parsePipelineConfig } from '../../../lib/config';
import { ConfigError } from '../../../lib/contract';

const envs = [
  parseEnvironmentConfig({ project: 'hipaa-fhir', environmentSuffix: 'prod', profile: 'production' }),
  parseEnvironmentConfig({ project: 'hipaa-fhir', environmentSuffix: 'dev' }),
];
const base = {
  repository: 'org/repo',
  connectionArn: 'arn:aws:codeconnections:eu-west-2:123456789012:connection/0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b',
};
const defaults = { project: 'hipaa-fhir', region: 'eu-west-2' };

describe('parsePipelineConfig', () => {
  test('defaults: branch main, account from the connection, docs ignored, production last', () => {
    const p = parsePipelineConfig(base, defaults, envs);
    expect(p).toMatchObject({ branch: 'main', account: '123456789012', destroyable: false, ignoredPaths: ['**/*.md', 'docs/**'] });
    expect(p.environments.map((e) => e.environmentSuffix)).toEqual(['dev', 'prod']);
  });

  test('the legacy codestar-connections ARN is accepted', () => {
    expect(
      parsePipelineConfig({ ...base, connectionArn: base.connectionArn.replace('codeconnections', 'codestar-connections') }, defaults, envs)
        .connectionArn,
    ).toContain('codestar-connections');
  });

  test.each([
    [
      { connectionArn: 'arn:aws:codecommit:eu-west-2:123456789012:repo' },
      'pipeline.connectionArn "arn:aws:codecommit:eu-west-2:123456789012:repo" is invalid: use arn:aws:codeconnections',
    ],
    [
      { connectionArn: base.connectionArn.replace('eu-west-2', 'us-east-1') },
      'region "eu-west-2" does not match pipeline.connectionArn, whose connection is in us-east-1: the pipeline runs in the connection\'s region; set "region" to us-east-1 or use a connection created in eu-west-2',
    ],
    [{ repository: 'just-a-name' }, 'pipeline.repository "just-a-name" is invalid: use owner/name'],
    [{ branch: 'feature//x' }, 'pipeline.branch "feature//x" is invalid'],
    [{ notificationEmail: 'nope' }, 'pipeline.notificationEmail "nope" is invalid'],
    [{ destroyable: 'yes' }, 'pipeline.destroyable "yes" is invalid: use true or false'],
    [{ ignoredPaths: [] as string[] }, undefined],
    [{ repo: 'x' }, 'unknown pipeline key "pipeline.repo"'],
  ])('%j', (overrides, message) => {
    const run = () => parsePipelineConfig({ ...base, ...overrides }, defaults, envs);
    if (message === undefined) expect(run).not.toThrow();
    else expect(run).toThrow(message);
  });

  test('at least one environment', () => {
    expect(() => parsePipelineConfig(base, defaults, [])).toThrow(ConfigError);
  });
});
