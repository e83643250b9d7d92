import { ConfigError } from '../contract/errors';
import type { Profile } from './environment-config';

/** How often the drill runs; the "drill did not report" alarm evaluates one such calendar period. */
export type DrillCadence = 'daily' | 'weekly';

/** The restore drill of one environment (see lib/constructs/restore-drill.ts). */
export interface RestoreDrillSettings {
  readonly enabled: boolean;
  /** EventBridge cron expression in UTC that fires once a day or once a week. */
  readonly schedule: string;
  readonly cadence: DrillCadence;
  /** Alarm when the recovery point of a drill is older than this. */
  readonly rpoTargetMinutes: number;
  /** Alarm when a drill takes longer than this from start to a verified restore. */
  readonly rtoTargetMinutes: number;
}

/** Weekly, Sunday 03:00 UTC, in production; off by default in the development profile (synthetic data, 1-day backups). */
export const RESTORE_DRILL_DEFAULTS: Readonly<Record<Profile, RestoreDrillSettings>> = {
  development: { enabled: false, schedule: 'cron(0 3 ? * SUN *)', cadence: 'weekly', rpoTargetMinutes: 15, rtoTargetMinutes: 120 },
  production: { enabled: true, schedule: 'cron(0 3 ? * SUN *)', cadence: 'weekly', rpoTargetMinutes: 15, rtoTargetMinutes: 120 },
};

export const SCHEDULE_RULE =
  'use an EventBridge cron expression in UTC that fires once a day or once a week, e.g. cron(0 3 ? * SUN *) (weekly) or cron(0 3 * * ? *) (daily)';
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/**
 * The cadence of a schedule, or undefined when it is not one the drill supports. Only a single
 * minute and hour, every month and year, and either every day (`* * ?`) or one weekday (`? * DAY`):
 * the "did not report" alarm needs a fixed calendar period (a wall-clock day or week).
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html
 */
export function scheduleCadence(schedule: string): DrillCadence | undefined {
  const m = /^cron\((\d{1,2}) (\d{1,2}) (\S+) (\S+) (\S+) (\S+)\)$/.exec(schedule);
  if (!m) return undefined;
  const [, minute, hour, dayOfMonth, month, dayOfWeek, year] = m;
  if (Number(minute) > 59 || Number(hour) > 23 || month !== '*' || year !== '*') return undefined;
  if (dayOfMonth === '*' && dayOfWeek === '?') return 'daily';
  if (dayOfMonth === '?' && (DAYS.includes(dayOfWeek) || /^[1-7]$/.test(dayOfWeek))) return 'weekly';
  return undefined;
}

function integerIn(key: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${key} ${JSON.stringify(value)} is invalid: expected a whole number from ${min} to ${max}`);
  }
  return value;
}

/** Parses `restoreDrill` of one environment on top of its profile's defaults; one-line ConfigError. */
export function parseRestoreDrill(raw: unknown, profile: Profile): RestoreDrillSettings {
  const defaults = RESTORE_DRILL_DEFAULTS[profile];
  if (raw === undefined || raw === null) return defaults;
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new ConfigError(`restoreDrill ${JSON.stringify(raw)} is invalid: expected an object`);
  const r = raw as Record<string, unknown>;
  const allowed = ['enabled', 'schedule', 'rpoTargetMinutes', 'rtoTargetMinutes'];
  for (const key of Object.keys(r)) {
    if (!allowed.includes(key)) throw new ConfigError(`unknown restoreDrill key "restoreDrill.${key}": use one of ${allowed.join(', ')}`);
  }
  const enabled = r.enabled ?? defaults.enabled;
  if (typeof enabled !== 'boolean') throw new ConfigError(`restoreDrill.enabled ${JSON.stringify(enabled)} is invalid: use true or false`);
  const schedule = r.schedule ?? defaults.schedule;
  const cadence = typeof schedule === 'string' ? scheduleCadence(schedule) : undefined;
  if (typeof schedule !== 'string' || !cadence)
    throw new ConfigError(`restoreDrill.schedule ${JSON.stringify(schedule)} is invalid: ${SCHEDULE_RULE}`);
  const rpoTargetMinutes = integerIn('restoreDrill.rpoTargetMinutes', r.rpoTargetMinutes ?? defaults.rpoTargetMinutes, 1, 1440);
  const rtoTargetMinutes = integerIn('restoreDrill.rtoTargetMinutes', r.rtoTargetMinutes ?? defaults.rtoTargetMinutes, 5, 1440);
  return { enabled, schedule, cadence, rpoTargetMinutes, rtoTargetMinutes };
}
