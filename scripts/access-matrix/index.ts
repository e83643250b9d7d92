/**
 * The access matrix: synthesize the delivery app and one per-branch environment, model every policy,
 * evaluate who can do what. Tooling only (it imports an AGPL-3.0 devDependency); nothing under lib/ imports it.
 */
import { contextObject, LoadedStack, placementDefaults, readCdkContext, synthDeliveryAndPreview } from './assembly';
import { bootstrapPolicies as bootstrapPolicyDocuments, placeStacks } from '../bootstrap/index';
import { evaluateMatrix, Matrix } from './evaluate';
import { buildModel, Model, PLACEHOLDER_SECRET_KEY_ID } from './model';

export * from './assembly';
export * from './evaluate';
export * from './model';

/**
 * cdk.json's context, with a placeholder customer managed key (`databaseSecretKeyArn`) for every existing
 * database secret that names none: the README tells operators to encrypt the secret with a CMK, so the matrix proves
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
  // Previews have no such setting: RDS manages each preview's master secret (encrypted with aws/secretsmanager).
  return { ...context, environments };
}

export async function synthAll(root: string): Promise<LoadedStack[]> {
  return synthDeliveryAndPreview(root, matrixContext(root));
}

export function modelOf(root: string, stacks: readonly LoadedStack[]): Model {
  const context = matrixContext(root);
  const d = placementDefaults(context);
  // The execution and look-up roles as the project bootstraps them (npm run bootstrap:policy), from the same stacks.
  const mutable = (doc: { Version: string; Statement: ReadonlyArray<Record<string, unknown>> }) => ({
    Version: doc.Version,
    Statement: [...doc.Statement],
  });
  const bootstrapPolicies = new Map(
    bootstrapPolicyDocuments({ context, stacks: placeStacks(stacks, context) }).map((p) => [
      p.plan.account,
      { execution: p.execution.map(mutable), boundary: mutable(p.boundary) },
    ]),
  );
  return buildModel(stacks, {
    fallbackAccount: { delivery: d.delivery, branch: d.branch },
    fallbackRegion: d.region,
    context,
    bootstrapPolicies,
  });
}

export async function accessMatrix(root: string, stacks?: readonly LoadedStack[]): Promise<Matrix> {
  return evaluateMatrix(modelOf(root, stacks ?? (await synthAll(root))));
}
