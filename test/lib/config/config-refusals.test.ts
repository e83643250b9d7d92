/**
 * What the configuration refuses before anything is synthesized, and the tags a preview carries: each
 * refusal is one line naming the setting, so a bad cdk.json never reaches a stack.
 */
import { AppPlan, resolveApp } from '../../../lib/config';
import { ConfigError } from '../../../lib/contract';
import { cdkJsonContext } from '../../helpers';

const shipped = cdkJsonContext();
const NOW = new Date('2026-12-01T10:00:00.000Z');
const problemsOf = (overrides: Record<string, unknown>, now = NOW): readonly string[] => {
  try {
    resolveApp({ ...shipped, ...overrides }, {}, now);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
};
const preview = (branch: string, now = NOW) => {
  const plan = resolveApp({ ...shipped, branch }, {}, now);
  if (plan.mode !== 'preview') throw new Error(`expected a preview plan, got ${plan.mode}`);
  return (plan as Extract<AppPlan, { mode: 'preview' }>).environment;
};

describe('the configuration refuses', () => {
  test('a project name that cannot name resources', () => {
    expect(problemsOf({ project: 'Hipaa_FHIR' })).toEqual([expect.stringMatching(/^project "Hipaa_FHIR" is invalid: /)]);
  });

  test('a project name that cannot name resources, alone: every name derived from it would be wrong', () => {
    const environments = { dev: { vpcCidr: '10.40.0.1/16' } };
    expect(problemsOf({ project: 'Hipaa_FHIR', environments, pipeline: undefined })).toEqual([
      expect.stringMatching(/^project "Hipaa_FHIR" is invalid: /),
    ]);
  });

  test('an environment suffix that cannot name resources', () => {
    expect(problemsOf({ environments: { Dev_1: {} }, pipeline: undefined })).toEqual([
      expect.stringMatching(/^environmentSuffix "Dev_1" is invalid: /),
    ]);
  });

  test('an environment suffix that cannot name resources, together with every other problem of the configuration', () => {
    expect(problemsOf({ environments: { Dev_1: {}, dev: { vpcCidr: '10.40.0.1/16' } }, pipeline: undefined })).toEqual([
      expect.stringMatching(/^environmentSuffix "Dev_1" is invalid: /),
      expect.stringMatching(/^environments\.dev\.vpcCidr "10\.40\.0\.1\/16" is invalid: host bits are set/),
    ]);
  });

  test('a long-lived environment whose suffix is reserved for previews (br-)', () => {
    const [problem] = problemsOf({ environments: { 'br-feature-x': {} }, pipeline: undefined });
    expect(problem).toMatch(/^environmentSuffix "br-feature-x" is invalid: /);
  });

  test.each(['x123456789012', '1234567890123', '12345678901', '123456789012 '])(
    'an account id that is not exactly 12 digits (%j)',
    (account) => {
      expect(problemsOf({ environmentSuffix: 'alice', account })).toEqual([expect.stringMatching(/^account ".*" is invalid: /)]);
    },
  );
});

describe("a preview's tags", () => {
  test('ExpiresAt is a UTC instant to the second, previews.ttlHours after the synth, whatever the milliseconds', () => {
    expect(preview('feature/x', new Date('2026-12-01T10:00:00.789Z')).tags.ExpiresAt).toBe('2026-12-04T10:00:00Z');
  });

  test('the Branch tag keeps at most 256 characters, with characters a tag value cannot hold replaced', () => {
    const long = `feature/${'a'.repeat(300)}`;
    expect(preview(long).tags.Branch).toBe(long.slice(0, 256));
    expect(preview('feature/x#1~y').tags.Branch).toBe('feature/x_1_y');
  });
});
