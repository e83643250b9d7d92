import { AppPlan, resolveApp } from '../../../lib/config';
import { ConfigError } from '../../../lib/contract';
import { referencePipelineConfig } from '../../../scripts/generators/reference-app';
import { TEST_NOW } from '../../helpers';

const connectionArn = 'arn:aws:codeconnections:eu-west-2:123456789012:connection/0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b';
/** A pipeline in the connection's account, prod listed before dev, previews in a sandbox of their own. */
const context = (pipeline: Record<string, unknown> = {}, rest: Record<string, unknown> = {}) => ({
  project: 'hipaa-fhir',
  region: 'eu-west-2',
  pipeline: { repository: 'org/repo', connectionArn, ...pipeline },
  previews: { account: '444444444444' },
  environments: { prod: { profile: 'production', account: '333333333333' }, dev: {} },
  ...rest,
});
const pipelineOf = (plan: AppPlan) => (plan.mode === 'delivery' ? plan.pipeline : undefined);

function problems(input: Record<string, unknown>): readonly string[] {
  try {
    resolveApp(input, {}, TEST_NOW);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('the pipeline, resolved', () => {
  test('defaults: branch main, account from the connection, docs ignored, production last', () => {
    const p = pipelineOf(resolveApp(context(), {}, TEST_NOW))!;
    expect(p).toMatchObject({ branch: 'main', account: '123456789012', destroyable: false, ignoredPaths: ['**/*.md', 'docs/**'] });
    expect(p.environments.map((e) => e.environmentSuffix)).toEqual(['dev', 'prod']);
  });

  test('the account: pipeline.account, else the context account, else the connection account', () => {
    expect(pipelineOf(resolveApp(context({}, { account: '111111111111' }), {}, TEST_NOW))!.account).toBe('111111111111');
    expect(pipelineOf(resolveApp(context({ account: '555555555555' }, { account: '111111111111' }), {}, TEST_NOW))!.account).toBe(
      '555555555555',
    );
    expect(referencePipelineConfig().account).toBe('111111111111');
  });

  test('the legacy codestar-connections ARN is accepted', () => {
    const legacy = connectionArn.replace('codeconnections', 'codestar-connections');
    expect(pipelineOf(resolveApp(context({ connectionArn: legacy }), {}, TEST_NOW))!.connectionArn).toBe(legacy);
  });

  test.each([
    [
      { connectionArn: 'arn:aws:codecommit:eu-west-2:123456789012:repo' },
      'pipeline.connectionArn "arn:aws:codecommit:eu-west-2:123456789012:repo" is invalid: use arn:aws:codeconnections:<region>:<account>:connection/<uuid> (or codestar-connections)',
    ],
    [
      { connectionArn: connectionArn.replace('eu-west-2', 'us-east-1') },
      'region "eu-west-2" does not match pipeline.connectionArn, whose connection is in us-east-1: the pipeline runs in the connection\'s region; set "region" to us-east-1 or use a connection created in eu-west-2',
    ],
    [{ repository: 'just-a-name' }, 'pipeline.repository "just-a-name" is invalid: use owner/name of the connected repository'],
    [{ branch: 'feature//x' }, 'pipeline.branch "feature//x" is invalid: use a git branch name such as main'],
    [{ notificationEmail: 'nope' }, 'pipeline.notificationEmail "nope" is invalid: use an e-mail address'],
    [{ destroyable: 'yes' }, 'pipeline.destroyable "yes" is invalid: use true or false'],
    [
      { ignoredPaths: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] },
      'pipeline.ignoredPaths ["a","b","c","d","e","f","g","h","i"] is invalid: expected a list of at most 8 items',
    ],
    [{ ignoredPaths: [''] }, 'pipeline.ignoredPaths.0 "" is invalid: must not be empty'],
    [
      { repo: 'x' },
      'unknown key "repo" in pipeline (allowed: repository, branch, connectionArn, account, notificationEmail, destroyable, ignoredPaths)',
    ],
  ])('%j', (overrides, message) => {
    expect(problems(context(overrides))).toEqual([message]);
  });

  test('no ignored paths is allowed', () => {
    expect(pipelineOf(resolveApp(context({ ignoredPaths: [] }), {}, TEST_NOW))!.ignoredPaths).toEqual([]);
  });
});
