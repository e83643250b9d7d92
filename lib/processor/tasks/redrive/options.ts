/** The re-drive task's flags: parsed strictly, checked, and written back for the ECS task's command. */
import { parseArgs } from 'util';
import { UsageError } from '../../../contract/errors';
import type { QuarantineReason } from '../../fhir/validate';
import { checkOperator } from '../operator';

/** Every stable quarantine code (the object literal must name each QuarantineReason exactly once). */
const REASONS = {
  TOO_LARGE: true,
  NOT_UTF8: true,
  NOT_JSON: true,
  NOT_A_RESOURCE: true,
  UNSUPPORTED_RESOURCE_TYPE: true,
  INVALID_FHIR: true,
  UNSTORABLE: true,
  KPL_MD5_MISMATCH: true,
  KPL_MALFORMED: true,
  CORRUPT_COMPRESSION: true,
  INFLATED_TOO_LARGE: true,
} as const satisfies Record<QuarantineReason, true>;
export const QUARANTINE_REASONS = Object.keys(REASONS) as readonly QuarantineReason[];

export const DEFAULT_BATCH_SIZE = 100;
export const MAX_BATCH_SIZE = 1_000;

export interface RedriveOptions {
  /** Only records quarantined with this code. @default every code */
  readonly reason?: QuarantineReason;
  /** Only records quarantined (received_at) at or after this instant. @default no bound */
  readonly since?: Date;
  /** Count what would pass; write no record and change no quarantine row. */
  readonly dryRun: boolean;
  /** Examine at most this many records. @default no limit */
  readonly limit?: number;
  /** Records per transaction. @default 100 */
  readonly batchSize: number;
  /** Who asked for it (their IAM caller ARN), recorded in the audit events. @default the worker id (see tasks/operator.ts) */
  readonly operator?: string;
}

/** The flag values of either command line (the task's and scripts/redrive.ts), before checking. */
export interface RedriveFlagValues {
  readonly reason?: string;
  readonly since?: string;
  readonly dryRun?: boolean;
  readonly limit?: string | number;
  readonly batchSize?: string | number;
  readonly operator?: string;
}

export const REDRIVE_USAGE = `usage: node dist/processor/tasks/redrive/main.js [--reason CODE] [--since ISO-8601] [--dry-run] [--limit N] [--batch-size N] [--operator ARN]
  --reason CODE   only records quarantined with CODE: ${QUARANTINE_REASONS.join(', ')}
  --since T       only records quarantined at or after T (2026-05-01, or 2026-05-01T12:00:00Z with a zone)
  --dry-run       count what would pass the current validator; change nothing
  --limit N       examine at most N records (N >= 1)
  --batch-size N  records per transaction, 1 to ${MAX_BATCH_SIZE} (default ${DEFAULT_BATCH_SIZE})
  --operator ARN  who asked for it: the Arn of their sts get-caller-identity (npm run redrive passes it)`;

const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2})))?$/;

/** A calendar date (UTC midnight) or a date-time with a zone; `2026-02-30` and zone-less times are refused. */
export function parseSince(text: string): Date {
  const refused = () =>
    new UsageError(
      `--since "${text.slice(0, 40)}" is not an ISO-8601 date or date-time with a zone: use e.g. 2026-05-01 or 2026-05-01T12:00:00Z`,
    );
  const m = ISO_8601.exec(text);
  if (!m) throw refused();
  const [, year, month, day, hour, minute, second, offsetHour, offsetMinute] = m;
  const daysInMonth = new Date(Date.UTC(Number(year), Number(month), 0)).getUTCDate();
  if (Number(month) < 1 || Number(month) > 12 || Number(day) < 1 || Number(day) > daysInMonth) throw refused();
  if (hour !== undefined && (Number(hour) > 23 || Number(minute) > 59 || Number(second ?? 0) > 59)) throw refused();
  if (offsetHour !== undefined && (Number(offsetHour) > 14 || Number(offsetMinute) > 59)) throw refused();
  const ms = Date.parse(hour === undefined ? `${text}T00:00:00Z` : text);
  if (Number.isNaN(ms)) throw refused();
  return new Date(ms);
}

function wholeNumber(name: string, raw: string | number | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const text = String(raw);
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max)
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not "${text.slice(0, 20)}"`);
  return Number(text);
}

/** Checks the flag values; anything wrong is a UsageError (exit 2) naming the flag and what is allowed. */
export function redriveOptions(values: RedriveFlagValues): RedriveOptions {
  let reason: QuarantineReason | undefined;
  if (values.reason !== undefined) {
    if (!(QUARANTINE_REASONS as readonly string[]).includes(values.reason)) {
      throw new UsageError(
        `--reason "${values.reason.slice(0, 40)}" is not a quarantine code: use one of ${QUARANTINE_REASONS.join(', ')}`,
      );
    }
    reason = values.reason as QuarantineReason;
  }
  return {
    reason,
    since: values.since === undefined ? undefined : parseSince(values.since),
    dryRun: values.dryRun ?? false,
    limit: wholeNumber('limit', values.limit, 1, Number.MAX_SAFE_INTEGER),
    batchSize: wholeNumber('batch-size', values.batchSize, 1, MAX_BATCH_SIZE) ?? DEFAULT_BATCH_SIZE,
    ...(values.operator === undefined ? {} : { operator: checkOperator(values.operator) }),
  };
}

/** Strict flags of the task command; undefined means --help. */
export function parseRedriveArgs(argv: readonly string[]): RedriveOptions | undefined {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        reason: { type: 'string' },
        since: { type: 'string' },
        'dry-run': { type: 'boolean' },
        limit: { type: 'string' },
        'batch-size': { type: 'string' },
        operator: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    // Node's messages name the flag; keep their first sentence only.
    throw new UsageError((error as Error).message.split('\n')[0].replace(/\.$/, ''));
  }
  if (values.help) return undefined;
  const text = (name: string) => values[name] as string | undefined;
  return redriveOptions({
    reason: text('reason'),
    since: text('since'),
    dryRun: values['dry-run'] as boolean | undefined,
    limit: text('limit'),
    batchSize: text('batch-size'),
    operator: text('operator'),
  });
}

/** The task command's flags for checked options (what scripts/redrive.ts passes to the ECS task). */
export function redriveArgs(options: RedriveOptions): string[] {
  return [
    ...(options.reason ? ['--reason', options.reason] : []),
    ...(options.since ? ['--since', options.since.toISOString()] : []),
    ...(options.dryRun ? ['--dry-run'] : []),
    ...(options.limit !== undefined ? ['--limit', String(options.limit)] : []),
    '--batch-size',
    String(options.batchSize),
    ...(options.operator ? ['--operator', options.operator] : []),
  ];
}
