import { readdirSync, readFileSync, statSync } from 'fs';
import { builtinModules } from 'module';
import { join } from 'path';

const root = join(__dirname, '..', '..');
const runtime = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).dependencies as Record<string, string>;

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files(path, out);
    else if (name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** The packages a file loads at run time: imports that are not type-only, require() and import(). */
function packagesLoadedBy(source: string): string[] {
  const specifiers = [
    ...source.matchAll(/^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?'([^'.][^']*)'/gm),
    ...source.matchAll(/\b(?:require|import)\(\s*'([^'.][^']*)'\s*\)/g),
  ].map((m) => m[1]);
  return specifiers
    .filter((s) => !s.startsWith('node:') && !builtinModules.includes(s))
    .map((s) =>
      s
        .split('/')
        .slice(0, s.startsWith('@') ? 2 : 1)
        .join('/'),
    );
}

describe('package.json dependencies: what the processor image installs (npm prune --omit=dev)', () => {
  // The image is built from lib/processor and lib/contract (lib/processor/Dockerfile); everything else is synthesis,
  // tooling or tests, whose packages belong in devDependencies (ajv, for one, validates cdk.json at synth only).
  const loaded = new Set(
    [...files(join(root, 'lib', 'processor')), ...files(join(root, 'lib', 'contract'))].flatMap((f) =>
      packagesLoadedBy(readFileSync(f, 'utf8')),
    ),
  );

  test('are exactly the packages the processor loads at run time', () => {
    expect(Object.keys(runtime).sort()).toEqual([...loaded].sort());
  });

  test('the scan sees a type-only import as none and a lazy import() as one', () => {
    expect(packagesLoadedBy("import type { X } from '@smithy/types';\nimport { y } from 'pg';")).toEqual(['pg']);
    expect(packagesLoadedBy("const m = await import('aws-embedded-metrics');\nimport { join } from 'path';")).toEqual([
      'aws-embedded-metrics',
    ]);
    expect(packagesLoadedBy("import { Client } from 'pg/lib/client';\nimport { z } from '@aws-sdk/client-rds/dist';")).toEqual([
      'pg',
      '@aws-sdk/client-rds',
    ]);
  });
});
