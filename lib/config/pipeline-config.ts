import { PIPELINE_KEYS } from './context';
import { ConfigError } from '../contract/errors';
import type { EnvironmentConfig } from './environment-config';

/** The delivery pipeline: where the code comes from and which environments it deploys, in order. */
export interface PipelineConfig {
  readonly project: string;
  /** Pipeline account: from config, else the connection's account. */
  readonly account: string;
  readonly region: string;
  /** `owner/name` of the repository behind the connection. */
  readonly repository: string;
  readonly branch: string;
  /** CodeConnections (or legacy CodeStar connections) ARN. */
  readonly connectionArn: string;
  /** Where failure and approval notifications are e-mailed. @default - topic only */
  readonly notificationEmail?: string;
  /** A non-production pipeline: its artifact bucket is emptied and deleted with the stack. */
  readonly destroyable: boolean;
  /** Paths whose changes alone do not start the pipeline (documentation). */
  readonly ignoredPaths: readonly string[];
  /** Non-production environments first, then production ones (each behind a manual approval). */
  readonly environments: readonly EnvironmentConfig[];
}

const CONNECTION_ARN =
  /^arn:(aws[a-z-]*):(codestar-connections|codeconnections):([a-z]{2}(?:-gov)?-[a-z]+-\d):(\d{12}):connection\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const REPOSITORY = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
const BRANCH = /^(?!\/|.*\/\/|.*\.\.|.*@\{|.*\.lock$|.*\/$)[A-Za-z0-9._/-]{1,200}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const KNOWN_KEYS = new Set(Object.keys(PIPELINE_KEYS));

export const DEFAULT_IGNORED_PATHS: readonly string[] = ['**/*.md', 'docs/**'];

function fail(key: string, value: unknown, rule: string): never {
  throw new ConfigError(`pipeline.${key} ${JSON.stringify(value)} is invalid: ${rule}`);
}

/**
 * Validates the `pipeline` context object. Environments are deployed non-production first,
 * then production; there must be at least one, and a production one makes an approval gate.
 */
export function parsePipelineConfig(
  raw: Record<string, unknown>,
  defaults: { project: string; region: string; account?: string },
  environments: readonly EnvironmentConfig[],
): PipelineConfig {
  for (const key of Object.keys(raw)) {
    if (!KNOWN_KEYS.has(key)) throw new ConfigError(`unknown pipeline key "pipeline.${key}": use one of ${[...KNOWN_KEYS].join(', ')}`);
  }
  const repository = raw.repository;
  if (typeof repository !== 'string' || !REPOSITORY.test(repository))
    fail('repository', repository, 'use owner/name of the connected repository');
  const branch = raw.branch ?? 'main';
  if (typeof branch !== 'string' || !BRANCH.test(branch)) fail('branch', branch, 'use a git branch name such as main');
  const connectionArn = raw.connectionArn;
  const match = typeof connectionArn === 'string' ? CONNECTION_ARN.exec(connectionArn) : null;
  if (!match)
    fail('connectionArn', connectionArn, 'use arn:aws:codeconnections:<region>:<account>:connection/<uuid> (or codestar-connections)');
  const [, , , connectionRegion, connectionAccount] = match;
  if (connectionRegion !== defaults.region) {
    // Name the region first: a mistyped "region" is the usual cause, not the ARN.
    throw new ConfigError(
      `region "${defaults.region}" does not match pipeline.connectionArn, whose connection is in ${connectionRegion}: the pipeline runs in the connection's region; set "region" to ${connectionRegion} or use a connection created in ${defaults.region}`,
    );
  }
  const account = (raw.account ?? defaults.account ?? connectionAccount) as unknown;
  if (typeof account !== 'string' || !/^\d{12}$/.test(account)) fail('account', account, 'use a 12-digit AWS account id');
  const notificationEmail = raw.notificationEmail;
  if (notificationEmail !== undefined && (typeof notificationEmail !== 'string' || !EMAIL.test(notificationEmail)))
    fail('notificationEmail', notificationEmail, 'use an e-mail address');
  const destroyable = raw.destroyable ?? false;
  if (typeof destroyable !== 'boolean') fail('destroyable', destroyable, 'use true or false');
  const ignoredPaths = raw.ignoredPaths ?? DEFAULT_IGNORED_PATHS;
  if (!Array.isArray(ignoredPaths) || ignoredPaths.length > 8 || !ignoredPaths.every((p) => typeof p === 'string' && p.length > 0)) {
    fail('ignoredPaths', ignoredPaths, 'use up to 8 glob patterns');
  }
  if (environments.length === 0) throw new ConfigError('the pipeline needs at least one environment under "environments"');

  const ordered = [...environments.filter((e) => e.profile !== 'production'), ...environments.filter((e) => e.profile === 'production')];
  return {
    project: defaults.project,
    account,
    region: defaults.region,
    repository,
    branch,
    connectionArn: connectionArn as string,
    notificationEmail: notificationEmail as string | undefined,
    destroyable,
    ignoredPaths: ignoredPaths as string[],
    environments: ordered,
  };
}
