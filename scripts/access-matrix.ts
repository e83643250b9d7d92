/**
 * npm run access-matrix [-- --root <dir>] [--out <file>] [--check]
 *
 * Synthesizes the app (the delivery pipeline with its stages and per-branch pipelines, and one per-branch
 * environment), evaluates every identity, trust and resource policy with an IAM policy engine, writes the
 * matrix to docs/access-matrix.md, and exits 1 when it differs from the intended matrix (one line per difference).
 * --check writes nothing and also fails when docs/access-matrix.md is stale.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'fs';
import { dirname, join, resolve } from 'path';
import { accessMatrix } from './access-matrix/index';
import { violations } from './access-matrix/intended';
import { renderMarkdown } from './access-matrix/markdown';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  if (i < 0) return undefined;
  const value = process.argv[i + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`${name} needs a value, e.g. ${name} ./docs/access-matrix.md`);
  return value;
}

async function main(): Promise<number> {
  const root = resolve(flag('--root') ?? join(__dirname, '..'));
  const out = resolve(flag('--out') ?? join(root, 'docs', 'access-matrix.md'));
  const check = process.argv.includes('--check');
  console.error(`access-matrix: synthesizing ${root} (delivery app and branch feature/x)...`);
  const started = Date.now();
  const matrix = await accessMatrix(root);
  console.error(`access-matrix: ${matrix.model.principals.length} principals, ${matrix.environments.length} environments, ${matrix.simulations} simulations in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const markdown = renderMarkdown(matrix);
  let status = 0;
  if (check) {
    if (!existsSync(out) || readFileSync(out, 'utf8') !== markdown) {
      console.error(`access-matrix: ${out} is stale: run npm run access-matrix and commit it`);
      status = 1;
    }
  } else {
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, markdown);
    console.error(`access-matrix: wrote ${out}`);
  }
  const found = violations(matrix);
  for (const v of found) console.log(`DIFFERS FROM INTENDED: ${v}`);
  if (found.length > 0) {
    console.error(`access-matrix: ${found.length} difference(s) from the intended matrix`);
    status = 1;
  } else {
    console.error('access-matrix: matches the intended matrix');
  }
  return status;
}

main().then((code) => { process.exitCode = code; }, (error: unknown) => {
  console.error(`access-matrix: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
