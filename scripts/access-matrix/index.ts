/**
 * The access matrix: synthesize the delivery app and one per-branch environment, model every policy,
 * evaluate who can do what. Tooling only (it imports an AGPL-3.0 devDependency); nothing under lib/ imports it.
 */
import { LoadedStack, readCdkContext, synthApp } from './assembly';
import { evaluateMatrix, Matrix } from './evaluate';
import { buildModel, Model } from './model';

export * from './assembly';
export * from './evaluate';
export * from './model';

/** The branch whose per-branch environment the matrix synthesizes (suffix "x"). */
export const MATRIX_BRANCH = 'feature/x';

function contextObject(context: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = context[key];
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** Placeholder accounts when configuration names none, so synth without accounts still evaluates. */
export function placementDefaults(context: Record<string, unknown>): { delivery: string; branch: string; region: string } {
  const pipeline = contextObject(context, 'pipeline');
  const ephemeral = contextObject(context, 'ephemeral');
  const connectionAccount = typeof pipeline.connectionArn === 'string' ? pipeline.connectionArn.split(':')[4] : undefined;
  const tooling = [pipeline.account, context.account, connectionAccount].find((a): a is string => typeof a === 'string' && /^\d{12}$/.test(a)) ?? '111111111111';
  // With no ephemeral.account, per-branch builds deploy where they run: the tooling account.
  const branch = typeof ephemeral.account === 'string' && /^\d{12}$/.test(ephemeral.account) ? ephemeral.account : tooling;
  const region = typeof context.region === 'string' ? context.region : 'eu-west-2';
  return { delivery: tooling, branch, region };
}

export async function synthAll(root: string): Promise<LoadedStack[]> {
  const [delivery, branch] = await Promise.all([synthApp({ root }, 'delivery'), synthApp({ root, context: { branch: MATRIX_BRANCH } }, 'branch')]);
  return [...delivery, ...branch];
}

export function modelOf(root: string, stacks: readonly LoadedStack[]): Model {
  const context = readCdkContext(root);
  const d = placementDefaults(context);
  return buildModel(stacks, { fallbackAccount: { delivery: d.delivery, branch: d.branch }, fallbackRegion: d.region, context });
}

export async function accessMatrix(root: string, stacks?: readonly LoadedStack[]): Promise<Matrix> {
  return evaluateMatrix(modelOf(root, stacks ?? (await synthAll(root))));
}
