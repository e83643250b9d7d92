import { spawnSync } from 'child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { KinesisClient, PutRecordCommand, PutRecordsCommand, PutRecordsCommandInput } from '@aws-sdk/client-kinesis';
import { mockClient } from 'aws-sdk-client-mock';
import { observation, patient, prng } from '../../../scripts/shared/fhir-samples';
import { TS_HOOK } from '../../../scripts/shared/child';
import { UsageError } from '../../../scripts/shared/cli';
import { parseSendArgs, planRequests, PUT_RECORDS_LIMITS, recordsOfFile, sendRecords } from '../../../scripts/operations/send';

const ROOT = join(__dirname, '..', '..', '..');
const at = new Date('2026-11-01T08:00:00Z');
const rand = prng(3);
const rec = (i: number, bytes = 10) => ({ partitionKey: `p${i}`, data: Buffer.alloc(bytes, 0x61) });

describe('npm run send: batching at the PutRecords limits', () => {
  test('500 records per request at most, and 5 MiB (partition keys included) at most', () => {
    expect(planRequests(Array.from({ length: 1201 }, (_, i) => rec(i))).map((b) => b.length)).toEqual([500, 500, 201]);
    // 6 records of 1 MiB minus 2 bytes: with their 2-byte keys, five fill 5 MiB exactly; the sixth starts a new request.
    const mib = Array.from({ length: 6 }, (_, i) => ({ partitionKey: `k${i}`, data: Buffer.alloc(1024 * 1024 - 2) }));
    expect(planRequests(mib).map((b) => b.length)).toEqual([5, 1]);
    const big = { partitionKey: 'big', data: Buffer.alloc(PUT_RECORDS_LIMITS.bytes + 1) };
    expect(planRequests([rec(1), big, rec(2)]).map((b) => b.length)).toEqual([1, 1, 1]);
  });

  test('only the refused entries are sent again, with backoff, until accepted', async () => {
    const kinesis = mockClient(KinesisClient);
    const sent: string[][] = [];
    kinesis.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => {
      const keys = input.Records!.map((r) => r.PartitionKey!);
      sent.push(keys);
      // The first attempt refuses every third entry.
      return {
        Records: keys.map((k, i) =>
          sent.length === 1 && i % 3 === 0 ? { ErrorCode: 'ProvisionedThroughputExceededException' } : { SequenceNumber: k },
        ),
      };
    });
    const pauses: number[] = [];
    const progress: number[] = [];
    const records = Array.from({ length: 7 }, (_, i) => rec(i));
    const n = await sendRecords(kinesis as unknown as KinesisClient, 's', records, {
      sleep: async (ms) => void pauses.push(ms),
      onProgress: (s) => progress.push(s),
    });
    expect(n).toBe(7);
    expect(sent).toEqual([
      ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6'],
      ['p0', 'p3', 'p6'],
    ]);
    expect(pauses).toHaveLength(1);
    expect(pauses[0]).toBeLessThanOrEqual(2_000);
    expect(progress).toEqual([7]);
    kinesis.restore();
  });

  test('a stream that keeps refusing stops after the bounded attempts, saying how many were sent', async () => {
    const kinesis = mockClient(KinesisClient);
    kinesis.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => ({
      Records: input.Records!.map((r) =>
        r.PartitionKey === 'p1' ? { ErrorCode: 'ProvisionedThroughputExceededException' } : { SequenceNumber: '1' },
      ),
    }));
    await expect(
      sendRecords(kinesis as unknown as KinesisClient, 's', [rec(0), rec(1)], { maxAttempts: 3, sleep: async () => undefined }),
    ).rejects.toThrow('the stream refused 1 record(s) 3 times (ProvisionedThroughputExceededException); 1 of 2 were sent');
    expect(kinesis.commandCalls(PutRecordsCommand)).toHaveLength(3);
    kinesis.restore();
  });

  test('a record over the 5 MiB request limit goes alone through PutRecord (retried when throttled)', async () => {
    const kinesis = mockClient(KinesisClient);
    kinesis.on(PutRecordsCommand).resolves({ Records: [{ SequenceNumber: '1' }] });
    kinesis
      .on(PutRecordCommand)
      .rejectsOnce(Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' }))
      .resolves({ SequenceNumber: '2', ShardId: 's' });
    const big = { partitionKey: 'big', data: Buffer.alloc(PUT_RECORDS_LIMITS.bytes) };
    expect(await sendRecords(kinesis as unknown as KinesisClient, 's', [rec(1), big], { sleep: async () => undefined })).toBe(2);
    expect(kinesis.commandCalls(PutRecordCommand).map((c) => c.args[0].input.PartitionKey)).toEqual(['big', 'big']);
    kinesis.restore();
  });
});

describe('npm run send: files to records', () => {
  const p = patient('pt-1', 1, at, rand);
  const o = observation('o-1', 'pt-2', 1, at, rand);
  const bundle = { resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl: 'urn:uuid:1', resource: o }, { resource: p }] };

  test('a JSON resource or Bundle is one record; NDJSON one per line; the partition key is the patient id the processor derives', () => {
    expect(recordsOfFile('p.json', Buffer.from(JSON.stringify(p, null, 2)), 1_048_576).map((r) => [r.source, r.partitionKey])).toEqual([
      ['p.json', 'pt-1'],
    ]);
    // A Bundle's key is its Patient's id, the patient its entries belong to.
    expect(recordsOfFile('b.json', Buffer.from(JSON.stringify(bundle)), 1_048_576).map((r) => r.partitionKey)).toEqual(['pt-1']);
    const ndjson = `${JSON.stringify(o)}\n\n${JSON.stringify(p)}\n`;
    expect(recordsOfFile('x.ndjson', Buffer.from(ndjson), 1_048_576).map((r) => [r.source, r.partitionKey, r.data.toString()])).toEqual([
      ['x.ndjson line 1', 'pt-2', JSON.stringify(o)],
      ['x.ndjson line 3', 'pt-1', JSON.stringify(p)],
    ]);
  });

  test('a record naming no patient needs --patient; one over the record limit is refused before anything is sent', () => {
    const { subject: _s, ...orphan } = o;
    expect(() => recordsOfFile('o.json', Buffer.from(JSON.stringify(orphan)), 1_048_576)).toThrow(
      'o.json: no patient id can be derived (not valid FHIR, or it names no patient): fix it, or pass --patient ID to send it under that patient',
    );
    expect(recordsOfFile('o.json', Buffer.from(JSON.stringify(orphan)), 1_048_576, 'pt-9')[0].partitionKey).toBe('pt-9');
    const big = { ...p, text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${'a'.repeat(1_100_000)}</div>` } };
    expect(() => recordsOfFile('big.json', Buffer.from(JSON.stringify(big)), 1_048_576)).toThrow(
      /^big\.json: \d+ bytes is more than the stream's 1048576-byte record limit/,
    );
  });

  test('usage errors are one line (exit 2): no suffix, a bad suffix, no file, an impossible record size', () => {
    const error = (argv: string[]) => {
      try {
        parseSendArgs(argv);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as UsageError).message;
      }
      return undefined;
    };
    expect(error(['a.json'])).toBe('--suffix is required: local, or the environmentSuffix of a deployed environment (dev, prod, ...)');
    expect(error(['--suffix', 'Dev', 'a.json'])).toMatch(/^--suffix "Dev" is invalid: /);
    expect(error(['--suffix', 'dev'])).toBe('name at least one FILE to send (FHIR JSON, a Bundle, or NDJSON)');
    expect(error(['--suffix', 'dev', '--max-record-kib', '20480', 'a.json'])).toBe(
      '--max-record-kib must be at most 10240 (10 MiB), not 20480',
    );
    expect(error(['--suffix', 'dev', '--max-record-kib', '512', 'a.json'])).toBe(
      '--max-record-kib must be a whole number ≥ 1024, not "512"',
    );
    expect(parseSendArgs(['--suffix', 'dev', 'a.json', 'b.ndjson'])).toMatchObject({
      suffix: 'dev',
      files: ['a.json', 'b.ndjson'],
      maxRecordBytes: 1_048_576,
    });
  });

  test('the command exits 2 with one line and the usage on a usage error, and 1 with one line for an unreadable file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'send-'));
    try {
      writeFileSync(join(dir, 'p.json'), JSON.stringify(p));
      const run = (args: string[]) =>
        spawnSync(process.execPath, [...TS_HOOK, 'scripts/operations/send.ts', ...args], { encoding: 'utf8', cwd: ROOT });
      const usage = run([join(dir, 'p.json')]);
      expect(usage.status).toBe(2);
      expect(usage.stderr.split('\n')[0]).toBe(
        'send: --suffix is required: local, or the environmentSuffix of a deployed environment (dev, prod, ...)',
      );
      const missing = run(['--suffix', 'dev', join(dir, 'nope.json')]);
      expect(missing.status).toBe(1);
      expect(missing.stderr).toMatch(/^send: cannot read .*nope\.json: ENOENT[^\n]*\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
