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
  previews: Pick<PreviewConfig, 'account'>,
): AccountLayout {
  return {
    pipeline: pipelineAccount,
    environments: Object.fromEntries(environments.map((e) => [e.environmentSuffix, e.account ?? pipelineAccount])),
    sandbox: previews.account ?? pipelineAccount,
  };
}

/**
 * Why a layout is refused, or undefined: preview (per-branch) code must not be able to deploy into, or read
 * from, an account that holds a production environment (AWS multi-account guidance: production in its own account).
 */
export function accountLayoutProblem(layout: AccountLayout, environments: readonly EnvironmentConfig[]): string | undefined {
  const production = environments.find((e) => e.profile === 'production' && layout.environments[e.environmentSuffix] === layout.sandbox);
  return production
    ? `previews.account ${layout.sandbox} holds the production environment "${production.environmentSuffix}": preview environments must deploy into a separate sandbox account; set previews.account to your sandbox (or non-production) account id, or give environments.${production.environmentSuffix}.account its own production account`
    : undefined;
}
