import { ConfigError } from '../contract/errors';
import type { EnvironmentConfig } from './environment-config';
import type { PreviewConfig } from './preview-config';

/**
 * The accounts of a delivery layout, resolved (an environment without an account deploys into the
 * pipeline account; preview environments without one deploy into the pipeline account too).
 */
export interface AccountLayout {
  /** The tooling account: the delivery pipeline and the preview pipelines (no PHI). */
  readonly pipeline: string;
  /** Account of each long-lived environment, by suffix. */
  readonly environments: Readonly<Record<string, string>>;
  /** The sandbox account of preview environments. */
  readonly sandbox: string;
}

export function resolveAccounts(
  pipelineAccount: string,
  environments: readonly EnvironmentConfig[],
  previews: PreviewConfig,
): AccountLayout {
  return {
    pipeline: pipelineAccount,
    environments: Object.fromEntries(environments.map((e) => [e.environmentSuffix, e.account ?? pipelineAccount])),
    sandbox: previews.account ?? pipelineAccount,
  };
}

/**
 * Refuses a layout in which preview (per-branch) code could deploy into, or read from, an account that holds
 * a production environment (AWS multi-account guidance: production in its own account). One line.
 */
export function checkAccountLayout(layout: AccountLayout, environments: readonly EnvironmentConfig[]): void {
  const production = environments.find((e) => e.profile === 'production' && layout.environments[e.environmentSuffix] === layout.sandbox);
  if (production) {
    throw new ConfigError(
      `previews.account ${layout.sandbox} holds the production environment "${production.environmentSuffix}": preview environments must deploy into a separate sandbox account; set previews.account to your sandbox (or non-production) account id, or give environments.${production.environmentSuffix}.account its own production account`,
    );
  }
}
