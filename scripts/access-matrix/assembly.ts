/**
 * Synthesizes the app exactly as `cdk synth --no-lookups` does (bin/app.ts in a child process, context in
 * CDK_CONTEXT_JSON, no AWS configuration) and loads every stack of the cloud assembly, nested stage
 * assemblies included. The matrix tooling reads what CloudFormation would receive, not CDK objects.
 */
import { spawn } from 'child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

export type CfnTemplate = {
  Resources?: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown; Export?: { Name: unknown } }>;
  Parameters?: Record<string, { Default?: unknown }>;
  Conditions?: Record<string, unknown>;
};
export type CfnResource = { Type: string; Properties?: Record<string, unknown>; Condition?: string };

/** Which synth a stack came from: the delivery app (pipeline, its stages, per-branch pipelines) or one per-branch environment. */
export type SynthOrigin = 'delivery' | 'branch';

export interface LoadedStack {
  /** Artifact id in the assembly, unique per synth. */
  readonly artifactId: string;
  readonly stackName: string;
  /** Account from the stack environment; undefined when the stack is environment-agnostic for the account. */
  readonly account?: string;
  readonly region?: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly template: CfnTemplate;
  readonly origin: SynthOrigin;
}

interface ManifestArtifact {
  type: string;
  environment?: string;
  properties?: { templateFile?: string; stackName?: string; tags?: Record<string, string>; directoryName?: string };
}

/** Reads every `aws:cloudformation:stack` artifact of an assembly directory, recursing into stage assemblies. */
export function loadAssembly(dir: string, origin: SynthOrigin): LoadedStack[] {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { artifacts?: Record<string, ManifestArtifact> };
  const stacks: LoadedStack[] = [];
  for (const [artifactId, artifact] of Object.entries(manifest.artifacts ?? {})) {
    if (artifact.type === 'cdk:cloud-assembly' && artifact.properties?.directoryName) {
      stacks.push(...loadAssembly(join(dir, artifact.properties.directoryName), origin));
    } else if (artifact.type === 'aws:cloudformation:stack' && artifact.properties?.templateFile) {
      const [, account, region] = /^aws:\/\/([^/]+)\/(.+)$/.exec(artifact.environment ?? '') ?? [];
      stacks.push({
        artifactId,
        stackName: artifact.properties.stackName ?? artifactId,
        account: account && /^\d{12}$/.test(account) ? account : undefined,
        region: region && !region.startsWith('unknown-') ? region : undefined,
        tags: artifact.properties.tags ?? {},
        template: JSON.parse(readFileSync(join(dir, artifact.properties.templateFile), 'utf8')) as CfnTemplate,
        origin,
      });
    }
  }
  return stacks;
}

export interface SynthOptions {
  /** Repository root holding bin/app.ts and cdk.json. */
  readonly root: string;
  /** Context on top of cdk.json's (e.g. `{ branch: 'feature/x' }`). @default {} */
  readonly context?: Record<string, unknown>;
}

/** Runs bin/app.ts once into a temporary directory and returns its stacks; the directory is removed afterwards. */
export async function synthApp(options: SynthOptions, origin: SynthOrigin): Promise<LoadedStack[]> {
  const cdkJson = JSON.parse(readFileSync(join(options.root, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
  const outdir = mkdtempSync(join(tmpdir(), 'access-matrix-'));
  try {
    // No AWS variables: the matrix must reflect configuration only, never a developer's credentials.
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: tmpdir(), CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify({ ...cdkJson.context, ...options.context }) };
    const { status, stderr } = await new Promise<{ status: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'bin/app.ts'], { cwd: options.root, env, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString('utf8'); });
      child.on('error', reject);
      child.on('close', (code) => resolve({ status: code, stderr: err }));
    });
    if (status !== 0 || !existsSync(join(outdir, 'manifest.json'))) {
      throw new Error(`synth of bin/app.ts with context ${JSON.stringify(options.context ?? {})} failed (exit ${status}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    }
    return loadAssembly(outdir, origin);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** The context cdk.json ships, for account and naming defaults. */
export function readCdkContext(root: string): Record<string, unknown> {
  return (JSON.parse(readFileSync(join(root, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;
}
