import type { DefaultedPreviews } from './generated/cdk-context';

/**
 * Preview environments (one per feature branch or pull request, suffix `br-...`): which branches get
 * one, how long they live, how many may exist, and the sandbox account they live in. The settings of
 * `previews` with the schema's defaults (see cdk-context.schema.json for each one), and the secret's
 * name resolved.
 */
export interface PreviewConfig extends DefaultedPreviews {
  /** The EXISTING secret shared by preview environments (synthetic data only). */
  readonly databaseSecretName: string;
}

/** `previews` of a validated context: the shared secret's name defaults to `<project>/previews/db-credentials`. */
export function previewConfig(previews: DefaultedPreviews, project: string): PreviewConfig {
  return { ...previews, databaseSecretName: previews.databaseSecretName ?? `${project}/previews/db-credentials` };
}
