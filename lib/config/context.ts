import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import { ConfigError } from '../contract/errors';
import type { Profile, TrailMode } from './environment-config';
import schema from './cdk-context.schema.json';

/*
 * The CDK context is checked as a whole against ONE schema, cdk-context.schema.json (also the
 * editor schema of cdk.json). The interfaces below are its TypeScript face; the *_KEYS objects
 * must list exactly their keys (the compiler holds them to the interface, and
 * test/lib/config/context.test.ts holds them to the schema), so neither can drift.
 */

export interface RawSizing {
  readonly dbInstanceType?: string;
  readonly dbAllocatedStorageGiB?: number;
  readonly dbMaxAllocatedStorageGiB?: number;
  readonly streamShardCount?: number;
  readonly processorMaxTasks?: number;
}

/** `environments.<suffix>.restoreDrill` (see lib/config/restore-drill-config.ts). */
export interface RawRestoreDrill {
  readonly enabled?: boolean;
  readonly schedule?: string;
  readonly rpoTargetMinutes?: number;
  readonly rtoTargetMinutes?: number;
}

/** One entry of cdk.json `environments` (its key is the environment suffix). */
export interface RawEnvironmentEntry {
  readonly account?: string;
  readonly region?: string;
  readonly profile?: Profile;
  readonly availabilityZones?: readonly string[];
  readonly vpcCidr?: string;
  readonly databaseSecretName?: string;
  readonly databaseSecretKeyArn?: string;
  readonly databaseName?: string;
  readonly trailMode?: TrailMode;
  readonly alarmEmail?: string;
  readonly sizing?: RawSizing;
  readonly restoreDrill?: RawRestoreDrill;
}

export interface RawPipeline {
  readonly repository: string;
  readonly branch?: string;
  readonly connectionArn: string;
  readonly account?: string;
  readonly notificationEmail?: string;
  readonly destroyable?: boolean;
  readonly ignoredPaths?: readonly string[];
}

export interface RawPreviews {
  readonly account?: string;
  readonly bootstrapQualifier?: string;
  readonly branchPatterns?: readonly string[];
  readonly pullRequestBaseBranch?: string;
  readonly ttlHours?: number;
  readonly maxEnvironments?: number;
  readonly databaseSecretName?: string;
  readonly databaseSecretKeyArn?: string;
}

/** Keys of the personal environment that `-c environmentSuffix=<name>` may override from the command line. */
export interface RawPersonalOverrides {
  readonly profile?: Profile;
  readonly databaseSecretName?: string;
  readonly databaseSecretKeyArn?: string;
  readonly vpcCidr?: string;
  readonly trailMode?: TrailMode;
  readonly alarmEmail?: string;
  readonly sizing?: RawSizing;
}

/** The app's own keys of the CDK context (CDK-owned keys are allowed by pattern, see the schema). */
export interface RawContext extends RawPersonalOverrides {
  readonly project?: string;
  readonly region?: string;
  readonly account?: string;
  readonly pipeline?: RawPipeline;
  readonly previews?: RawPreviews;
  readonly environments?: Readonly<Record<string, RawEnvironmentEntry>>;
  readonly 'cli-telemetry'?: boolean | 'true' | 'false';
  readonly 'acknowledged-issue-numbers'?: readonly number[];
  readonly branch?: string;
  readonly environmentSuffix?: string;
}

export const SIZING_KEYS = {
  dbInstanceType: true,
  dbAllocatedStorageGiB: true,
  dbMaxAllocatedStorageGiB: true,
  streamShardCount: true,
  processorMaxTasks: true,
} as const satisfies Record<keyof RawSizing, true>;
export const ENVIRONMENT_ENTRY_KEYS = {
  account: true,
  region: true,
  profile: true,
  availabilityZones: true,
  vpcCidr: true,
  databaseSecretName: true,
  databaseSecretKeyArn: true,
  databaseName: true,
  trailMode: true,
  alarmEmail: true,
  sizing: true,
  restoreDrill: true,
} as const satisfies Record<keyof RawEnvironmentEntry, true>;
export const RESTORE_DRILL_KEYS = {
  enabled: true,
  schedule: true,
  rpoTargetMinutes: true,
  rtoTargetMinutes: true,
} as const satisfies Record<keyof RawRestoreDrill, true>;
export const PIPELINE_KEYS = {
  repository: true,
  branch: true,
  connectionArn: true,
  account: true,
  notificationEmail: true,
  destroyable: true,
  ignoredPaths: true,
} as const satisfies Record<keyof RawPipeline, true>;
export const PREVIEW_KEYS = {
  account: true,
  bootstrapQualifier: true,
  branchPatterns: true,
  pullRequestBaseBranch: true,
  ttlHours: true,
  maxEnvironments: true,
  databaseSecretName: true,
  databaseSecretKeyArn: true,
} as const satisfies Record<keyof RawPreviews, true>;
export const PERSONAL_OVERRIDE_KEYS = {
  profile: true,
  databaseSecretName: true,
  databaseSecretKeyArn: true,
  vpcCidr: true,
  trailMode: true,
  alarmEmail: true,
  sizing: true,
} as const satisfies Record<keyof RawPersonalOverrides, true>;
export const CONTEXT_KEYS = {
  ...PERSONAL_OVERRIDE_KEYS,
  project: true,
  region: true,
  account: true,
  pipeline: true,
  previews: true,
  environments: true,
  'cli-telemetry': true,
  'acknowledged-issue-numbers': true,
  branch: true,
  environmentSuffix: true,
} as const satisfies Record<keyof RawContext, true>;

/** The published schema (cdk.json as a whole; the context is `definitions.context`). */
export const CDK_CONTEXT_SCHEMA = schema;

/**
 * App context that leaves construct stack traces out of the cloud assembly's metadata (cx-api's
 * DISABLE_METADATA_STACK_TRACE and DISABLE_CREATION_STACK_TRACES). They are debugging aids of `cdk synth` that
 * never reach a template (the templates are byte-identical either way), but CDK captures one for every construct,
 * and inside Jest each frame goes through Jest's source maps: about a tenth of a stage test's CPU. For the
 * in-process synths of the tests and the access matrix; `cdk synth` itself keeps them.
 */
export const NO_STACK_TRACES: Readonly<Record<string, boolean>> = {
  'aws:cdk:disable-stack-trace': true,
  'aws:cdk:disable-creation-stack-traces': true,
};

/** Top-level keys whose value is an object; from the command line they arrive as JSON strings. */
const OBJECT_KEYS = ['pipeline', 'previews', 'environments', 'sizing'] as const;

let validator: ValidateFunction | undefined;
function validate(): ValidateFunction {
  if (!validator) {
    const ajv = new Ajv({ strict: true, allErrors: false, verbose: true });
    // VS Code's own keyword for a pattern's message: the editor and synth then say the same thing.
    ajv.addKeyword('patternErrorMessage');
    ajv.addSchema(schema, 'cdk.json');
    validator = ajv.getSchema('cdk.json#/definitions/context')!;
  }
  return validator;
}

/** Edit distance, for the "did you mean" hint of an unknown key. */
export function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

/** The closest allowed key, when it is close enough to be a typo (case differences count as close). */
export function closestKey(key: string, allowed: readonly string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const candidate of allowed) {
    const distance = candidate.toLowerCase() === key.toLowerCase() ? 0 : levenshtein(key, candidate);
    if (!best || distance < best.distance) best = { key: candidate, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(key.length / 3)) ? best.key : undefined;
}

/** `environments.dev.sizing` from the JSON pointer `/environments/dev/sizing`. */
function dotted(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

function valueAt(context: Record<string, unknown>, pointer: string): unknown {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>(
      (value, part) => (value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined),
      context,
    );
}

const TYPE_RULES: Readonly<Record<string, string>> = {
  integer: 'expected a whole number',
  number: 'expected a number',
  string: 'expected a string',
  boolean: 'use true or false',
  object: 'expected an object',
  array: 'expected a list',
};

/**
 * Keys and values renamed in 0.2.0 ("ephemeral" had three meanings: see the migration notes in
 * CHANGELOG.md). An old name is refused like any unknown one, but the message names its successor.
 */
const RENAMED_KEYS: Readonly<Record<string, string>> = { ephemeral: 'previews' };
const RENAMED_VALUES: Readonly<Record<string, string>> = { ephemeral: 'development' };
const MIGRATION = 'see "Migrating from 0.1" in CHANGELOG.md';

function describe(error: ErrorObject, context: Record<string, unknown>): string {
  const at = dotted(error.instancePath);
  if (error.keyword === 'additionalProperties') {
    const key = (error.params as { additionalProperty: string }).additionalProperty;
    const allowed = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
    const where = at === '' ? 'at the top level of the CDK context' : `in ${at}`;
    const renamed = RENAMED_KEYS[key];
    if (renamed && allowed.includes(renamed)) return `unknown key "${key}" ${where}: it was renamed to "${renamed}" (${MIGRATION})`;
    const guess = closestKey(key, allowed);
    return `unknown key "${key}" ${where} (${guess ? `did you mean "${guess}"?` : `allowed: ${allowed.join(', ')}`})`;
  }
  if (error.keyword === 'required')
    return `${at === '' ? '' : `${at}.`}${(error.params as { missingProperty: string }).missingProperty} is required`;
  const value = valueAt(context, error.instancePath);
  let rule = error.message ?? 'does not match the schema';
  const patternMessage = (error.parentSchema as { patternErrorMessage?: string } | undefined)?.patternErrorMessage;
  if (error.keyword === 'pattern' && patternMessage) rule = patternMessage;
  else if (error.keyword === 'type') rule = TYPE_RULES[(error.params as { type: string }).type] ?? rule;
  else if (error.keyword === 'enum') {
    const allowed = [...new Set((error.params as { allowedValues: unknown[] }).allowedValues.map((v) => String(v)))];
    const renamed = typeof value === 'string' ? RENAMED_VALUES[value] : undefined;
    rule =
      renamed && allowed.includes(renamed) ? `"${value}" was renamed to "${renamed}" (${MIGRATION})` : `use one of ${allowed.join(', ')}`;
  }
  return `${at} ${JSON.stringify(value)} is invalid: ${rule}`;
}

/** CDK-owned keys: feature flags, CLI settings and look-up results (see the schema's patternProperties). */
function isCdkOwned(key: string): boolean {
  return Object.keys(schema.definitions.context.patternProperties).some((pattern) => new RegExp(pattern).test(key));
}

type SchemaNode = { $ref?: string; type?: string; properties?: Record<string, SchemaNode>; additionalProperties?: SchemaNode | boolean };

/** The schema of the value at a dotted path of the context, if the schema describes one. */
function schemaAt(path: readonly string[]): SchemaNode | undefined {
  const definitions = schema.definitions as unknown as Record<string, SchemaNode>;
  const resolve = (node: SchemaNode | undefined) => (node?.$ref ? definitions[node.$ref.replace('#/definitions/', '')] : node);
  let node: SchemaNode | undefined = definitions.context;
  for (const part of path) {
    node = resolve(node);
    node = node?.properties?.[part] ?? (typeof node?.additionalProperties === 'object' ? node.additionalProperties : undefined);
  }
  return resolve(node);
}

/** A -c value as JSON of the type the schema expects there (CLI values are always strings). */
function jsonValue(path: readonly string[], text: string): string {
  const type = schemaAt(path)?.type;
  if (type === 'integer' || type === 'number' || type === 'boolean' || type === 'array') {
    try {
      return JSON.stringify(JSON.parse(text));
    } catch {
      // Not valid as that type: show it as written; the schema will say what is wrong.
    }
  }
  return JSON.stringify(text);
}

/**
 * Checks the whole CDK context before anything is built, and returns it with the object-valued
 * keys passed on the command line (`-c 'sizing={...}'`) parsed. Throws a one-line ConfigError.
 */
export function validateContext(input: Readonly<Record<string, unknown>>): RawContext & Record<string, unknown> {
  const context: Record<string, unknown> = { ...input };
  for (const key of Object.keys(context)) {
    // The CDK CLI passes `-c a.b=v` as one flat key "a.b" with a string value: nothing would read it.
    if (key.includes('.') && !isCdkOwned(key)) {
      const [head, ...rest] = key.split('.');
      const example = `-c '${head}=${rest.reduceRight((inner, part) => `{"${part}":${inner}}`, jsonValue(key.split('.'), String(context[key])))}'`;
      throw new ConfigError(
        `context key "${key}" is a dotted override, which the CDK does not nest: edit cdk.json, or pass the whole object as JSON, e.g. ${example}`,
      );
    }
  }
  for (const key of OBJECT_KEYS) {
    const value = context[key];
    if (typeof value !== 'string') continue;
    try {
      context[key] = JSON.parse(value) as unknown;
    } catch {
      throw new ConfigError(`context "${key}" is not valid JSON: pass an object, e.g. -c '${key}={...}'`);
    }
  }
  const check = validate();
  if (!check(context)) throw new ConfigError(describe(check.errors![0], context));

  const raw = context as RawContext;
  const single = raw.environmentSuffix !== undefined || raw.branch !== undefined;
  if (raw.branch !== undefined && raw.environmentSuffix !== undefined) {
    throw new ConfigError('use either -c branch=<name> or -c environmentSuffix=<name>, not both');
  }
  if (raw.environmentSuffix === undefined) {
    const ignored = Object.keys(PERSONAL_OVERRIDE_KEYS).find((key) => context[key] !== undefined);
    if (ignored) {
      throw new ConfigError(
        `context "${ignored}" applies only to a personal environment (-c environmentSuffix=<name>): for a configured environment set environments.<name>.${ignored} in cdk.json`,
      );
    }
  }
  if (!single && Object.keys(raw.environments ?? {}).length === 0) {
    throw new ConfigError(
      '"environments" in cdk.json is empty: define at least one, e.g. "environments": {"dev": {"profile": "development"}}, or pass -c environmentSuffix=<name>',
    );
  }
  return context as RawContext & Record<string, unknown>;
}
