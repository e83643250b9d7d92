import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { CDK_CONTEXT_SCHEMA, withDefaults } from '../../../lib/config';
import { schemaNode } from '../../../lib/config/schema';
import { GENERATED_PATH, main, renderConfigTypes } from '../../../scripts/generators/generate-config-types';

type Node = {
  $ref?: string;
  description?: string;
  default?: unknown;
  profileDefaults?: Record<string, unknown>;
  properties?: Record<string, Node>;
};
const definitions = CDK_CONTEXT_SCHEMA.definitions as unknown as Record<string, Node & { enum?: unknown[] }>;
const PROFILES = definitions.profile.enum as string[];

/** Every setting of the schema: [path, node], e.g. ['sizing.streamShardCount', {...}]. */
function settings(): Array<[string, Node]> {
  return Object.entries(definitions).flatMap(([name, node]) =>
    Object.entries(node.properties ?? {}).map(([key, property]): [string, Node] => [`${name}.${key}`, property]),
  );
}

const shown = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));

describe('cdk-context.schema.json, the one source of the settings', () => {
  test('the generated types are up to date (regenerate: npx ts-node --transpile-only scripts/generators/generate-config-types.ts)', () => {
    expect(readFileSync(GENERATED_PATH, 'utf8') === renderConfigTypes()).toBe(true);
  });

  test.each(
    settings().filter(([, node]) => (node.default !== undefined && typeof node.default !== 'object') || Array.isArray(node.default)),
  )("%s: its description states the schema's default (editors show the description)", (_path, node) => {
    const description = node.description ?? '';
    expect(description.slice(description.indexOf('Default:'))).toContain(shown(node.default));
  });

  test('the generator writes the module, and --check fails while the file differs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'config-types-'));
    const path = join(dir, 'cdk-context.ts');
    const stderr = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(main([], path)).toBe(0);
      expect(readFileSync(path, 'utf8')).toBe(readFileSync(GENERATED_PATH, 'utf8'));
      expect(main(['--check'], path)).toBe(0);
      expect(main(['--check'], GENERATED_PATH)).toBe(0);
      appendFileSync(path, '// edited\n');
      expect(main(['--check'], path)).toBe(1);
      expect(stderr).toHaveBeenLastCalledWith(
        `${path} is stale: run npx ts-node --transpile-only scripts/generators/generate-config-types.ts`,
      );
    } finally {
      stderr.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a schema node the generator has no type for stops it with the node named', () => {
    const schema = { definitions: { context: { type: 'object', properties: { odd: { type: 'null' } } } } };
    expect(() => renderConfigTypes(schema)).toThrow(
      'no TypeScript type for {"type":"null"}: extend scripts/generators/generate-config-types.ts',
    );
    expect(() => schemaNode('#/definitions/nope')).toThrow('#/definitions/nope names nothing in lib/config/cdk-context.schema.json');
  });

  test.each(settings().filter(([, node]) => node.profileDefaults !== undefined))(
    '%s: a default for every profile, each stated in its description',
    (_path, node) => {
      expect(Object.keys(node.profileDefaults!).sort()).toEqual([...PROFILES].sort());
      for (const profile of PROFILES) expect(node.description).toContain(`${shown(node.profileDefaults![profile])} (${profile})`);
    },
  );

  test('profileDefaults apply only inside an environment, whose profile picks them', () => {
    const development = withDefaults('environment', {});
    const production = withDefaults('environment', { profile: 'production', sizing: { streamShardCount: 2 } });
    expect(development.sizing.dbInstanceType).toBe('t4g.micro');
    expect(production.sizing).toMatchObject({ dbInstanceType: 'm7g.large', streamShardCount: 2 });
    expect(production.restoreDrill).toEqual({
      enabled: true,
      schedule: 'cron(0 3 ? * SUN *)',
      rpoTargetMinutes: 15,
      rtoTargetMinutes: 120,
    });
    // A -c sizing of a personal environment keeps only what was given until its environment is resolved.
    expect(withDefaults('context', { project: 'p', sizing: { streamShardCount: 2 } }).sizing).toEqual({ streamShardCount: 2 });
  });

  test('docs/configuration.md documents every setting', () => {
    const docs = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'configuration.md'), 'utf8');
    const missing = settings()
      .map(([path]) => path.split('.')[1])
      .filter((key) => !docs.includes(`\`${key}\``) && !docs.includes(`\`-c ${key}=`));
    expect(missing).toEqual([]);
  });
});
