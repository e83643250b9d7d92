import { Client, Pool } from 'pg';
import { canonicalJson, canonicalText, contentHash, numericText, parseExact } from '../../lib/processor/fhir/exact-json';
import { validateRecord } from '../../lib/processor/fhir/validate';
import { migrate } from '../../lib/processor/db/migrate';
import { MIGRATIONS } from '../../lib/processor/db/schema';
import { acceptedCorpus, CorpusRecord, loadCorpus } from '../../scripts/shared/fhir-fuzz';
import { numberTokens, reserialize } from '../../scripts/shared/json-text';
import { putRecords, startStack, TestStack, waitFor } from './harness';

jest.setTimeout(180_000);

const MAX = 1_048_576;
const text = (r: CorpusRecord) => r.data.toString('utf8');
const byName = (name: string) => text(loadCorpus('hl7-r4').find((r) => r.source === `hl7-r4/${name}`)!);
const sorted = (xs: string[]) => [...xs].sort();
const bundleOf = (...resources: string[]) =>
  `{"resourceType":"Bundle","type":"batch","entry":[${resources
    .map((r) => {
      const { resourceType, id } = JSON.parse(r) as { resourceType: string; id: string };
      return `{"fullUrl":"https://example.org/fhir/${resourceType}/${id}","resource":${r},"request":{"method":"PUT","url":"${resourceType}/${id}"}}`;
    })
    .join(',')}]}`;
const observation = (id: string, value: string) =>
  `{"resourceType":"Observation","id":"${id}","status":"final","code":{"text":"mass"},"subject":{"reference":"Patient/fidelity-p1"},"valueQuantity":{"value":${value},"unit":"g"}}`;

/**
 * Numbers as sent and de-duplication by meaning, through the real processor into the real
 * PostgreSQL: what comes back from jsonb is compared with what was sent.
 */
describe('fidelity: numbers as sent, equal content stored once', () => {
  let stack: TestStack;
  let db: Client;

  beforeAll(async () => {
    stack = await startStack();
    db = stack.db;
  });
  afterAll(() => stack?.stop());

  const stored = async (type: string, id: string): Promise<string | undefined> =>
    (await db.query('SELECT resource::text AS t FROM fhir_resource_current WHERE resource_type = $1 AND resource_id = $2', [type, id]))
      .rows[0]?.t;

  test("the canonical text is jsonb's own text for every corpus resource, and content_hash is its SHA-256", async () => {
    const odd = ['{"n": [1.50, 0.0, -0, -0.0, 1E+2, 1.5e-3, 2e24, 12345678901234567890, 1e-300, 1.000000000000000000E-245]}'];
    const texts = [...acceptedCorpus().map(text), ...odd, '{"k": "\\u00e9\\n\\t\\u001f\\"/", "é": 1, "bb": [], "a": {}}'];
    const { rows } = await db.query<{ t: string; h: string }>(
      `SELECT e::text AS t, encode(sha256(convert_to(e::text, 'UTF8')), 'hex') AS h FROM jsonb_array_elements($1::jsonb) AS e`,
      [`[${texts.join(',')}]`],
    );
    expect(rows).toHaveLength(texts.length);
    const mismatches = texts.filter((t, i) => {
      const { value, sources } = parseExact(t);
      const canonical = canonicalJson(value, sources);
      return canonical !== rows[i].t || contentHash(canonical) !== rows[i].h;
    });
    expect(mismatches).toEqual([]);
  });

  test('official examples with trailing-zero decimals and numbers beyond double come back exactly as sent, in and out of Bundles', async () => {
    const stream = 'hipaa-fhir-records-fidelity-numbers';
    await stack.createStream(stream, 2);
    const running = await stack.startProcessor(stream);
    const decimal = byName('observation-decimal.json');
    const decimalInBundle = decimal.replace('"id": "decimal"', '"id": "decimal-in-bundle"');
    const claim = byName('claim-example-oral-average.json');
    const beyond = observation('beyond-double', '12345678901234567890.12345678901234567890');
    const beyondInBundle = observation('beyond-double-in-bundle', '-98765432109876543210.000');
    const lipids = byName('diagnosticreport-example-lipids.json');
    const unstorable = observation('too-small', '1e-20000');
    const unstorableBundle = bundleOf(observation('too-small-in-bundle', '1e-20000'));
    const records = [decimal, claim, beyond, bundleOf(decimalInBundle, beyondInBundle), lipids, unstorable, unstorableBundle].map(
      (t, i) => ({ partitionKey: `fidelity-${i}`, data: Buffer.from(t), expect: { kind: 'valid' as const } }),
    );
    await putRecords(stack.kinesis.client, stream, records as never);
    const lipidsEntries = (JSON.parse(lipids) as { entry: { resource: { resourceType: string; id: string } }[] }).entry.map(
      (e) => e.resource,
    );
    await waitFor('every record handled', async () => {
      const { rows } = await db.query(
        `SELECT (SELECT count(*) FROM fhir_resource_current)::int AS current, (SELECT count(*) FROM quarantined_record)::int AS q`,
      );
      return rows[0].current >= 5 + lipidsEntries.length && rows[0].q >= 2 ? rows[0] : undefined;
    });
    await running.shutdown();

    // The examples' own tokens, as jsonb prints them: 1.0 and 1.00 stay, 1E-22 is written out in full.
    expect(numberTokens(decimal)).toEqual([
      '1.0',
      '1.00',
      '1.0',
      '1E-22',
      '1000000000000000000',
      '1.000000000000000000E-245',
      '-1.000000000000000000E+245',
    ]);
    for (const [sent, type, id] of [
      [decimal, 'Observation', 'decimal'],
      [decimalInBundle, 'Observation', 'decimal-in-bundle'],
      [claim, 'Claim', '100151'],
      [beyond, 'Observation', 'beyond-double'],
      [beyondInBundle, 'Observation', 'beyond-double-in-bundle'],
    ]) {
      const back = await stored(type, id);
      expect({ id, tokens: sorted(numberTokens(back!)) }).toEqual({ id, tokens: sorted(numberTokens(sent).map(numericText)) });
    }
    expect(numberTokens((await stored('Observation', 'decimal-in-bundle'))!)).toEqual(expect.arrayContaining(['1.0', '1.00']));
    expect(numberTokens((await stored('Observation', 'beyond-double'))!)).toContain('12345678901234567890.12345678901234567890');
    expect(numberTokens((await stored('Observation', 'beyond-double-in-bundle'))!)).toContain('-98765432109876543210.000');
    // An official collection Bundle: every number of its entries (it has none outside them) comes back as sent.
    const fromLipids = (await Promise.all(lipidsEntries.map((r) => stored(r.resourceType, r.id)))).flatMap((t) => numberTokens(t!));
    expect(sorted(fromLipids)).toEqual(sorted(numberTokens(lipids).map(numericText)));

    // What jsonb cannot hold exactly is quarantined with its reason, bytes as received.
    const q = (await db.query('SELECT reason_code, detail, payload FROM quarantined_record')).rows;
    expect(q.map((r) => [r.reason_code, r.detail])).toEqual([
      ['UNSTORABLE', 'a number has 20000 digits after the decimal point; PostgreSQL jsonb stores at most 16383: send it with fewer digits'],
      ['UNSTORABLE', 'a number has 20000 digits after the decimal point; PostgreSQL jsonb stores at most 16383: send it with fewer digits'],
    ]);
    expect(sorted(q.map((r) => (r.payload as Buffer).toString('utf8')))).toEqual(sorted([unstorable, unstorableBundle]));
  });

  test('a re-serialized resend of stored versions (real HL7 and Synthea resources) is one history row each and a duplicate audit event', async () => {
    const stream = 'hipaa-fhir-records-fidelity-resend';
    await stack.createStream(stream, 2);
    const running = await stack.startProcessor(stream);
    const single = (r: CorpusRecord) => !text(r).includes('"resourceType": "Bundle"') && !text(r).includes('"resourceType":"Bundle"');
    const key = (r: CorpusRecord) => {
      const result = validateRecord(r.data, MAX);
      if (!result.ok) throw new Error(`${r.source} is not accepted: ${result.detail}`);
      return `${result.resources[0].resourceType}/${result.resources[0].id}`;
    };
    // Resources no earlier test stored (the lipids Bundle's entries are also HL7 examples of their own).
    const present = new Set(
      (await db.query(`SELECT resource_type || '/' || resource_id AS k FROM fhir_resource_current`)).rows.map((r) => r.k),
    );
    const fresh = (records: CorpusRecord[]) => records.filter((r) => single(r) && !present.has(key(r))).slice(40, 50);
    const picked = [...fresh(loadCorpus('hl7-r4')), ...fresh(loadCorpus('synthea'))];
    const keys = picked.map(key);
    expect(new Set(keys).size).toBe(20);
    const inScope = `(resource_type || '/' || resource_id) = ANY($1)`;
    const history = async () => (await db.query(`SELECT count(*)::int AS n FROM fhir_resource_history WHERE ${inScope}`, [keys])).rows[0].n;
    const outcomes = async () =>
      Object.fromEntries(
        (await db.query(`SELECT outcome, count(*)::int AS n FROM audit_event WHERE ${inScope} GROUP BY 1`, [keys])).rows.map((r) => [
          r.outcome,
          r.n,
        ]),
      );

    await putRecords(stack.kinesis.client, stream, picked.map((r, i) => ({ partitionKey: `resend-${i}`, data: r.data })) as never);
    await waitFor('originals stored', async () => ((await history()) >= 20 ? true : undefined));
    const resent = picked.map((r) => reserialize(text(r)));
    resent.forEach((t, i) => expect(t).not.toBe(text(picked[i])));
    // The resend, then in one batch both forms again: equal content, whatever its formatting, in or across batches.
    await putRecords(stack.kinesis.client, stream, resent.map((t, i) => ({ partitionKey: `resend-${i}`, data: Buffer.from(t) })) as never);
    await waitFor('resends audited', async () => ((await outcomes()).duplicate >= 20 ? true : undefined));
    await putRecords(
      stack.kinesis.client,
      stream,
      picked.flatMap((r, i) => [
        { partitionKey: `resend-${i}`, data: Buffer.from(resent[i]) },
        { partitionKey: `resend-${i}`, data: r.data },
      ]) as never,
    );
    await waitFor('both forms audited', async () => ((await outcomes()).duplicate >= 60 ? true : undefined));
    await running.shutdown();
    expect(await history()).toBe(20);
    expect(await outcomes()).toEqual({ written: 20, duplicate: 60 });
    // The stored row is the first form sent, keyed by its canonical text.
    const keyed = (
      await db.query(
        `SELECT count(*)::int AS n FROM fhir_resource_history WHERE ${inScope} AND content_hash = sha256(convert_to(resource::text, 'UTF8'))`,
        [keys],
      )
    ).rows[0].n;
    expect(keyed).toBe(20);
  });

  test('the migration re-keys existing history by meaning; formatting twins stored before it keep their rows', async () => {
    const rekey = MIGRATIONS.find((m) => m.description.startsWith('history key by meaning'))!;
    const admin = await stack.pg.client();
    await admin.query('DROP DATABASE IF EXISTS fidelity_migrate');
    await admin.query('CREATE DATABASE fidelity_migrate');
    await admin.end();
    const pool = new Pool(stack.pg.settings({ database: 'fidelity_migrate' }));
    try {
      await migrate(
        pool,
        MIGRATIONS.filter((m) => m !== rekey),
      );
      const a = observation('twin', '1.50');
      const b = reserialize(a);
      const other = observation('other', '2.0');
      // Keyed as before this change: by the bytes sent.
      for (const [t, seq] of [
        [a, '1'],
        [b, '2'],
        [other, '3'],
      ])
        await pool.query(
          `INSERT INTO fhir_resource_history (resource_type, resource_id, content_hash, patient_id, resource, stream_name, shard_id, sequence_number)
           VALUES ('Observation', $1, sha256(convert_to($2, 'UTF8')), 'fidelity-p1', $2::jsonb, 's', 'shard-0', $3)`,
          [(JSON.parse(t) as { id: string }).id, t, seq],
        );
      expect(await migrate(pool)).toEqual([rekey.version]);
      const rows = (
        await pool.query(
          `SELECT resource_id, sequence_number, content_hash = sha256(convert_to(resource::text, 'UTF8')) AS canonical
           FROM fhir_resource_history ORDER BY sequence_number`,
        )
      ).rows;
      expect(rows).toEqual([
        { resource_id: 'twin', sequence_number: '1', canonical: true },
        { resource_id: 'twin', sequence_number: '2', canonical: false },
        { resource_id: 'other', sequence_number: '3', canonical: true },
      ]);
      // A resend now finds the re-keyed row: the key the write computes (write.ts) of either form, and the
      // processor's own for duplicates within a batch (records.ts), are the stored key.
      const hashes = (await pool.query(`SELECT encode(content_hash, 'hex') AS h FROM fhir_resource_history WHERE sequence_number = '1'`))
        .rows;
      const ok = validateRecord(Buffer.from(b), MAX);
      const json = ok.ok ? ok.resources[0].json : '';
      const written = await pool.query(`SELECT encode(sha256(convert_to($1::jsonb::text, 'UTF8')), 'hex') AS h`, [json]);
      expect(written.rows[0].h).toBe(hashes[0].h);
      expect(contentHash(canonicalText(json))).toBe(hashes[0].h);
    } finally {
      await pool.end();
    }
  });
});
