/**
 * Copies the in-scope R4 cases of HL7's validator test suite (FHIR/fhir-test-cases, as kept in
 * ../shared/fhir-data/conformance) into test/fixtures/hl7-validator/, byte for byte, with the Java
 * reference validator's stored outcome of each and an index (cases.json) the fixtures test reads.
 *
 * The selection rule (also in test/fixtures/hl7-validator/README.md) is `selectCase` below.
 *
 *   npx ts-node --transpile-only scripts/generators/copy-hl7-validator-cases.ts [--from DIR]          # writes the fixtures
 *   npx ts-node --transpile-only scripts/generators/copy-hl7-validator-cases.ts [--from DIR] --check  # exits 1 if they are stale
 */
import { createHash } from 'crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { dirname, join } from 'path';
import { SUPPORTED_RESOURCE_TYPES } from '../../lib/processor/fhir/definitions';
import { UNPACKED_BUNDLE_TYPES } from '../../lib/processor/fhir/validate';
import { InputError, parseFlags, runCli } from '../shared/cli';

export const FIXTURES_DIR = join(__dirname, '..', '..', 'test', 'fixtures', 'hl7-validator');
export const DEFAULT_SOURCE = join(__dirname, '..', '..', '..', 'shared', 'fhir-data', 'conformance');
const SUITE = 'fhir-test-cases/validator';

/**
 * Manifest keys that only describe a case or run another step on it (`profile` validates against an extra
 * profile afterwards and has its own outcome; the base outcome used here is R4 core alone). Any other key
 * loads extra material (supporting, profiles, packages, logical, fetcher, matchetype, certificate, advisor,
 * ...) or runs the reference validator with non-default settings (security-checks, examples, validateReference,
 * allow-comments, best-practice, ...), so its verdict is not R4 core validity.
 */
const NEUTRAL_KEYS = new Set([
  'name',
  'file',
  'version',
  'module',
  'java',
  'firely-sdk-current',
  'firely-sdk-wip',
  'brianpos',
  'dotnet-brianpos',
  'description',
  'explanation',
  'documentation',
  'tags',
  'profile',
]);

interface ManifestCase {
  readonly name: string;
  readonly file: string;
  readonly version?: string;
  readonly module?: string;
  readonly 'use-test'?: boolean;
  readonly [key: string]: unknown;
}
interface Issue {
  readonly severity: string;
  readonly details?: { readonly text?: string };
  readonly extension?: readonly { readonly url: string }[];
}

export interface SelectedCase {
  readonly name: string;
  readonly module: string;
  /** Test file, relative to cases/ (as in the suite's validator/ folder). */
  readonly file: string;
  /** Stored Java outcome, relative to outcomes/. */
  readonly outcome: string;
  /** HL7's verdict: invalid when the outcome has an issue of severity error or fatal. */
  readonly hl7: 'valid' | 'invalid';
}

/** The reference validator reports this from its terminology server, or for an extension whose definition is not in R4 core. */
const outsideR4Core = (issue: Issue) =>
  (issue.extension ?? []).some((x) => x.url === 'http://hl7.org/fhir/StructureDefinition/operationoutcome-issue-server') ||
  /could not be found so is not allowed here/.test(issue.details?.text ?? '');

/** Why a case is out of scope, or null when it is in. */
export function exclusion(c: ManifestCase, source: string): string | null {
  if (c.version !== '4.0' && c.version !== '4.0.1') return 'not R4';
  if (c['use-test'] === false) return 'disabled (use-test: false)';
  const extra = Object.keys(c).filter((k) => !NEUTRAL_KEYS.has(k));
  if (extra.length > 0) return `needs more than R4 core or non-default settings (${extra.sort().join(', ')})`;
  if (!c.file.endsWith('.json')) return 'not JSON';
  if (!existsSync(join(source, SUITE, 'outcomes', 'java', outcomeName(c)))) return 'no stored Java outcome';
  let resource: { resourceType?: unknown; type?: unknown; entry?: { resource?: { resourceType?: unknown } }[] };
  try {
    resource = JSON.parse(readFileSync(join(source, SUITE, c.file), 'utf8').replace(/^\uFEFF/, ''));
  } catch {
    return 'not parseable JSON (a parser test)';
  }
  const errors = outcomeErrors(source, c);
  if (errors.length > 0 && errors.every(outsideR4Core))
    return 'HL7 verdict rests only on a terminology server or on extension definitions outside R4 core';
  const supported = (type: unknown) => typeof type === 'string' && SUPPORTED_RESOURCE_TYPES.has(type);
  if (resource.resourceType === 'Bundle') {
    if (typeof resource.type !== 'string' || !UNPACKED_BUNDLE_TYPES.has(resource.type)) return 'a Bundle type the pipeline does not store';
    if (!(resource.entry ?? []).every((e) => supported(e.resource?.resourceType))) return 'a Bundle entry the pipeline does not store';
  } else if (!supported(resource.resourceType)) return 'a resource type outside the Patient compartment';
  return null;
}

const outcomeName = (c: ManifestCase) => `R4.${c.name.replace(/\//g, '-')}-base.json`;

function outcomeErrors(source: string, c: ManifestCase): Issue[] {
  const outcome = JSON.parse(readFileSync(join(source, SUITE, 'outcomes', 'java', outcomeName(c)), 'utf8')) as { issue?: Issue[] };
  return (outcome.issue ?? []).filter((i) => i.severity === 'error' || i.severity === 'fatal');
}

export function selectCases(source: string): { cases: SelectedCase[]; excluded: Record<string, number> } {
  const manifestPath = join(source, SUITE, 'manifest.json');
  if (!existsSync(manifestPath))
    throw new InputError(`${manifestPath} not found: pass --from <the conformance folder of shared/fhir-data>`);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { 'test-cases': ManifestCase[] };
  const cases: SelectedCase[] = [];
  const excluded: Record<string, number> = {};
  for (const c of manifest['test-cases']) {
    const why = exclusion(c, source);
    if (why !== null) {
      const key = why.replace(/ \(.*\)$/, '');
      excluded[key] = (excluded[key] ?? 0) + 1;
      continue;
    }
    cases.push({
      name: c.name,
      module: c.module ?? '',
      file: c.file,
      outcome: outcomeName(c),
      hl7: outcomeErrors(source, c).length === 0 ? 'valid' : 'invalid',
    });
  }
  return { cases, excluded };
}

/** Every file the fixtures hold, path -> content, for writing and for the staleness check. */
export function renderFixtures(source: string): Map<string, Buffer> {
  const { cases, excluded } = selectCases(source);
  const files = new Map<string, Buffer>();
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const provenance: Record<string, string> = {};
  for (const c of cases) {
    for (const [from, to] of [
      [join(source, SUITE, c.file), `cases/${c.file}`],
      [join(source, SUITE, 'outcomes', 'java', c.outcome), `outcomes/${c.outcome}`],
    ]) {
      const data = readFileSync(from);
      files.set(to, data);
      provenance[to] = `${SUITE}/${to.startsWith('cases/') ? c.file : `outcomes/java/${c.outcome}`} sha256:${sha(data)}`;
    }
  }
  const index = {
    source: 'FHIR/fhir-test-cases @ 2dee8a0f8fa0b948b4cd28f0edfc34a0322318fe (validator/), via shared/fhir-data/conformance',
    license: 'Apache-2.0 (declared in the repository pom.xml; see README.md)',
    selection: 'scripts/generators/copy-hl7-validator-cases.ts (rule in README.md)',
    excluded,
    cases,
    files: Object.fromEntries([...Object.entries(provenance)].sort(([a], [b]) => a.localeCompare(b))),
  };
  files.set('cases.json', Buffer.from(`${JSON.stringify(index, null, 2)}\n`));
  return files;
}

const USAGE = `usage: npx ts-node --transpile-only scripts/generators/copy-hl7-validator-cases.ts [--from DIR] [--check]
  --from DIR  the conformance folder of shared/fhir-data (default ../shared/fhir-data/conformance beside the repository)
  --check     exit 1 if test/fixtures/hl7-validator is stale`;

if (require.main === module) {
  runCli('copy-hl7-validator-cases', USAGE, async () => {
    const parsed = parseFlags(process.argv.slice(2), { from: { type: 'string', default: DEFAULT_SOURCE }, check: { type: 'boolean' } });
    if (!parsed) {
      console.log(USAGE);
      return 0;
    }
    const files = renderFixtures(parsed.flags.from);
    if (parsed.flags.check) {
      const stale = [...files].filter(([path, data]) => {
        const target = join(FIXTURES_DIR, path);
        return !existsSync(target) || !readFileSync(target).equals(data);
      });
      if (stale.length === 0) {
        console.log('up to date');
        return 0;
      }
      console.error(`${stale.length} fixture files are stale (first: ${stale[0][0]}): run the script without --check`);
      return 1;
    }
    rmSync(join(FIXTURES_DIR, 'cases'), { recursive: true, force: true });
    rmSync(join(FIXTURES_DIR, 'outcomes'), { recursive: true, force: true });
    for (const [path, data] of files) {
      mkdirSync(dirname(join(FIXTURES_DIR, path)), { recursive: true });
      writeFileSync(join(FIXTURES_DIR, path), data);
    }
    console.log(`wrote ${files.size} files to ${FIXTURES_DIR}`);
    return 0;
  });
}
