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
  const previews = contextObject(context, 'previews');
  const connectionAccount = typeof pipeline.connectionArn === 'string' ? pipeline.connectionArn.split(':')[4] : undefined;
  const tooling =
    [pipeline.account, context.account, connectionAccount].find((a): a is string => typeof a === 'string' && /^\d{12}$/.test(a)) ??
    '111111111111';
  // With no previews.account, preview builds deploy where they run: the tooling account.
  const branch = typeof previews.account === 'string' && /^\d{12}$/.test(previews.account) ? previews.account : tooling;
  const region = typeof context.region === 'string' ? context.region : 'eu-west-2';
  return { delivery: tooling, branch, region };
}

/** Key id of the placeholder customer managed key of each database secret (see matrixContext). */
export const PLACEHOLDER_SECRET_KEY_ID = '00000000-0000-4000-8000-00000000c3c7';

/**
 * cdk.json's context, with a placeholder customer managed key (`databaseSecretKeyArn`) for every database
 * secret that names none: the README tells operators to encrypt the secret with a CMK, so the matrix proves
 * that path (the migration execution role can decrypt, nobody else can) instead of the AWS managed key's.
 */
export function matrixContext(root: string): Record<string, unknown> {
  const context = readCdkContext(root);
  const d = placementDefaults(context);
  const keyIn = (account: string) => `arn:aws:kms:${d.region}:${account}:key/${PLACEHOLDER_SECRET_KEY_ID}`;
  const environments = Object.fromEntries(
    Object.entries(contextObject(context, 'environments')).map(([suffix, raw]) => {
      const entry = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
      const account = typeof entry.account === 'string' ? entry.account : d.delivery;
      return [suffix, entry.databaseSecretKeyArn === undefined ? { ...entry, databaseSecretKeyArn: keyIn(account) } : entry];
    }),
  );
  const previews = contextObject(context, 'previews');
  return {
    ...context,
    environments,
    previews: previews.databaseSecretKeyArn === undefined ? { ...previews, databaseSecretKeyArn: keyIn(d.branch) } : previews,
  };
}

export async function synthAll(root: string): Promise<LoadedStack[]> {
  const context = matrixContext(root);
  const [delivery, branch] = await Promise.all([
    synthApp({ root, context }, 'delivery'),
    synthApp({ root, context: { ...context, branch: MATRIX_BRANCH } }, 'branch'),
  ]);
  return [...delivery, ...branch];
}

export function modelOf(root: string, stacks: readonly LoadedStack[]): Model {
  const context = matrixContext(root);
  const d = placementDefaults(context);
  return buildModel(stacks, { fallbackAccount: { delivery: d.delivery, branch: d.branch }, fallbackRegion: d.region, context });
}

export async function accessMatrix(root: string, stacks?: readonly LoadedStack[]): Promise<Matrix> {
  return evaluateMatrix(modelOf(root, stacks ?? (await synthAll(root))));
}
