import { ConfigError } from '../contract/errors';
import { PREVIEW_KEYS } from './context';

/**
 * Preview environments (one per feature branch or pull request, suffix `br-...`): which branches get
 * one, how long they live, how many may exist, and the sandbox account they live in.
 */
export interface PreviewConfig {
  /** Branch globs whose pushes create or update an environment (a push filter takes up to 8). */
  readonly branchPatterns: readonly string[];
  /** Pull requests into this branch create (open/update) and destroy (close/merge) an environment. */
  readonly pullRequestBaseBranch: string;
  /** Hours after the last deploy when the sweeper may delete an environment. */
  readonly ttlHours: number;
  /** Most preview environments that may exist at once in the account. */
  readonly maxEnvironments: number;
  /** The EXISTING secret shared by preview environments (synthetic data only). */
  readonly databaseSecretName: string;
  /**
   * The customer managed key that encrypts that secret; without it the processor's execution role
   * (and so the verify task) cannot decrypt a CMK-encrypted secret. @default - the AWS managed key
   */
  readonly databaseSecretKeyArn?: string;
  /**
   * The sandbox account that holds preview environments (synthetic data only). Never an account
   * that holds a production environment (see checkAccountLayout). @default - the pipeline account
   */
  readonly account?: string;
  /**
   * Qualifier of the sandbox account's own CDK bootstrap (`cdk bootstrap --qualifier`): preview
   * builds assume only these bootstrap roles, whose execution policy is the restricted one from
   * scripts/bootstrap-policy.ts. @default 'hnb659fds' (the default bootstrap)
   */
  readonly bootstrapQualifier: string;
}

/** The CDK default bootstrap qualifier. */
export const DEFAULT_BOOTSTRAP_QUALIFIER = 'hnb659fds';

const KNOWN = new Set(Object.keys(PREVIEW_KEYS));
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$/;

export function parsePreviewConfig(raw: Record<string, unknown>, project: string): PreviewConfig {
  for (const key of Object.keys(raw)) {
    if (!KNOWN.has(key)) throw new ConfigError(`unknown previews key "previews.${key}": use one of ${[...KNOWN].join(', ')}`);
  }
  const branchPatterns = raw.branchPatterns ?? ['feature/*'];
  if (
    !Array.isArray(branchPatterns) ||
    branchPatterns.length === 0 ||
    branchPatterns.length > 8 ||
    !branchPatterns.every((p) => typeof p === 'string' && /^[A-Za-z0-9._/*-]{1,100}$/.test(p))
  ) {
    throw new ConfigError(`previews.branchPatterns ${JSON.stringify(branchPatterns)} is invalid: use 1-8 branch globs such as "feature/*"`);
  }
  const pullRequestBaseBranch = raw.pullRequestBaseBranch ?? 'main';
  if (typeof pullRequestBaseBranch !== 'string' || !/^[A-Za-z0-9._/-]{1,200}$/.test(pullRequestBaseBranch)) {
    throw new ConfigError(
      `previews.pullRequestBaseBranch ${JSON.stringify(pullRequestBaseBranch)} is invalid: use a branch name such as main`,
    );
  }
  const ttlHours = raw.ttlHours ?? 72;
  if (typeof ttlHours !== 'number' || !Number.isInteger(ttlHours) || ttlHours < 1 || ttlHours > 720) {
    throw new ConfigError(`previews.ttlHours ${JSON.stringify(ttlHours)} is invalid: expected a whole number of hours from 1 to 720`);
  }
  const maxEnvironments = raw.maxEnvironments ?? 5;
  if (typeof maxEnvironments !== 'number' || !Number.isInteger(maxEnvironments) || maxEnvironments < 1 || maxEnvironments > 50) {
    throw new ConfigError(`previews.maxEnvironments ${JSON.stringify(maxEnvironments)} is invalid: expected a whole number from 1 to 50`);
  }
  const databaseSecretName = raw.databaseSecretName ?? `${project}/previews/db-credentials`;
  if (typeof databaseSecretName !== 'string' || databaseSecretName.length === 0) {
    throw new ConfigError(
      `previews.databaseSecretName ${JSON.stringify(databaseSecretName)} is invalid: use the name of an existing secret`,
    );
  }
  const databaseSecretKeyArn = raw.databaseSecretKeyArn;
  if (databaseSecretKeyArn !== undefined && (typeof databaseSecretKeyArn !== 'string' || !KMS_KEY_ARN.test(databaseSecretKeyArn))) {
    throw new ConfigError(
      `previews.databaseSecretKeyArn ${JSON.stringify(databaseSecretKeyArn)} is invalid: use a KMS key ARN, arn:aws:kms:<region>:<account>:key/<key-id>`,
    );
  }
  const account = raw.account;
  if (account !== undefined && (typeof account !== 'string' || !/^\d{12}$/.test(account))) {
    throw new ConfigError(`previews.account ${JSON.stringify(account)} is invalid: use the 12-digit id of the sandbox account`);
  }
  const bootstrapQualifier = raw.bootstrapQualifier ?? DEFAULT_BOOTSTRAP_QUALIFIER;
  if (typeof bootstrapQualifier !== 'string' || !/^[a-z0-9]{1,10}$/.test(bootstrapQualifier)) {
    throw new ConfigError(
      `previews.bootstrapQualifier ${JSON.stringify(bootstrapQualifier)} is invalid: use 1-10 lowercase letters and digits, as passed to cdk bootstrap --qualifier`,
    );
  }
  return {
    branchPatterns: branchPatterns as string[],
    pullRequestBaseBranch,
    ttlHours,
    maxEnvironments,
    databaseSecretName,
    ...(databaseSecretKeyArn !== undefined ? { databaseSecretKeyArn } : {}),
    ...(account !== undefined ? { account } : {}),
    bootstrapQualifier,
  };
}
