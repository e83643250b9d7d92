/**
 * Every `cdk deploy` / `cdk destroy` the documentation tells a user to run selects at least one stack: the
 * app is synthesized as the command would synthesize it (its `-c` context on top of cdk.json's), and the real
 * CDK CLI's `cdk ls <selector>` is asked against that assembly (it prints nothing for a selector that matches
 * no stack, as `cdk deploy` would then deploy nothing).
 */
import { spawn } from 'child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { readCdkContext, synthInto } from '../../scripts/access-matrix/assembly';

const ROOT = join(__dirname, '..', '..');
const DOCS = [
  'README.md',
  'CONTRIBUTING.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

interface DocCommand {
  readonly where: string;
  readonly verb: 'deploy' | 'destroy';
  readonly context: Record<string, string>;
  readonly selectors: readonly string[];
}

/** Splits a shell line into words, honouring single and double quotes. */
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]);
}

export function documentedCommands(files: readonly string[]): DocCommand[] {
  const out: DocCommand[] = [];
  for (const file of files) {
    readFileSync(join(ROOT, file), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        const match = /npx cdk (deploy|destroy)\b([^`#]*)/.exec(line);
        if (!match) return;
        // A placeholder (`<name>`) stands for any valid value: the same example everywhere in the line.
        const tokens = words(match[2].replace(/<[a-z-]+>/g, 'example'));
        const context: Record<string, string> = {};
        const selectors: string[] = [];
        for (let t = 0; t < tokens.length; t++) {
          if (tokens[t] === '-c' || tokens[t] === '--context') {
            const [key, ...value] = tokens[++t].split('=');
            context[key] = value.join('=');
          } else if (!tokens[t].startsWith('-') && tokens[t] !== '\\') selectors.push(tokens[t]);
        }
        out.push({ where: `${file}:${i + 1}`, verb: match[1] as 'deploy' | 'destroy', context, selectors });
      });
  }
  return out;
}

function cdkLs(app: string, selector: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [require.resolve('aws-cdk/bin/cdk'), 'ls', selector, '--app', app, '--no-notices', '--no-version-reporting'],
      {
        cwd: ROOT,
        env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('the documented cdk deploy and destroy commands', () => {
  const commands = documentedCommands(DOCS);
  const cdkContext = readCdkContext(ROOT);
  const assemblies = new Map<string, string>();
  afterAll(() => [...assemblies.values()].forEach((d) => rmSync(d, { recursive: true, force: true })));

  /** The cloud assembly `npx cdk synth` would write with this `-c` context (once per context). */
  function assembly(extra: Record<string, string>): string {
    const key = JSON.stringify(extra);
    const known = assemblies.get(key);
    if (known) return known;
    const outdir = mkdtempSync(join(tmpdir(), 'doc-commands-'));
    assemblies.set(key, outdir);
    synthInto(outdir, { ...cdkContext, ...extra });
    return outdir;
  }

  test('the guide names the stacks a person deploys', () => {
    const deploying = commands.filter((c) => c.where.startsWith('docs/deploying.md')).flatMap((c) => c.selectors);
    expect(deploying).toEqual(expect.arrayContaining(['SharedTrail', 'PreviewSandbox', 'PreviewSharedTrail', 'Previews', 'Pipeline']));
    // The parser sees quoted globs and -c context as the shell passes them.
    expect(documentedCommands(['docs/deploying.md']).some((c) => c.context.branch !== undefined)).toBe(true);
  });

  test('every selector selects at least one stack of the app that command synthesizes', async () => {
    const unmatched: string[] = [];
    for (const command of commands) {
      const app = assembly(command.context);
      const results = await Promise.all(command.selectors.map((s) => cdkLs(app, s)));
      command.selectors.forEach((s, i) => {
        if (results[i].status !== 0 || results[i].stdout.trim() === '')
          unmatched.push(
            `${command.where}: "${s}" (context ${JSON.stringify(command.context)}) selects nothing ${results[i].stderr.trim().split('\n')[0] ?? ''}`,
          );
      });
    }
    expect(commands.length).toBeGreaterThan(5);
    expect(unmatched).toEqual([]);
  }, 240_000);

  test('a selector that names no stack is caught (the check is not vacuous)', async () => {
    const app = assembly({});
    // The name the old guide used for the sandbox's stack: a stack name, not an id.
    expect((await cdkLs(app, 'hipaa-fhir-preview-sandbox')).stdout.trim()).toBe('');
    expect((await cdkLs(app, 'PreviewSandbox')).stdout).toContain('PreviewSandbox');
  }, 120_000);
});
