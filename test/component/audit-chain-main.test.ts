/**
 * The audit-chain task (lib/processor/tasks/audit-chain/main.ts) against real PostgreSQL 16: `verify` exits 0
 * on intact chains and 1 with each break's position, `export` writes the chain heads to the archive bucket,
 * and a usage error is one line, exit 2. The command runs as a child process, as ECS runs it; its S3 calls go
 * to a small in-test S3 endpoint. The export and the read-back of exported heads also run in this process
 * against a mocked S3 client.
 */
import { spawn } from 'child_process';
import { createServer, IncomingMessage, Server } from 'http';
import { AddressInfo } from 'net';
import { join } from 'path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { Client, Pool } from 'pg';
import { AUDIT_HEADS_PREFIX } from '../../lib/contract';
import { UsageError } from '../../lib/contract/errors';
import { ChainHead, HeadsExport } from '../../lib/processor/db/audit-chain';
import { WRITER_ROLE } from '../../lib/processor/db/schema';
import {
  AUDIT_CHAIN_USAGE,
  exportedHeads,
  exportHeads,
  LATEST_HEADS_KEY,
  parseAuditChainArgs,
  verifySummary,
} from '../../lib/processor/tasks/audit-chain/main';
import { compileCacheEnv, TS_HOOK } from '../../scripts/shared/child';
import { auditChains, copyOfFhir, databaseEnv, LocalPostgres, migrateSchema, startPostgres } from './harness';

jest.setTimeout(180_000);

const root = join(__dirname, '..', '..');
const BUCKET = 'hipaa-fhir-audit-archive-test';
const OPERATOR = 'arn:aws:sts::333333333333:assumed-role/AWSReservedSSO_Auditor_abc/jane@example.org';
const INSERT = `INSERT INTO audit_event (actor, action, outcome, stream_name, detail) VALUES ($1, 'persist', 'written', 's', $2)`;

/** Just enough of S3 for the task: GetObject (NoSuchKey when absent), PutObject and ListObjectsV2, path style. */
class FakeS3 {
  readonly objects = new Map<string, string>();
  private server?: Server;
  endpoint = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      void this.handle(req).then(({ status, body }) => {
        res.writeHead(status, { 'content-type': 'application/xml', etag: '"0"' });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body: string }> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url!, 'http://s3');
    const [, bucket, ...rest] = url.pathname.split('/');
    const key = decodeURIComponent(rest.join('/'));
    if (bucket !== BUCKET) return { status: 404, body: '<Error><Code>NoSuchBucket</Code><Message>no such bucket</Message></Error>' };
    if (req.method === 'PUT') {
      this.objects.set(key, Buffer.concat(chunks).toString('utf8'));
      return { status: 200, body: '' };
    }
    if (req.method === 'GET' && key === '' && url.searchParams.get('list-type') === '2') {
      const prefix = url.searchParams.get('prefix') ?? '';
      const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
      const contents = keys.map((k) => `<Contents><Key>${k}</Key><Size>${this.objects.get(k)!.length}</Size></Contents>`).join('');
      return {
        status: 200,
        body: `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${BUCKET}</Name><Prefix>${prefix}</Prefix><KeyCount>${keys.length}</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>${contents}</ListBucketResult>`,
      };
    }
    if (req.method === 'GET' && this.objects.has(key)) return { status: 200, body: this.objects.get(key)! };
    return { status: 404, body: '<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>' };
  }
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

describe('the audit-chain task: verify and export', () => {
  let pg: LocalPostgres;
  let s3: FakeS3;
  let copies = 0;

  /** The task as ECS starts it, against database `database`, its S3 calls to the fake endpoint. */
  /** Not spawnSync: the fake S3 endpoint answers from this process's event loop. */
  const task = (args: string[], database = 'fhir'): Promise<Run> => {
    const child = spawn(process.execPath, [...TS_HOOK, 'lib/processor/tasks/audit-chain/main.ts', ...args], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...compileCacheEnv(),
        ...databaseEnv(pg),
        DB_NAME: database,
        DB_MIGRATE_ON_START: 'false',
        WORKER_ID: 'audit-chain-test',
        LOG_LEVEL: 'error',
        METRICS: 'off',
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_ENDPOINT_URL_S3: s3.endpoint,
      },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
  };

  const writer = () => new Pool({ ...pg.settings({ role: WRITER_ROLE }), max: 1 });

  /** The database's chains as the verifier reads them. */
  const chains = (database = 'fhir') => auditChains(pg, database);

  /** A copy of `fhir` (no session may be open in it) and an owner session in the copy. */
  const copy = () => copyOfFhir(pg, `audit_main_${++copies}`);

  beforeAll(async () => {
    pg = await startPostgres();
    await migrateSchema(pg);
    s3 = new FakeS3();
    await s3.start();
    // Two writer connections: two chains of their own.
    const a = new Client(pg.settings({ role: WRITER_ROLE }));
    const b = new Client(pg.settings({ role: WRITER_ROLE }));
    await a.connect();
    await b.connect();
    for (let i = 1; i <= 4; i++) {
      await a.query(INSERT, [`a-${i}`, null]);
      await b.query(INSERT, [`b-${i}`, i % 2 ? 'with a detail' : null]);
    }
    await a.end();
    await b.end();
  });

  afterAll(async () => {
    await s3?.stop();
    await pg?.stop();
  });

  describe('usage', () => {
    const usage = (argv: string[]) => {
      try {
        return parseAuditChainArgs(argv);
      } catch (error) {
        expect(error).toBeInstanceOf(UsageError);
        return (error as Error).message;
      }
    };

    test('verify and export, their flags checked before any connection', () => {
      expect(usage(['--help'])).toBeUndefined();
      expect(usage(['-h'])).toBeUndefined();
      expect(usage(['verify'])).toEqual({ command: 'verify', bucket: undefined, operator: undefined });
      expect(usage(['verify', '--archive-bucket', BUCKET, '--operator', OPERATOR])).toEqual({
        command: 'verify',
        bucket: BUCKET,
        operator: OPERATOR,
      });
      expect(usage(['export', '--archive-bucket', BUCKET])).toEqual({ command: 'export', bucket: BUCKET, operator: undefined });
      expect(usage([])).toBe('the command is "verify" or "export", not ""');
      expect(usage(['frobnicate'])).toBe('the command is "verify" or "export", not "frobnicate"');
      expect(usage(['verify', 'extra'])).toBe('the command is "verify" or "export", not "verify extra"');
      expect(usage(['verify', '--bogus'])).toMatch(/^Unknown option '--bogus'/);
      expect(usage(['verify', '--archive-bucket', 'Not_A_Bucket'])).toBe('--archive-bucket "Not_A_Bucket" is not an S3 bucket name');
      expect(usage(['export'])).toBe('export needs --archive-bucket: the bucket the heads are written to');
      expect(usage(['export', '--archive-bucket', BUCKET, '--operator', OPERATOR])).toBe(
        '--operator applies to verify; the export runs on its schedule',
      );
      expect(usage(['verify', '--operator', 'jane'])).toMatch(/^--operator "jane" is not an IAM caller ARN/);
    });

    test('the command: --help prints the usage (exit 0); a usage error is one line on stderr, exit 2, nothing on stdout', async () => {
      const help = await task(['--help']);
      expect([help.status, help.stdout.trim(), help.stderr]).toEqual([0, AUDIT_CHAIN_USAGE, '']);
      for (const [argv, line] of [
        [['frobnicate'], 'audit-chain: the command is "verify" or "export", not "frobnicate"'],
        [['export'], 'audit-chain: export needs --archive-bucket: the bucket the heads are written to'],
      ] as const) {
        const run = await task([...argv]);
        expect([run.status, run.stdout, run.stderr]).toEqual([2, '', `${line}\n`]);
      }
      const flag = await task(['verify', '--bogus']);
      expect(flag.status).toBe(2);
      expect(flag.stderr).toMatch(/^audit-chain: Unknown option '--bogus'[^\n]*\n$/);
    }, 60_000);
  });

  describe('in this process, with a mocked S3 client', () => {
    const mock = mockClient(S3Client);
    // What the task reads of a GetObject body.
    const body = (text: string) => ({ Body: { transformToString: async () => text } }) as never;
    const noSuchKey = () => Object.assign(new Error('The specified key does not exist.'), { name: 'NoSuchKey' });
    beforeEach(() => mock.reset());
    afterAll(() => mock.restore());

    test('the first export writes every chain head under the heads prefix and moves the latest marker; the next reads on from it', async () => {
      const { heads } = await chains();
      mock.on(GetObjectCommand).rejects(noSuchKey());
      const pool = writer();
      const client = new S3Client({ region: 'eu-west-2' });
      try {
        const first = await exportHeads(pool, client, BUCKET, new Date('2026-12-01T03:00:00.000Z'));
        const maxId = (await pool.query<{ max: string }>('SELECT max(id)::text AS max FROM audit_event')).rows[0].max;
        expect(first).toMatchObject({ exportedAt: '2026-12-01T03:00:00.000Z', fromId: '0', previousMaxId: '0', maxId });
        expect(new Set(first.heads)).toEqual(new Set(heads));
        expect(first.heads.map((h) => h.seq)).toEqual([4, 4]);
        expect(mock.commandCalls(GetObjectCommand)[0].args[0].input).toEqual({ Bucket: BUCKET, Key: LATEST_HEADS_KEY });
        const puts = mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
        expect(puts.map((p) => [p.Bucket, p.Key, p.ContentType])).toEqual([
          [BUCKET, `${AUDIT_HEADS_PREFIX}2026-12-01T03:00:00.000Z.json`, 'application/json'],
          [BUCKET, LATEST_HEADS_KEY, 'application/json'],
        ]);
        expect(JSON.parse(puts[0].Body as string)).toEqual(JSON.parse(JSON.stringify(first)));
        expect(puts[1].Body).toBe(puts[0].Body);

        // One more row in a new chain: the next export starts from the previous one's previousMaxId.
        await pool.query(INSERT, ['c-1', null]);
        mock.reset();
        mock.on(GetObjectCommand, { Key: LATEST_HEADS_KEY }).resolves(body(puts[1].Body as string));
        const second = await exportHeads(pool, client, BUCKET, new Date('2026-12-01T04:00:00.000Z'));
        expect(second).toMatchObject({ fromId: '0', previousMaxId: maxId, maxId: String(Number(maxId) + 1) });
        expect(second.heads).toHaveLength(3);
        expect(second.heads).toContainEqual(expect.objectContaining({ seq: 1, login: 'postgres' }));
      } finally {
        await pool.end();
        client.destroy();
      }
    });

    test('the exported heads are read back from every object under the prefix, page by page, each position once', async () => {
      const { heads } = await chains();
      const doc = (h: readonly ChainHead[], at: string): HeadsExport => ({
        exportedAt: at,
        fromId: '0',
        maxId: '1',
        previousMaxId: '0',
        heads: h,
      });
      mock
        .on(ListObjectsV2Command, { ContinuationToken: undefined })
        .resolves({
          Contents: [{ Key: `${AUDIT_HEADS_PREFIX}1.json` }, { Key: `${AUDIT_HEADS_PREFIX}gone.json` }],
          IsTruncated: true,
          NextContinuationToken: 't2',
        })
        .on(ListObjectsV2Command, { ContinuationToken: 't2' })
        .resolves({ Contents: [{ Key: `${AUDIT_HEADS_PREFIX}2.json` }], IsTruncated: false });
      mock
        .on(GetObjectCommand, { Key: `${AUDIT_HEADS_PREFIX}1.json` })
        .callsFake(() => body(JSON.stringify(doc(heads, '1'))))
        .on(GetObjectCommand, { Key: `${AUDIT_HEADS_PREFIX}2.json` })
        .callsFake(() => body(JSON.stringify(doc(heads.slice(0, 1), '2'))))
        .on(GetObjectCommand, { Key: `${AUDIT_HEADS_PREFIX}gone.json` })
        .rejects(noSuchKey());
      const client = new S3Client({ region: 'eu-west-2' });
      try {
        const read = await exportedHeads(client, BUCKET);
        expect(read.exports).toBe(2);
        expect(new Set(read.heads)).toEqual(new Set(heads));
        expect(mock.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input)).toEqual([
          { Bucket: BUCKET, Prefix: AUDIT_HEADS_PREFIX, ContinuationToken: undefined },
          { Bucket: BUCKET, Prefix: AUDIT_HEADS_PREFIX, ContinuationToken: 't2' },
        ]);

        // A document that is not a heads list is refused with where it came from.
        mock.on(GetObjectCommand, { Key: `${AUDIT_HEADS_PREFIX}2.json` }).callsFake(() => body('{"heads": 3}'));
        await expect(exportedHeads(client, BUCKET)).rejects.toThrow(`s3://${BUCKET}/${AUDIT_HEADS_PREFIX}2.json has no valid "heads" list`);
        // Any other S3 error is not taken for an absent object.
        mock
          .on(GetObjectCommand, { Key: `${AUDIT_HEADS_PREFIX}2.json` })
          .rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
        await expect(exportedHeads(client, BUCKET)).rejects.toThrow('denied');
      } finally {
        client.destroy();
      }
    });

    test('the printed summary says intact or not, with counts and the breaks only', () => {
      const brk = { kind: 'altered' as const, chainId: 'c', seq: 2, id: '5', detail: 'd' };
      expect(verifySummary({ chains: 2, rows: 8, headsChecked: 1, breaks: [], heads: [] }, 3)).toEqual({
        intact: true,
        chains: 2,
        rows: 8,
        exportsRead: 3,
        headsChecked: 1,
        breaks: [],
      });
      expect(verifySummary({ chains: 2, rows: 8, headsChecked: 0, breaks: [brk], heads: [] }, 0)).toMatchObject({
        intact: false,
        breaks: [brk],
      });
    });
  });

  describe('the command against the database', () => {
    test('verify on intact chains: exit 0, one JSON line, and the read recorded as an audit event of the operator', async () => {
      const before = await chains();
      const run = await task(['verify', '--operator', OPERATOR]);
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      const lines = run.stdout.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0])).toEqual({
        auditVerify: { intact: true, chains: before.chains, rows: before.rows, exportsRead: 0, headsChecked: 0, breaks: [] },
      });
      const admin = await pg.client();
      try {
        const { rows } = await admin.query("SELECT actor, outcome, detail FROM audit_event WHERE action = 'read' ORDER BY id");
        expect(rows).toEqual([
          {
            actor: `${OPERATOR}/audit-verify`,
            outcome: 'audit-verify',
            detail: `audit chain verification: ${before.rows} rows in ${before.chains} chains, 0 broken`,
          },
        ]);
      } finally {
        await admin.end();
      }
      // Its own event extends the chains, which still verify.
      expect((await chains()).breaks).toEqual([]);
    });

    test('export writes the heads of every chain to the archive bucket and prints what it wrote', async () => {
      const { heads } = await chains();
      const run = await task(['export', '--archive-bucket', BUCKET]);
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      const printed = JSON.parse(run.stdout.trim()) as { auditChainExport: { exportedAt: string; heads: number; maxId: string } };
      expect(printed.auditChainExport.heads).toBe(heads.length);
      const key = `${AUDIT_HEADS_PREFIX}${printed.auditChainExport.exportedAt}.json`;
      expect([...s3.objects.keys()].sort()).toEqual([key, LATEST_HEADS_KEY].sort());
      const written = JSON.parse(s3.objects.get(key)!) as HeadsExport;
      expect(new Set(written.heads)).toEqual(new Set(heads));
      expect(written).toMatchObject({ fromId: '0', previousMaxId: '0', maxId: printed.auditChainExport.maxId });
      expect(s3.objects.get(LATEST_HEADS_KEY)).toBe(s3.objects.get(key));
    });

    test('verify after a row was changed: exit 1, and the break named with its chain, position and row id', async () => {
      const { database, owner } = await copy();
      const { rows: target } = await owner.query<{ id: string; chain_id: string; chain_seq: string }>(
        "SELECT id::text, chain_id::text, chain_seq::text FROM audit_event WHERE actor = 'b-3'",
      );
      await owner.query('ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only');
      await owner.query("UPDATE audit_event SET outcome = 'duplicate' WHERE actor = 'b-3'");
      await owner.end();
      const run = await task(['verify', '--operator', OPERATOR], database);
      expect(run.status).toBe(1);
      const [summary, ...broken] = run.stdout.trim().split('\n');
      expect(JSON.parse(summary).auditVerify).toMatchObject({
        intact: false,
        breaks: [{ kind: 'altered', chainId: target[0].chain_id, seq: 3, id: target[0].id }],
      });
      expect(target[0].chain_seq).toBe('3');
      expect(broken).toEqual([
        `BROKEN altered in chain ${target[0].chain_id} at position 3 (row id ${target[0].id}): row ${target[0].id} does not match its hash: its content was changed`,
      ]);
    });

    test("verify with the archive bucket catches a chain's deleted last rows through the exported heads", async () => {
      // The export of the previous test holds every head; delete the last row of the chain of a-1..a-4.
      const { database, owner } = await copy();
      const { rows: last } = await owner.query<{ id: string; chain_id: string }>(
        "SELECT id::text, chain_id::text FROM audit_event WHERE actor = 'a-4'",
      );
      await owner.query('ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only');
      await owner.query('DELETE FROM audit_event WHERE id = $1', [last[0].id]);
      await owner.end();
      // Without the heads the shortened chain looks whole.
      expect((await chains(database)).breaks).toEqual([]);
      const run = await task(['verify', '--archive-bucket', BUCKET], database);
      expect(run.status).toBe(1);
      const [summary, ...broken] = run.stdout.trim().split('\n');
      expect(JSON.parse(summary).auditVerify).toMatchObject({ intact: false, exportsRead: 1 });
      expect(broken).toEqual([
        `BROKEN head-missing in chain ${last[0].chain_id} at position 4: the exported head at position 4 is gone (the chain ends at 3): rows were deleted`,
      ]);
      // Without --operator the read is the task's own.
      const check = new Client(pg.settings({ database }));
      await check.connect();
      try {
        const { rows } = await check.query("SELECT actor FROM audit_event WHERE action = 'read' AND detail LIKE '%1 broken'");
        expect(rows).toEqual([{ actor: 'audit-chain-test/audit-verify' }]);
      } finally {
        await check.end();
      }
    });

    test('an intact database verifies against the exported heads too', async () => {
      const run = await task(['verify', '--archive-bucket', BUCKET]);
      expect(run.status).toBe(0);
      expect(JSON.parse(run.stdout.trim()).auditVerify).toMatchObject({ intact: true, exportsRead: 1, breaks: [] });
      expect(JSON.parse(run.stdout.trim()).auditVerify.headsChecked).toBeGreaterThanOrEqual(2);
    });
  });
});
