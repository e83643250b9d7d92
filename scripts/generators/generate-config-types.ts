/**
 * Generates `lib/config/generated/cdk-context.ts`: the TypeScript types of the CDK context, from the one
 * schema that defines its shape and defaults, `lib/config/cdk-context.schema.json`. Each object definition
 * gives two interfaces: `Raw<Name>` as written in cdk.json, and `Defaulted<Name>` after the schema's
 * defaults are applied (lib/config/schema.ts), in which every setting with a `default` or `profileDefaults`
 * is present.
 *
 *   npx ts-node --transpile-only scripts/generators/generate-config-types.ts           # writes the file
 *   npx ts-node --transpile-only scripts/generators/generate-config-types.ts --check   # exits 1 if it is stale
 */
import { readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import type { SchemaNode } from '../../lib/config/schema';

export const SCHEMA_PATH = join(__dirname, '..', '..', 'lib', 'config', 'cdk-context.schema.json');
export const GENERATED_PATH = join(__dirname, '..', '..', 'lib', 'config', 'generated', 'cdk-context.ts');

interface Schema {
  readonly definitions: Readonly<Record<string, SchemaNode>>;
}

const DEFINITION = /^#\/definitions\/([A-Za-z]+)$/;

function pascal(name: string): string {
  return name[0].toUpperCase() + name.slice(1);
}

function comment(text: string | undefined, indent = ''): string {
  return text ? `${indent}/** ${text.replace(/\*\//g, '*\\/')} */\n` : '';
}

/** The node a JSON pointer of this schema names. */
function at(schema: Schema, ref: string): SchemaNode {
  const node = ref
    .slice(2)
    .split('/')
    .reduce<unknown>((n, part) => (n as Record<string, unknown>)[part], schema);
  if (!node) throw new Error(`${ref} names nothing in the schema`);
  return node as SchemaNode;
}

const isObjectDefinition = (node: SchemaNode) => node.type === 'object' && node.properties !== undefined;

/**
 * The type of a value. `defaulted`: after defaults are applied, which reach object definitions through a
 * `$ref` to the definition itself, never the entries of a map (they are defaulted one by one once resolved)
 * nor a `$ref` to another definition's property (a CLI override of an environment setting).
 */
function typeOf(schema: Schema, node: SchemaNode, defaulted: boolean): string {
  if (node.$ref) {
    const name = DEFINITION.exec(node.$ref)?.[1];
    if (!name) return typeOf(schema, at(schema, node.$ref), false);
    const target = schema.definitions[name];
    if (isObjectDefinition(target)) return `${defaulted ? 'Defaulted' : 'Raw'}${pascal(name)}`;
    return pascal(name);
  }
  if (node.enum) return node.enum.map((v) => (typeof v === 'string' ? `'${v}'` : String(v))).join(' | ');
  switch (node.type) {
    case 'string':
      return 'string';
    case 'integer':
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'array':
      return `readonly ${node.items ? typeOf(schema, node.items, false) : 'unknown'}[]`;
    default:
      // An object that is not a definition is a map (environments); anything else this generator does not know.
      if (node.type !== 'object' || typeof node.additionalProperties !== 'object') {
        throw new Error(`no TypeScript type for ${JSON.stringify(node)}: extend scripts/generators/generate-config-types.ts`);
      }
      return `Readonly<Record<string, ${typeOf(schema, node.additionalProperties, false)}>>`;
  }
}

function objectInterface(schema: Schema, name: string, node: SchemaNode, defaulted: boolean): string {
  const lines = Object.entries(node.properties ?? {}).map(([key, property]) => {
    const present =
      (node.required ?? []).includes(key) || (defaulted && (property.default !== undefined || property.profileDefaults !== undefined));
    const description = property.description ?? (property.$ref ? at(schema, property.$ref).description : undefined);
    const quoted = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? key : `'${key}'`;
    return `${comment(description, '  ')}  readonly ${quoted}${present ? '' : '?'}: ${typeOf(schema, property, defaulted)};\n`;
  });
  const title = defaulted ? `${node.description ?? name} With the schema's defaults applied.` : node.description;
  return `${comment(title)}export interface ${defaulted ? 'Defaulted' : 'Raw'}${pascal(name)} {\n${lines.join('')}}\n`;
}

/** The generated module for a schema. */
export function renderConfigTypes(schema: Schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as Schema): string {
  const parts: string[] = [
    `// Generated from lib/config/cdk-context.schema.json by scripts/generators/generate-config-types.ts: do not edit.\n` +
      `// A test (test/lib/config/generated.test.ts) fails while this file is stale.\n`,
  ];
  const objects = Object.entries(schema.definitions).filter(([, node]) => isObjectDefinition(node));
  for (const [name, node] of Object.entries(schema.definitions)) {
    if (!isObjectDefinition(node))
      parts.push(`${comment(node.description)}export type ${pascal(name)} = ${typeOf(schema, node, false)};\n`);
  }
  for (const [name, node] of objects) {
    parts.push(objectInterface(schema, name, node, false));
    parts.push(objectInterface(schema, name, node, true));
  }
  const overrides = Object.entries(schema.definitions.context.properties ?? {})
    .filter(([, node]) => node.$ref?.startsWith('#/definitions/environment/properties/'))
    .map(([key]) => `'${key}'`);
  parts.push(
    `/** Settings of an environment that -c gives a personal environment (-c environmentSuffix=<name>). */\n` +
      `export type PersonalOverrideKey = ${overrides.join(' | ')};\n`,
  );
  parts.push(
    `/** Every object definition of the schema, as written. */\nexport interface RawDefinitions {\n${objects
      .map(([name]) => `  ${name}: Raw${pascal(name)};\n`)
      .join('')}}\n`,
  );
  parts.push(
    `/** Every object definition of the schema, with its defaults applied. */\nexport interface DefaultedDefinitions {\n${objects
      .map(([name]) => `  ${name}: Defaulted${pascal(name)};\n`)
      .join('')}}\n`,
  );
  return parts.join('\n');
}

/** Writes the generated module to `path`, or with --check only compares: exit code 1 if it is stale. */
export function main(argv: readonly string[], path = GENERATED_PATH): number {
  const text = renderConfigTypes();
  if (argv.includes('--check')) {
    if (readFileSync(path, 'utf8') === text) return 0;
    console.error(`${path} is stale: run npx ts-node --transpile-only scripts/generators/generate-config-types.ts`);
    return 1;
  }
  writeFileSync(path, text);
  console.error(`wrote ${path}`);
  return 0;
}

if (require.main === module) process.exit(main(process.argv.slice(2)));
