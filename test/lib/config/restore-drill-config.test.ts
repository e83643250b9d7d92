import { CDK_CONTEXT_SCHEMA, scheduleCadence, validateContext } from '../../../lib/config';
import { ConfigError } from '../../../lib/contract';
import { cdkJsonContext, testConfig } from '../../helpers';

const shipped = cdkJsonContext();
const env = shipped.environments as Record<string, Record<string, unknown>>;

function refused(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('restoreDrill configuration', () => {
  test('production runs it weekly on Sunday 03:00 UTC by default, development does not; targets 15 and 120 minutes', () => {
    expect(testConfig({ profile: 'production' }).restoreDrill).toEqual({
      enabled: true,
      schedule: 'cron(0 3 ? * SUN *)',
      cadence: 'weekly',
      rpoTargetMinutes: 15,
      rtoTargetMinutes: 120,
    });
    expect(testConfig({ profile: 'development' }).restoreDrill.enabled).toBe(false);
  });

  test('an environment overrides any of its keys; a daily schedule has a daily cadence', () => {
    const config = testConfig({
      profile: 'development',
      restoreDrill: { enabled: true, schedule: 'cron(30 1 * * ? *)', rpoTargetMinutes: 10, rtoTargetMinutes: 90 },
    });
    expect(config.restoreDrill).toEqual({
      enabled: true,
      schedule: 'cron(30 1 * * ? *)',
      cadence: 'daily',
      rpoTargetMinutes: 10,
      rtoTargetMinutes: 90,
    });
    expect(testConfig({ profile: 'production', restoreDrill: { enabled: false } }).restoreDrill).toMatchObject({
      enabled: false,
      rtoTargetMinutes: 120,
    });
  });

  const SUPPORTED = ['cron(0 3 ? * SUN *)', 'cron(59 23 ? * 7 *)', 'cron(0 0 * * ? *)', 'cron(05 09 ? * MON *)'];
  const UNSUPPORTED = [
    'rate(7 days)',
    'cron(0 3 ? * MON-FRI *)',
    'cron(0 */6 * * ? *)',
    'cron(0 3 1 * ? *)',
    'cron(60 3 ? * SUN *)',
    'cron(0 24 * * ? *)',
    'cron(0 3 ? * SUN 2027)',
    'cron(0 3 * * SUN *)',
    'cron(0 3 ? * 8 *)',
  ];

  test('only schedules that fire once a day or once a week are accepted (the missed-drill alarm needs a calendar period)', () => {
    expect(SUPPORTED.map(scheduleCadence)).toEqual(['weekly', 'weekly', 'daily', 'weekly']);
    for (const schedule of UNSUPPORTED) expect([schedule, scheduleCadence(schedule)]).toEqual([schedule, undefined]);
  });

  test('the schema admits exactly the schedules that have a cadence', () => {
    const pattern = new RegExp(CDK_CONTEXT_SCHEMA.definitions.restoreDrill.properties.schedule.pattern);
    for (const schedule of [...SUPPORTED, ...UNSUPPORTED]) {
      expect([schedule, pattern.test(schedule)]).toEqual([schedule, scheduleCadence(schedule) !== undefined]);
    }
  });

  test.each([
    [
      { schedule: 'rate(7 days)' },
      'environments.prod.restoreDrill.schedule "rate(7 days)" is invalid: use an EventBridge cron expression in UTC that fires once a day or once a week, e.g. cron(0 3 ? * SUN *) (weekly) or cron(0 3 * * ? *) (daily)',
    ],
    [{ rtoTargetMinutes: 0 }, 'environments.prod.restoreDrill.rtoTargetMinutes 0 is invalid: expected a whole number from 5 to 1440'],
    [{ rtoTargetMinutes: 2000 }, 'environments.prod.restoreDrill.rtoTargetMinutes 2000 is invalid: expected a whole number from 5 to 1440'],
    [
      { schedule: 'cron(60 3 ? * SUN *)' },
      'environments.prod.restoreDrill.schedule "cron(60 3 ? * SUN *)" is invalid: use an EventBridge cron expression in UTC that fires once a day or once a week, e.g. cron(0 3 ? * SUN *) (weekly) or cron(0 3 * * ? *) (daily)',
    ],
    [{ rpoTargetMinutes: 2.5 }, 'environments.prod.restoreDrill.rpoTargetMinutes 2.5 is invalid: expected a whole number'],
    [{ enabled: 'yes' }, 'environments.prod.restoreDrill.enabled "yes" is invalid: use true or false'],
    [{ rtoTargetMinute: 60 }, 'unknown key "rtoTargetMinute" in environments.prod.restoreDrill (did you mean "rtoTargetMinutes"?)'],
  ])('cdk.json restoreDrill %j is refused by the schema with one line', (restoreDrill, message) => {
    expect(refused(() => validateContext({ ...shipped, environments: { ...env, prod: { ...env.prod, restoreDrill } } }))).toBe(message);
  });
});
