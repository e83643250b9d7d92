/**
 * Synthesizes the app as `cdk synth --no-lookups` does (bin/app.ts's buildApp over resolveApp, with the
 * compliance gate, cdk.json's context and no AWS configuration) and loads every stack of the cloud
 * assembly, nested stage assemblies included. The matrix tooling reads what CloudFormation would
 * receive, not CDK objects.
 */
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { App } from 'aws-cdk-lib';
import { buildApp } from '../../bin/app';
import { appSettings, NO_STACK_TRACES, resolveApp } from '../../lib/config';

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

/**
 * Builds and synthesizes the app once into a temporary directory (in this process, as bin/app.ts does for
 * the CDK CLI) and returns its stacks; the directory is removed afterwards.
 */
export async function synthApp(options: SynthOptions, origin: SynthOrigin): Promise<LoadedStack[]> {
  const outdir = mkdtempSync(join(tmpdir(), 'access-matrix-'));
  try {
    synthInto(outdir, { ...readCdkContext(options.root), ...options.context });
    return loadAssembly(outdir, origin);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** Writes the cloud assembly `cdk synth --no-lookups` would write with this (complete) context into `outdir`. */
export function synthInto(outdir: string, context: Record<string, unknown>): void {
  // No CDK_DEFAULT_ACCOUNT or region: the result must reflect configuration only, never a developer's credentials.
  const app = new App({ outdir, context: { ...context, ...NO_STACK_TRACES } });
  buildApp(app, resolveApp(context, {}, new Date()));
  app.synth();
}

/** The delivery app and the preview environment of MATRIX_BRANCH, synthesized from `context` (on top of cdk.json's). */
export async function synthDeliveryAndPreview(root: string, context: Record<string, unknown>): Promise<LoadedStack[]> {
  const [delivery, preview] = await Promise.all([
    synthApp({ root, context }, 'delivery'),
    synthApp({ root, context: { ...context, branch: MATRIX_BRANCH } }, 'branch'),
  ]);
  return [...delivery, ...preview];
}

/** The context cdk.json ships, for account and naming defaults. */
export function readCdkContext(root: string): Record<string, unknown> {
  return (JSON.parse(readFileSync(join(root, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;
}

/** The branch whose per-branch environment the matrix synthesizes (suffix "x"). */
/**
 * The secrets a template's `{{resolve:secretsmanager:<ARN>:...}}` dynamic references name, as ARNs without the random
 * suffix (the database secret is configured by name). The bootstrap policies grant CloudFormation exactly these; the
 * access matrix places the environment's master secret at the one its instance's password names.
 */
export function dynamicReferenceSecretArns(text: string): string[] {
  return [...text.matchAll(/\{\{resolve:secretsmanager:(arn:aws:secretsmanager:[^:]+:\d{12}:secret:[^:}]+)/g)].map((m) => m[1]);
}

export const MATRIX_BRANCH = 'feature/x';

export function contextObject(context: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = context[key];
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** Placeholder accounts when configuration names none, so synth without accounts still evaluates. */
export function placementDefaults(context: Record<string, unknown>): { delivery: string; branch: string; region: string } {
  const pipeline = contextObject(context, 'pipeline');
  const previews = contextObject(context, 'previews');
  const connectionAccount = typeof pipeline.connectionArn === 'string' ? pipeline.connectionArn.split(':')[4] : undefined;
  const tooling =
    [pipeline.account, context.account, connectionAccount].find((a): a is string => typeof a === 'string' && /^\d{12}$/.test(a)) ??
    '111111111111';
  // With no previews.account, preview builds deploy where they run: the tooling account.
  const branch = typeof previews.account === 'string' && /^\d{12}$/.test(previews.account) ? previews.account : tooling;
  const { region } = appSettings(context);
  return { delivery: tooling, branch, region };
}
