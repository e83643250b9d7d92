import type { DefaultedRestoreDrill } from './generated/cdk-context';

/** How often the drill runs; the "drill did not report" alarm evaluates one such calendar period. */
export type DrillCadence = 'daily' | 'weekly';

/**
 * The restore drill of one environment (see lib/constructs/restore-drill.ts): its settings
 * (`environments.<suffix>.restoreDrill`, defaults by profile in the schema) and the cadence of its schedule.
 */
export interface RestoreDrillSettings extends DefaultedRestoreDrill {
  readonly cadence: DrillCadence;
}

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

/** The drill settings of a validated environment, with the cadence its schedule fires at. */
export function restoreDrillSettings(drill: DefaultedRestoreDrill): RestoreDrillSettings {
  const cadence = scheduleCadence(drill.schedule);
  // The schema's pattern admits exactly the schedules scheduleCadence knows (test/lib/config/restore-drill-config.test.ts).
  if (!cadence) throw new Error(`restoreDrill.schedule ${drill.schedule} passed the schema but has no cadence`);
  return { ...drill, cadence };
}
