import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { UsageError } from '../../../../../lib/contract';
import { originalPartitionKey } from '../../../../../lib/processor/db/quarantine-key';
import {
  DEFAULT_BATCH_SIZE,
  parseRedriveArgs,
  parseSince,
  QUARANTINE_REASONS,
  redriveArgs,
  redriveOptions,
} from '../../../../../lib/processor/tasks/redrive/options';
import {
  currentValidator,
  progressLine,
  RedriveSummary,
  safeMessage,
  validatorBuild,
} from '../../../../../lib/processor/tasks/redrive/redrive';

const refusal = (work: () => unknown): string => {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error('expected a UsageError');
};

describe('re-drive flags (the task command and scripts/operations/redrive.ts share them)', () => {
  test('the stable quarantine codes, each once', () => {
    expect(QUARANTINE_REASONS).toEqual([
      'TOO_LARGE',
      'NOT_UTF8',
      'NOT_JSON',
      'NOT_A_RESOURCE',
      'UNSUPPORTED_RESOURCE_TYPE',
      'INVALID_FHIR',
      'UNSTORABLE',
      'KPL_MD5_MISMATCH',
      'KPL_MALFORMED',
      'CORRUPT_COMPRESSION',
      'INFLATED_TOO_LARGE',
    ]);
  });

  test('defaults, and every flag parsed', () => {
    expect(parseRedriveArgs([])).toEqual({
      reason: undefined,
      since: undefined,
      dryRun: false,
      limit: undefined,
      batchSize: DEFAULT_BATCH_SIZE,
    });
    expect(
      parseRedriveArgs(['--reason', 'INVALID_FHIR', '--since', '2026-05-01', '--dry-run', '--limit', '50', '--batch-size', '25']),
    ).toEqual({
      reason: 'INVALID_FHIR',
      since: new Date('2026-05-01T00:00:00Z'),
      dryRun: true,
      limit: 50,
      batchSize: 25,
    });
    expect(parseRedriveArgs(['--help'])).toBeUndefined();
  });

  test('the command scripts/operations/redrive.ts passes to the task parses back to the same options', () => {
    const options = redriveOptions({ reason: 'TOO_LARGE', since: '2026-05-01T12:30:00+01:00', dryRun: true, limit: 7, batchSize: 3 });
    expect(redriveArgs(options)).toEqual([
      '--reason',
      'TOO_LARGE',
      '--since',
      '2026-05-01T11:30:00.000Z',
      '--dry-run',
      '--limit',
      '7',
      '--batch-size',
      '3',
    ]);
    expect(parseRedriveArgs(redriveArgs(options))).toEqual(options);
    expect(redriveArgs(redriveOptions({}))).toEqual(['--batch-size', '100']);
  });

  test('usage errors name the flag and what is allowed, in one line', () => {
    expect(refusal(() => parseRedriveArgs(['--reason', 'invalid_fhir']))).toBe(
      `--reason "invalid_fhir" is not a quarantine code: use one of ${QUARANTINE_REASONS.join(', ')}`,
    );
    expect(refusal(() => parseRedriveArgs(['--reason']))).toMatch(/^Option '--reason <value>' argument missing$/);
    expect(refusal(() => parseRedriveArgs(['--force']))).toMatch(/^Unknown option '--force'/);
    expect(refusal(() => parseRedriveArgs(['INVALID_FHIR']))).toMatch(/^Unexpected argument 'INVALID_FHIR'/);
    expect(refusal(() => parseRedriveArgs(['--limit', '0']))).toBe('--limit must be a whole number from 1 to 9007199254740991, not "0"');
    expect(refusal(() => parseRedriveArgs(['--limit', '1e3']))).toBe(
      '--limit must be a whole number from 1 to 9007199254740991, not "1e3"',
    );
    expect(refusal(() => parseRedriveArgs(['--batch-size', '1001']))).toBe(
      '--batch-size must be a whole number from 1 to 1000, not "1001"',
    );
    for (const message of [refusal(() => parseRedriveArgs(['--reason', 'X'])), refusal(() => parseRedriveArgs(['--since', 'yesterday']))])
      expect(message).not.toContain('\n');
  });

  test('--since: a real calendar date (UTC midnight) or a date-time with a zone; anything else is refused, never guessed', () => {
    expect(parseSince('2024-02-29')).toEqual(new Date('2024-02-29T00:00:00Z'));
    expect(parseSince('2026-05-01T12:00Z')).toEqual(new Date('2026-05-01T12:00:00Z'));
    expect(parseSince('2026-05-01T12:00:00.250-05:00')).toEqual(new Date('2026-05-01T17:00:00.250Z'));
    for (const bad of [
      '2023-02-29',
      '2026-02-30',
      '2026-13-01',
      '2026-05-01T12:00:00',
      '2026-05-01T24:00:00Z',
      '2026-05-01T12:60Z',
      '2026-05-01T12:00:00+15:00',
      '01/05/2026',
      '1714560000',
      '',
    ]) {
      expect(refusal(() => parseSince(bad))).toBe(
        `--since "${bad}" is not an ISO-8601 date or date-time with a zone: use e.g. 2026-05-01 or 2026-05-01T12:00:00Z`,
      );
    }
  });
});

describe('re-drive helpers', () => {
  test('the partition key a record arrived with: raw bytes when escaped, decoded when a last-resort row hex-encoded it', () => {
    const row = { partition_key: 'p-1', partition_key_raw: null, reason_code: 'INVALID_FHIR', detail: 'x' };
    expect(originalPartitionKey(row)).toBe('p-1');
    expect(originalPartitionKey({ ...row, partition_key: 'a\\u0000b', partition_key_raw: Buffer.from('a\u0000b') })).toBe('a\u0000b');
    const hex = {
      partition_key: `hex:${Buffer.from('évil-7').toString('hex')}`,
      partition_key_raw: null,
      reason_code: 'UNSTORABLE',
      detail: 'database refused the record and its quarantine row (SQLSTATE 23514); partition key hex-encoded',
    };
    expect(originalPartitionKey(hex)).toBe('évil-7');
    // A producer's own key that merely looks like hex is kept as it is.
    expect(originalPartitionKey({ ...hex, reason_code: 'INVALID_FHIR' })).toBe(hex.partition_key);
    expect(originalPartitionKey({ ...hex, detail: 'database rejected the record (SQLSTATE 22P05)' })).toBe(hex.partition_key);
  });

  test("the validator id changes with the validator's code and with MAX_RECORD_BYTES, not with source maps or the folder", () => {
    const dirs: string[] = [];
    const tree = (files: Record<string, string>) => {
      const dir = mkdtempSync(join(tmpdir(), 'validator-build-'));
      dirs.push(dir);
      mkdirSync(join(dir, 'generated'));
      for (const [path, text] of Object.entries(files)) writeFileSync(join(dir, path), text);
      return validatorBuild(dir);
    };
    try {
      const code = { 'validate.js': 'exports.rule = 1;', 'generated/defs.js': 'exports.defs = {};' };
      const first = tree(code);
      expect(first).toMatch(/^fhir-r4-[0-9a-f]{16}$/);
      expect(tree({ ...code, 'validate.js.map': '{"version":3}' })).toBe(first);
      expect(tree({ ...code, 'generated/defs.js': 'exports.defs = { Patient: {} };' })).not.toBe(first);
      expect(tree({ ...code, 'patient.js': 'exports.x = 1;' })).not.toBe(first);
    } finally {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
    // By default, the validator's own folder (lib/processor/fhir), wherever the task lives.
    expect(validatorBuild()).toBe(validatorBuild(join(__dirname, '../../../../../lib/processor/fhir')));
    expect(currentValidator(262_144).id).toBe(`${validatorBuild()}/max-262144`);
    expect(currentValidator(1_024).id).not.toBe(currentValidator(262_144).id);
  });

  test('progress lines and errors carry counts and codes only', () => {
    const s = { dryRun: true, batches: 2, examined: 20, redriven: 15, stillQuarantined: 5 } as RedriveSummary;
    expect(progressLine(s)).toBe('dry run: batch 2: examined 20, would re-drive 15, still quarantined 5');
    expect(progressLine({ ...s, dryRun: false })).toBe('batch 2: examined 20, re-driven 15, still quarantined 5');
    // A database message may quote a value from a record: only its SQLSTATE is shown.
    const pgError = Object.assign(new Error('invalid input syntax for type json: "Okafor"'), { code: '22P02', severity: 'ERROR' });
    expect(safeMessage(pgError)).toBe('the database refused the re-drive (SQLSTATE 22P02); the failed batch was rolled back');
    expect(safeMessage(new Error('connect ECONNREFUSED 127.0.0.1:5432\nmore'))).toBe('connect ECONNREFUSED 127.0.0.1:5432');
  });
});
