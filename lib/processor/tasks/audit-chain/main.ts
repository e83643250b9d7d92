/**
 * `node dist/processor/tasks/audit-chain/main.js verify [--archive-bucket B] [--operator ARN]`: verifies every
 * audit_event hash chain (db/audit-chain.ts) and, with a bucket, every chain head exported to it; prints one
 * JSON line and exits 0 when intact, 1 at a break (the first break of each chain is printed with its
 * position), 2 on a usage error. Runs in the processor's own task definition (it reads row content to
 * recompute hashes) and records its read as an audit event of the operator.
 *
 * `... export --archive-bucket B`: the scheduled export. Reads the id and chain columns only (the auditor
 * login), writes the heads of the chains that advanced to `<AUDIT_HEADS_PREFIX><time>.json` in the
 * Object-Locked archive bucket, and keeps its place in `audit-chain-latest.json` (versioned and locked too).
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Pool } from 'pg';
import { parseArgs } from 'util';
import { AUDIT_HEADS_PREFIX } from '../../../contract';
import { InputError, UsageError } from '../../../contract/errors';
import { loadConfig, loadOrExit } from '../../config';
import {
  ChainHead,
  describeBreak,
  HeadsExport,
  mergeHeads,
  nextHeadsExport,
  parseHeads,
  verifyAuditChains,
  VerifyReport,
} from '../../db/audit-chain';
import { createPool } from '../../db/pool';
import { checkOperator, ecsTaskArn, operatorActor } from '../operator';

export const LATEST_HEADS_KEY = 'audit-chain-latest.json';

export const AUDIT_CHAIN_USAGE = `usage: node dist/processor/tasks/audit-chain/main.js verify [--archive-bucket B] [--operator ARN]
       node dist/processor/tasks/audit-chain/main.js export --archive-bucket B
  verify            recompute every chain; with --archive-bucket, check every exported head too
  export            write the heads of the chains that advanced to the archive bucket
  --archive-bucket  the environment's Object-Locked audit archive bucket
  --operator ARN    who asked for the verification (the Arn of their sts get-caller-identity)`;

export interface AuditChainArgs {
  readonly command: 'verify' | 'export';
  readonly bucket?: string;
  readonly operator?: string;
}

export function parseAuditChainArgs(argv: readonly string[]): AuditChainArgs | undefined {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { 'archive-bucket': { type: 'string' }, operator: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0].replace(/\.$/, ''));
  }
  const { values, positionals } = parsed;
  if (values.help) return undefined;
  const [command, ...rest] = positionals;
  if ((command !== 'verify' && command !== 'export') || rest.length > 0)
    throw new UsageError(`the command is "verify" or "export", not "${[command, ...rest].join(' ').slice(0, 40)}"`);
  const bucket = values['archive-bucket'] as string | undefined;
  if (bucket !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
    throw new UsageError(`--archive-bucket "${bucket.slice(0, 70)}" is not an S3 bucket name`);
  if (command === 'export' && !bucket) throw new UsageError('export needs --archive-bucket: the bucket the heads are written to');
  const operator = values.operator as string | undefined;
  if (operator !== undefined && command === 'export') throw new UsageError('--operator applies to verify; the export runs on its schedule');
  return { command, bucket, operator: operator === undefined ? undefined : checkOperator(operator) };
}

async function readObject(s3: S3Client, bucket: string, key: string): Promise<string | undefined> {
  try {
    const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await out.Body!.transformToString('utf8');
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

/** Every head ever exported to the bucket, as one list (each export is a few hundred bytes per active chain). */
export async function exportedHeads(s3: S3Client, bucket: string): Promise<{ heads: ChainHead[]; exports: number }> {
  const all: ChainHead[][] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: AUDIT_HEADS_PREFIX, ContinuationToken: token }));
    for (const object of page.Contents ?? []) {
      const text = await readObject(s3, bucket, object.Key!);
      if (text !== undefined) all.push(parseHeads(text, `s3://${bucket}/${object.Key}`));
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return { heads: mergeHeads(all), exports: all.length };
}

/** Writes the next export (the heads since the one before the previous) and moves the latest marker to it. */
export async function exportHeads(pool: Pool, s3: S3Client, bucket: string, now: Date): Promise<HeadsExport> {
  const latest = await readObject(s3, bucket, LATEST_HEADS_KEY);
  const previous = latest === undefined ? undefined : (JSON.parse(latest) as HeadsExport);
  const next = await nextHeadsExport(pool, previous, now);
  const body = `${JSON.stringify(next)}\n`;
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: `${AUDIT_HEADS_PREFIX}${next.exportedAt}.json`,
      Body: body,
      ContentType: 'application/json',
    }),
  );
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: LATEST_HEADS_KEY, Body: body, ContentType: 'application/json' }));
  return next;
}

/** The printed summary: counts, each chain's first break with its position, never a row's content. */
export function verifySummary(report: VerifyReport, exports: number): Record<string, unknown> {
  return {
    intact: report.breaks.length === 0,
    chains: report.chains,
    rows: report.rows,
    exportsRead: exports,
    headsChecked: report.headsChecked,
    breaks: report.breaks,
  };
}

async function main(argv: string[]): Promise<number> {
  const args = parseAuditChainArgs(argv);
  if (!args) {
    process.stdout.write(`${AUDIT_CHAIN_USAGE}\n`);
    return 0;
  }
  // The export runs without a stream; the verify task has the processor's variables.
  const config = loadOrExit(() => loadConfig({ STREAM_NAME: 'audit-chain', ...process.env }));
  const s3 = args.bucket ? new S3Client({ region: config.region }) : undefined;
  const pool = createPool(config, { asWriter: args.command === 'verify', max: 1 });
  try {
    if (args.command === 'export') {
      const written = await exportHeads(pool, s3!, args.bucket!, new Date());
      process.stdout.write(
        `${JSON.stringify({ auditChainExport: { exportedAt: written.exportedAt, heads: written.heads.length, maxId: written.maxId } })}\n`,
      );
      return 0;
    }
    const exported = s3 ? await exportedHeads(s3, args.bucket!) : { heads: [], exports: 0 };
    const report = await verifyAuditChains(pool, exported.heads);
    const actor = operatorActor('audit-verify', args.operator, await ecsTaskArn(), config.workerId);
    await pool.query(`INSERT INTO audit_event (actor, action, outcome, stream_name, detail) VALUES ($1, 'read', 'audit-verify', $2, $3)`, [
      actor,
      config.streamName,
      `audit chain verification: ${report.rows} rows in ${report.chains} chains, ${report.breaks.length} broken`,
    ]);
    process.stdout.write(`${JSON.stringify({ auditVerify: verifySummary(report, exported.exports) })}\n`);
    for (const b of report.breaks) process.stdout.write(`BROKEN ${describeBreak(b)}\n`);
    return report.breaks.length === 0 ? 0 : 1;
  } finally {
    await pool.end();
    s3?.destroy();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.stdout.write('', () => process.exit(code)),
    (error) => {
      process.stderr.write(`audit-chain: ${(error as Error).message}\n`);
      process.exit(error instanceof InputError ? error.exitCode : 1);
    },
  );
}
