/**
 * How a record's partition key is kept on its quarantine row, and read back by the re-drive:
 * as text, with U+0000 escaped and the exact bytes beside it; or, as the last resort when the
 * database refused even that row, hex-encoded.
 */

/**
 * Text PostgreSQL can hold: U+0000 (which Kinesis accepts in a partition key) becomes the six
 * characters `\u0000`; `raw` then keeps the exact bytes.
 */
export function storableText(value: string): { text: string; raw: Buffer | null } {
  if (!value.includes('\u0000')) return { text: value, raw: null };
  // eslint-disable-next-line no-control-regex -- NUL is exactly what PostgreSQL text cannot hold
  return { text: value.replace(/\u0000/g, '\\u0000'), raw: Buffer.from(value, 'utf8') };
}

/** The detail of a last-resort quarantine row ends with this; it tells the re-drive the key is hex. */
const HEX_KEY_NOTE = 'partition key hex-encoded';

/** The last-resort quarantine row of a record the database refused, and its copy as text too. */
export function hexQuarantineKey(partitionKey: string, code: string): { partitionKey: string; detail: string } {
  return {
    partitionKey: `hex:${Buffer.from(partitionKey, 'utf8').toString('hex')}`,
    detail: `database refused the record and its quarantine row (SQLSTATE ${code}); ${HEX_KEY_NOTE}`,
  };
}

/** The columns of a quarantine row that hold its partition key. */
export interface QuarantineKeyColumns {
  readonly partition_key: string;
  readonly partition_key_raw: Buffer | null;
  readonly reason_code: string;
  readonly detail: string;
}

/**
 * The partition key the record arrived with: the exact bytes when NUL had to be escaped, and the
 * decoded key of a last-resort row (hexQuarantineKey).
 */
export function originalPartitionKey(row: QuarantineKeyColumns): string {
  if (row.partition_key_raw) return row.partition_key_raw.toString('utf8');
  const hex = /^hex:((?:[0-9a-f]{2})*)$/.exec(row.partition_key);
  if (hex && row.reason_code === 'UNSTORABLE' && row.detail.endsWith(HEX_KEY_NOTE)) return Buffer.from(hex[1], 'hex').toString('utf8');
  return row.partition_key;
}
