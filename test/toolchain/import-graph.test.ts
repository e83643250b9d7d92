import { execFileSync } from 'child_process';
import { existsSync, readFileSync } from 'fs';
import { dirname, join, normalize } from 'path';

const root = join(__dirname, '..', '..');
const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', 'bin', 'lib', 'stages', 'scripts', 'test'], {
  cwd: root,
  encoding: 'utf8',
})
  .split('\n')
  .filter((f) => /\.(ts|js)$/.test(f) && !f.startsWith('test/fixtures/') && existsSync(join(root, f)));
const known = new Set(files);

/** The files a file loads at run time: relative imports that are not type-only, re-exports, require() and import(). */
function importsOf(file: string): string[] {
  const source = readFileSync(join(root, file), 'utf8');
  const specifiers = [
    ...source.matchAll(/^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?'(\.[^']*)'/gm),
    ...source.matchAll(/\b(?:require|import)\(\s*'(\.[^']*)'\s*\)/g),
  ].map((m) => m[1]);
  return specifiers.flatMap((spec) => {
    const base = normalize(join(dirname(file), spec));
    const target = [base, `${base}.ts`, `${base}.js`, join(base, 'index.ts')].find((c) => known.has(c));
    return target ? [target] : [];
  });
}

const graph = new Map(files.map((f) => [f, importsOf(f)]));

/** Strongly connected components of more than one file (Tarjan): each is an import circle. */
function circles(): string[][] {
  let index = 0;
  const stack: string[] = [];
  const onStack = new Set<string>();
  const order = new Map<string, number>();
  const low = new Map<string, number>();
  const found: string[][] = [];
  const visit = (v: string) => {
    order.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)!) {
      if (!order.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, order.get(w)!));
    }
    if (low.get(v) !== order.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) found.push(component.sort());
  };
  for (const f of files) if (!order.has(f)) visit(f);
  return found;
}

describe('imports (test → scripts → lib)', () => {
  test('the graph is read: a script imports the product, a test imports a script', () => {
    expect(graph.get('scripts/local/local.ts')).toContain('scripts/local/stack.ts');
    expect(graph.get('scripts/local/stack.ts')).toContain('lib/processor/service/kinesis-client.ts');
    expect(graph.get('test/scripts/local/local.test.ts')).toContain('scripts/local/local.ts');
  });

  test('no import circle among the files of bin, lib, stages, scripts and test', () => {
    expect(circles()).toEqual([]);
  });

  test('scripts import no test, and the product (lib, bin, stages) neither scripts nor tests', () => {
    const top = (f: string) => f.split('/')[0];
    const wrong = [...graph].flatMap(([from, targets]) =>
      targets
        .filter(
          (to) =>
            (top(from) === 'scripts' && top(to) === 'test') ||
            (['lib', 'bin', 'stages'].includes(top(from)) && ['scripts', 'test'].includes(top(to))),
        )
        .map((to) => `${from} → ${to}`),
    );
    expect(wrong).toEqual([]);
  });
});
