import { ConfigError } from './errors';
import type { EnvironmentConfig } from './environment-config';
import type { EphemeralConfig } from './ephemeral-config';

/**
 * The accounts of a delivery layout, resolved (an environment without an account deploys into the
 * pipeline account; per-branch environments without one deploy into the pipeline account too).
 */
export interface AccountLayout {
  /** The tooling account: the delivery pipeline and the per-branch pipelines (no PHI). */
  readonly pipeline: string;
  /** Account of each long-lived environment, by suffix. */
  readonly environments: Readonly<Record<string, string>>;
  /** The sandbox account of per-branch environments. */
  readonly sandbox: string;
}

export function resolveAccounts(pipelineAccount: string, environments: readonly EnvironmentConfig[], ephemeral: EphemeralConfig): AccountLayout {
  return {
    pipeline: pipelineAccount,
    environments: Object.fromEntries(environments.map((e) => [e.environmentSuffix, e.account ?? pipelineAccount])),
    sandbox: ephemeral.account ?? pipelineAccount,
  };
}

/**
 * Refuses a layout in which per-branch code could deploy into, or read from, an account that holds
 * a production environment (AWS multi-account guidance: production in its own account). One line.
 */
export function checkAccountLayout(layout: AccountLayout, environments: readonly EnvironmentConfig[]): void {
  const production = environments.find((e) => e.profile === 'production' && layout.environments[e.environmentSuffix] === layout.sandbox);
  if (production) {
    throw new ConfigError(`ephemeral.account ${layout.sandbox} holds the production environment "${production.environmentSuffix}": per-branch environments must deploy into a separate sandbox account; set ephemeral.account to your sandbox (or non-production) account id, or give environments.${production.environmentSuffix}.account its own production account`);
  }
}
