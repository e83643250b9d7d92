import { ConfigError } from '../contract/errors';
import type { DefaultedContext, PersonalOverrideKey, RawContext } from './generated/cdk-context';
import { definition, isCdkOwned, schemaAt, schemaProblems, withDefaults } from './schema';

/*
 * The CDK context is checked as a whole against ONE schema, cdk-context.schema.json (also the editor
 * schema of cdk.json), and its TypeScript types are generated from it (generated/cdk-context.ts).
 * This module adds what only the command line brings (dotted keys, JSON strings) and the rules
 * between top-level keys.
 */

export { CDK_CONTEXT_SCHEMA, closestKey, levenshtein } from './schema';

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

/** Top-level settings that are an environment's setting given with -c to a personal environment (`$ref`s into the environment). */
export const PERSONAL_OVERRIDE_KEYS: readonly PersonalOverrideKey[] = Object.entries(definition('context').properties ?? {})
  .filter(([, node]) => node.$ref?.startsWith('#/definitions/environment/properties/'))
  .map(([key]) => key as PersonalOverrideKey);

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

/** The validated context, with the schema's defaults applied (not inside `environments`: see resolveApp). */
export type Context = DefaultedContext & Readonly<Record<string, unknown>>;

/**
 * Checks the whole CDK context before anything is built, and returns it with the object-valued keys
 * passed on the command line (`-c 'sizing={...}'`) parsed and the schema's defaults applied. Throws one
 * ConfigError listing every problem found, one line each.
 */
export function validateContext(input: Readonly<Record<string, unknown>>): Context {
  const problems: string[] = [];
  const context: Record<string, unknown> = { ...input };
  for (const key of Object.keys(context)) {
    // The CDK CLI passes `-c a.b=v` as one flat key "a.b" with a string value: nothing would read it.
    if (key.includes('.') && !isCdkOwned(key)) {
      const [head, ...rest] = key.split('.');
      const example = `-c '${head}=${rest.reduceRight((inner, part) => `{"${part}":${inner}}`, jsonValue(key.split('.'), String(context[key])))}'`;
      problems.push(
        `context key "${key}" is a dotted override, which the CDK does not nest: edit cdk.json, or pass the whole object as JSON, e.g. ${example}`,
      );
      delete context[key];
    }
  }
  for (const key of Object.keys(definition('context').properties ?? {})) {
    const value = context[key];
    // From the command line every value is a string: an object-valued key arrives as JSON text.
    if (typeof value !== 'string' || schemaAt([key])?.type !== 'object') continue;
    try {
      context[key] = JSON.parse(value) as unknown;
    } catch {
      problems.push(`context "${key}" is not valid JSON: pass an object, e.g. -c '${key}={...}'`);
      delete context[key];
    }
  }
  problems.push(...schemaProblems(context));

  const raw = context as Partial<RawContext>;
  const single = raw.environmentSuffix !== undefined || raw.branch !== undefined;
  if (raw.branch !== undefined && raw.environmentSuffix !== undefined) {
    problems.push('use either -c branch=<name> or -c environmentSuffix=<name>, not both');
  }
  if (raw.environmentSuffix === undefined) {
    for (const key of PERSONAL_OVERRIDE_KEYS.filter((k) => input[k] !== undefined)) {
      problems.push(
        `context "${key}" applies only to a personal environment (-c environmentSuffix=<name>): for a configured environment set environments.<name>.${key} in cdk.json`,
      );
    }
  }
  const environments: unknown = raw.environments;
  const none =
    environments === undefined || (typeof environments === 'object' && environments !== null && Object.keys(environments).length === 0);
  if (!single && none) {
    problems.push(
      '"environments" in cdk.json is empty: define at least one, e.g. "environments": {"dev": {"profile": "development"}}, or pass -c environmentSuffix=<name>',
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return withDefaults('context', context as unknown as RawContext) as Context;
}
