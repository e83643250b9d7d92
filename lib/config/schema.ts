import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import schema from './cdk-context.schema.json';
import type { DefaultedDefinitions, Profile, RawDefinitions } from './generated/cdk-context';

/*
 * The one place the schema is read: validation (every error at once, one line each), the defaults it
 * declares, and the key lists other modules need. Rules across settings are TypeScript's
 * (resolve-app.ts and the modules it calls); the shape of each setting is only here.
 */

/** The published schema (cdk.json as a whole; the context is `definitions.context`). */
export const CDK_CONTEXT_SCHEMA = schema;

export interface SchemaNode {
  readonly $ref?: string;
  readonly type?: string;
  readonly enum?: readonly unknown[];
  readonly description?: string;
  readonly default?: unknown;
  readonly profileDefaults?: Readonly<Record<string, unknown>>;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly patternProperties?: Readonly<Record<string, SchemaNode>>;
  readonly additionalProperties?: SchemaNode | boolean;
  readonly required?: readonly string[];
  readonly items?: SchemaNode;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly minLength?: number;
  readonly patternErrorMessage?: string;
}

/** The node a JSON pointer of the schema (`#/definitions/...`) names. */
export function schemaNode(ref: string): SchemaNode {
  const node = ref
    .replace(/^#\//, '')
    .split('/')
    .reduce<unknown>((n, part) => (n as Record<string, unknown> | undefined)?.[part], schema);
  if (!node) throw new Error(`${ref} names nothing in lib/config/cdk-context.schema.json`);
  return node as SchemaNode;
}

/** A node with its `$ref` chain followed (the target's keywords, the use site's where both say). */
export function resolved(node: SchemaNode): SchemaNode {
  return node.$ref ? { ...resolved(schemaNode(node.$ref)), ...node, $ref: undefined } : node;
}

export const definition = (name: keyof RawDefinitions): SchemaNode => schemaNode(`#/definitions/${name}`);

let validator: ValidateFunction | undefined;
function contextValidator(): ValidateFunction {
  if (!validator) {
    // verbose: each error carries the schema node it failed (its patternErrorMessage, its allowed keys).
    const ajv = new Ajv({ strict: true, allErrors: true, verbose: true });
    // VS Code's own keyword for a pattern's message: the editor and synth then say the same thing.
    ajv.addKeyword({ keyword: 'patternErrorMessage', schemaType: 'string' });
    // Applied by withDefaults below, not by ajv: they depend on the environment's profile.
    ajv.addKeyword({ keyword: 'profileDefaults', schemaType: 'object' });
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

function pointerParts(pointer: string): string[] {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function valueAt(context: unknown, pointer: string): unknown {
  return pointerParts(pointer).reduce<unknown>(
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

/**
 * Keys that no longer exist, by path, with what replaced them: refused like any unknown key, with the reason.
 * Preview databases stopped sharing one existing secret: RDS manages each preview's master password.
 */
const REMOVED_KEYS: Readonly<Record<string, string>> = {
  'previews.databaseSecretName':
    'each preview database now has its own master password, which RDS creates, rotates and deletes with it; delete the key (see docs/deploying.md, step 4)',
  'previews.databaseSecretKeyArn':
    "each preview database's RDS-managed secret is encrypted with the AWS managed key aws/secretsmanager; delete the key (see docs/deploying.md, step 4)",
};

/** `from 1 to 720`, `of at least 1`: the bounds a schema node sets. */
function bounds(min: number | undefined, max: number | undefined, exact: string, from: string): string {
  if (min !== undefined && max !== undefined) return min === max ? `${exact}${min}` : `${from}${min} to ${max}`;
  return min !== undefined ? `of at least ${min}` : `of at most ${max}`;
}

/** The rule an error breaks, in the words of the setting's schema (its own message where it has one). */
function rule(error: ErrorObject, value: unknown): string {
  const node = (error.parentSchema ?? {}) as SchemaNode;
  switch (error.keyword) {
    case 'pattern':
      return node.patternErrorMessage ?? `${error.message ?? 'does not match'}`;
    case 'type':
      return TYPE_RULES[(error.params as { type: string }).type] ?? error.message ?? 'has the wrong type';
    case 'enum': {
      const allowed = [...new Set((error.params as { allowedValues: unknown[] }).allowedValues.map((v) => String(v)))];
      const renamed = typeof value === 'string' ? RENAMED_VALUES[value] : undefined;
      return renamed && allowed.includes(renamed)
        ? `"${value}" was renamed to "${renamed}" (${MIGRATION})`
        : `use one of ${allowed.join(', ')}`;
    }
    case 'minimum':
    case 'maximum':
      return `expected ${node.type === 'integer' ? 'a whole number' : 'a number'} ${bounds(node.minimum, node.maximum, '', 'from ')}`;
    case 'minItems':
    case 'maxItems':
      return `expected a list ${bounds(node.minItems, node.maxItems, 'of ', 'of ')} items`;
    case 'uniqueItems':
      return 'list each item once';
    case 'minLength':
      return node.minLength === 1 ? 'must not be empty' : `use at least ${node.minLength} characters`;
    default:
      return error.message ?? 'does not match the schema';
  }
}

/** One line for one schema error: the setting's path, its value and what to write instead. */
function describe(error: ErrorObject, context: unknown): string {
  const at = pointerParts(error.instancePath).join('.');
  if (error.keyword === 'additionalProperties') {
    const key = (error.params as { additionalProperty: string }).additionalProperty;
    const allowed = Object.keys((error.parentSchema as SchemaNode | undefined)?.properties ?? {});
    const where = at === '' ? 'at the top level of the CDK context' : `in ${at}`;
    const renamed = RENAMED_KEYS[key];
    if (renamed && allowed.includes(renamed)) return `unknown key "${key}" ${where}: it was renamed to "${renamed}" (${MIGRATION})`;
    const path = at === '' ? key : `${at}.${key}`;
    if (REMOVED_KEYS[path]) return `${path} was removed: ${REMOVED_KEYS[path]}`;
    const guess = closestKey(key, allowed);
    return `unknown key "${key}" ${where} (${guess ? `did you mean "${guess}"?` : `allowed: ${allowed.join(', ')}`})`;
  }
  if (error.keyword === 'required') {
    const missing = (error.params as { missingProperty: string }).missingProperty;
    const property = (error.parentSchema as SchemaNode | undefined)?.properties?.[missing];
    const description = property ? resolved(property).description : undefined;
    return `${at === '' ? '' : `${at}.`}${missing} is required${description ? `: ${description}` : ''}`;
  }
  const value = valueAt(context, error.instancePath);
  return `${at} ${JSON.stringify(value)} is invalid: ${rule(error, value)}`;
}

/** Every way the context breaks the schema, one line per setting (the first rule each one breaks). */
export function schemaProblems(context: unknown): string[] {
  const check = contextValidator();
  if (check(context)) return [];
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const error of check.errors ?? []) {
    // An unknown key is its own setting; any other error is one per value (its first broken rule).
    const key =
      error.keyword === 'additionalProperties'
        ? `${error.instancePath}/${(error.params as { additionalProperty: string }).additionalProperty}`
        : error.keyword === 'required'
          ? `${error.instancePath}/${(error.params as { missingProperty: string }).missingProperty}`
          : error.instancePath;
    if (seen.has(key)) continue;
    seen.add(key);
    lines.push(describe(error, context));
  }
  return lines;
}

/** CDK-owned keys: feature flags, CLI settings and look-up results (see the schema's patternProperties). */
export function isCdkOwned(key: string): boolean {
  return Object.keys(schema.definitions.context.patternProperties).some((pattern) => new RegExp(pattern).test(key));
}

/** The schema of the value at a dotted path of the context, if the schema describes one. */
export function schemaAt(path: readonly string[]): SchemaNode | undefined {
  let node: SchemaNode | undefined = definition('context');
  for (const part of path) {
    const current: SchemaNode = resolved(node);
    node = current.properties?.[part] ?? (typeof current.additionalProperties === 'object' ? current.additionalProperties : undefined);
    if (!node) return undefined;
  }
  return resolved(node);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function applyDefaults(node: SchemaNode, value: Record<string, unknown>, profile: Profile | undefined): Record<string, unknown> {
  const properties = resolved(node).properties ?? {};
  const result: Record<string, unknown> = { ...value };
  for (const [key, property] of Object.entries(properties)) {
    if (result[key] === undefined && property.default !== undefined) result[key] = structuredClone(property.default);
  }
  // An object whose profile has a default is an environment: its profile picks the profileDefaults below it.
  const own = properties.profile?.default !== undefined ? (result.profile as Profile) : profile;
  for (const [key, property] of Object.entries(properties)) {
    if (result[key] === undefined && own !== undefined && property.profileDefaults) result[key] = property.profileDefaults[own];
    const target = resolved(property);
    // Maps (environments) are not walked: each entry is defaulted once resolved, after its -c overrides.
    if (isPlainObject(result[key]) && target.properties) result[key] = applyDefaults(target, result[key], own);
  }
  return result;
}

/**
 * A value of a definition with the schema's defaults applied: `default` where a setting is absent, and
 * inside an environment the `profileDefaults` of its profile. The value must have passed the schema.
 */
export function withDefaults<K extends keyof RawDefinitions>(name: K, value: RawDefinitions[K]): DefaultedDefinitions[K] {
  return applyDefaults(definition(name), value as unknown as Record<string, unknown>, undefined) as unknown as DefaultedDefinitions[K];
}
