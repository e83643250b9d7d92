/**
 * npm run access-matrix [-- --root <dir>] [--out <file>] [--check]
 *
 * Synthesizes the app (the delivery pipeline with its stages and per-branch pipelines, and one per-branch
 * environment), evaluates every identity, trust and resource policy with an IAM policy engine, writes the
 * matrix to docs/access-matrix.md, and exits 1 when it differs from the intended matrix (one line per difference).
 * --check writes nothing and also fails when docs/access-matrix.md is stale. Exit 2 on a usage error.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'fs';
import { dirname, join, resolve } from 'path';
import { accessMatrix, Matrix } from './access-matrix/index';
import { violations } from './access-matrix/intended';
import { renderMarkdown } from './access-matrix/markdown';
import { parseFlags, runCli } from './shared/cli';

export const USAGE = `usage: npm run access-matrix -- [--root <dir>] [--out <file>] [--check]
  --root D   the checkout to evaluate (default: this one)
  --out F    where the matrix goes (default <root>/docs/access-matrix.md)
  --check    write nothing; also exit 1 when --out is stale`;

/**
 * The command: exit code 0 (matches the intended matrix), 1 (differs, or --check found the file stale).
 * `evaluate` synthesizes and evaluates a checkout; tests pass one that reuses their own evaluation.
 */
export async function main(argv: readonly string[], evaluate: (root: string) => Promise<Matrix> = accessMatrix): Promise<number> {
  const parsed = parseFlags(argv, { root: { type: 'string' }, out: { type: 'string' }, check: { type: 'boolean' } });
  if (!parsed) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const root = resolve(parsed.flags.root ?? join(__dirname, '..'));
  const out = resolve(parsed.flags.out ?? join(root, 'docs', 'access-matrix.md'));
  console.error(`access-matrix: synthesizing ${root} (delivery app and branch feature/x)...`);
  const started = Date.now();
  const matrix = await evaluate(root);
  console.error(
    `access-matrix: ${matrix.model.principals.length} principals, ${matrix.environments.length} environments, ${matrix.simulations} simulations in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  const markdown = renderMarkdown(matrix);
  let status = 0;
  if (parsed.flags.check) {
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

if (require.main === module) runCli('access-matrix', USAGE, () => main(process.argv.slice(2)));
