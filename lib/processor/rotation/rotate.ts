/**
 * Rotation of the EXISTING database master secret, single-user strategy: the four steps Secrets Manager invokes a
 * rotation function with, one at a time, each retried by Secrets Manager and so each idempotent
 * (https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html;
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotating-secrets-one-user-one-password.html):
 *
 * - createSecret: a new password in a version staged AWSPENDING (the ClientRequestToken), every other field kept;
 * - setSecret: the database role's password set to it, logged in as that role itself (the master user);
 * - testSecret: a login with it;
 * - finishSecret: AWSCURRENT moved to it (Secrets Manager then moves AWSPREVIOUS to the old version).
 *
 * The event checks are those of AWS's template functions
 * (https://github.com/aws-samples/aws-secrets-manager-rotation-lambdas, SecretsManagerRotationTemplate). Nothing here
 * logs or throws a password, a verifier or a secret value: errors name the step, the stage and what is wrong.
 */
import {
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { escapeIdentifier } from 'pg';
import { errorFields, Logger } from '../logger';
import { scramSha256Verifier } from './scram';

export const ROTATION_STEPS = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'] as const;
export type RotationStep = (typeof ROTATION_STEPS)[number];

/** What Secrets Manager sends (https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda.html). */
export interface RotationEvent {
  readonly Step: string;
  readonly SecretId: string;
  readonly ClientRequestToken: string;
  readonly RotationToken?: string;
}

/** The fields of the secret's JSON this function relies on; every other field is carried over unchanged. */
export interface MasterCredentials {
  readonly username: string;
  readonly password: string;
  readonly [field: string]: unknown;
}

/** A database session logged in with some credentials. */
export interface DatabaseSession {
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
}

/** Logs in as `username` with `password` (TLS verify-full against the RDS bundle in AWS); rejects when it cannot. */
export type Connect = (credentials: { readonly username: string; readonly password: string }) => Promise<DatabaseSession>;

/**
 * New passwords: 32 characters of letters, digits and punctuation, without the characters the secret may not hold
 * (`/`, `"`, `@`, space: RDS refuses them in a master password, docs/deploying.md) nor `'` and `\`, which AWS's own
 * rotation functions leave out by default too (EXCLUDE_CHARACTERS `/@"'\`).
 * https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetRandomPassword.html
 */
export const PASSWORD_RULES = { PasswordLength: 32, ExcludeCharacters: '/"@\'\\ ', IncludeSpace: false, RequireEachIncludedType: true };

export interface RotatorOptions {
  readonly secrets: SecretsManagerClient;
  readonly connect: Connect;
  /** The one secret this function rotates: its ARN, full or without the random suffix (partial). */
  readonly secretArn: string;
  readonly logger: Logger;
}

/** A rotation error: one line naming the step and what is wrong; never a value of the secret. */
export class RotationError extends Error {
  override readonly name = 'RotationError';
}

/** Whether an event's SecretId is the configured secret: the same ARN, or the partial ARN plus the 6-character suffix. */
export function isConfiguredSecret(configured: string, secretId: string): boolean {
  return (
    secretId === configured || (secretId.startsWith(`${configured}-`) && /^[A-Za-z0-9]{6}$/.test(secretId.slice(configured.length + 1)))
  );
}

function parseCredentials(text: string | undefined, what: string): MasterCredentials {
  let value: unknown;
  try {
    value = JSON.parse(text ?? '');
  } catch {
    throw new RotationError(`${what} is not JSON: it must be {"username": ..., "password": ...}`);
  }
  const v = value as Record<string, unknown> | null;
  if (!v || typeof v !== 'object' || Array.isArray(v) || typeof v.username !== 'string' || typeof v.password !== 'string' || !v.username)
    throw new RotationError(`${what} has no string "username" and "password"`);
  return v as MasterCredentials;
}

/** Handles one rotation event (one step). */
export function createRotator(options: RotatorOptions): (event: RotationEvent) => Promise<void> {
  const { secrets, connect, logger } = options;

  async function credentials(secretId: string, stage: string, versionId?: string): Promise<MasterCredentials | undefined> {
    try {
      const value = await secrets.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage, VersionId: versionId }));
      return parseCredentials(value.SecretString, `the secret's ${stage} version`);
    } catch (error) {
      // By name too: an error from another copy of the SDK's modules is no instance of this class.
      if (error instanceof ResourceNotFoundException || (error as Error)?.name === 'ResourceNotFoundException') return undefined;
      throw error;
    }
  }

  async function required(secretId: string, stage: string, versionId?: string): Promise<MasterCredentials> {
    const found = await credentials(secretId, stage, versionId);
    if (!found) throw new RotationError(`the secret has no ${stage} version${versionId ? ` ${versionId}` : ''}`);
    return found;
  }

  /** Whether the credentials log in; the failure's code and message (pg's, which name the user, never the password) otherwise. */
  async function logsIn(creds: MasterCredentials): Promise<{ ok: true; session: DatabaseSession } | { ok: false; why: string }> {
    try {
      return { ok: true, session: await connect(creds) };
    } catch (error) {
      const e = error as { code?: string; message?: string };
      return { ok: false, why: [e.code, e.message].filter(Boolean).join(' ') || 'unknown error' };
    }
  }

  const steps: Record<RotationStep, (secretId: string, token: string) => Promise<void>> = {
    async createSecret(secretId, token) {
      const current = await required(secretId, 'AWSCURRENT');
      if (await credentials(secretId, 'AWSPENDING', token)) {
        logger.info({ step: 'createSecret', versionId: token }, 'the pending version already exists');
        return;
      }
      const { RandomPassword } = await secrets.send(new GetRandomPasswordCommand(PASSWORD_RULES));
      if (!RandomPassword) throw new RotationError('createSecret: Secrets Manager returned no random password');
      await secrets.send(
        new PutSecretValueCommand({
          SecretId: secretId,
          ClientRequestToken: token,
          SecretString: JSON.stringify({ ...current, password: RandomPassword }),
          VersionStages: ['AWSPENDING'],
        }),
      );
      logger.info({ step: 'createSecret', versionId: token }, 'created the pending version');
    },

    async setSecret(secretId, token) {
      const pending = await required(secretId, 'AWSPENDING', token);
      const current = await required(secretId, 'AWSCURRENT');
      if (pending.username !== current.username)
        throw new RotationError(
          'setSecret: the pending version names another username than the current one; single-user rotation keeps the user',
        );
      const already = await logsIn(pending);
      if (already.ok) {
        await already.session.end();
        logger.info({ step: 'setSecret', versionId: token }, 'the database already accepts the pending password');
        return;
      }
      // As AWS's single-user function: the current password, or the previous one when a rotation was cut short after
      // setSecret changed the database but before finishSecret moved AWSCURRENT.
      const previous = await credentials(secretId, 'AWSPREVIOUS');
      const reasons: string[] = [`AWSPENDING: ${already.why}`];
      let session: DatabaseSession | undefined;
      for (const [stage, creds] of [['AWSCURRENT', current] as const, ['AWSPREVIOUS', previous] as const]) {
        if (!creds || creds.username !== current.username) continue;
        const attempt = await logsIn(creds);
        if (attempt.ok) {
          session = attempt.session;
          logger.info({ step: 'setSecret', with: stage }, 'logged in to set the new password');
          break;
        }
        reasons.push(`${stage}: ${attempt.why}`);
      }
      if (!session)
        throw new RotationError(
          `setSecret: cannot log in as ${JSON.stringify(current.username)} with the pending, current or previous password (${reasons.join('; ')})`,
        );
      try {
        // The verifier, never the password: PostgreSQL logs a failing statement in full (log_min_error_statement).
        await session.query(`ALTER ROLE ${escapeIdentifier(current.username)} PASSWORD '${scramSha256Verifier(pending.password)}'`);
      } finally {
        await session.end();
      }
      logger.info({ step: 'setSecret', versionId: token }, 'set the pending password in the database');
    },

    async testSecret(secretId, token) {
      const pending = await required(secretId, 'AWSPENDING', token);
      const attempt = await logsIn(pending);
      if (!attempt.ok)
        throw new RotationError(
          `testSecret: cannot log in as ${JSON.stringify(pending.username)} with the pending password (${attempt.why})`,
        );
      try {
        await attempt.session.query('SELECT 1');
      } finally {
        await attempt.session.end();
      }
      logger.info({ step: 'testSecret', versionId: token }, 'the pending password logs in');
    },

    async finishSecret(secretId, token) {
      const metadata = await secrets.send(new DescribeSecretCommand({ SecretId: secretId }));
      const stages = metadata.VersionIdsToStages ?? {};
      // A version already AWSCURRENT never gets here (the event check returns first), so this moves the stage.
      const current = Object.keys(stages).find((id) => stages[id]?.includes('AWSCURRENT'));
      await secrets.send(
        new UpdateSecretVersionStageCommand({
          SecretId: secretId,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: token,
          RemoveFromVersionId: current,
        }),
      );
      logger.info({ step: 'finishSecret', versionId: token, previousVersionId: current }, 'moved AWSCURRENT to the new version');
    },
  };

  const handle = async (event: RotationEvent): Promise<void> => {
    const { Step: step, SecretId: secretId, ClientRequestToken: token } = event ?? ({} as RotationEvent);
    if (!(ROTATION_STEPS as readonly string[]).includes(step))
      throw new RotationError(`unknown rotation step ${JSON.stringify(step)}: expected one of ${ROTATION_STEPS.join(', ')}`);
    if (typeof secretId !== 'string' || !isConfiguredSecret(options.secretArn, secretId))
      throw new RotationError(`this function rotates ${options.secretArn} only, not ${JSON.stringify(secretId)}`);
    if (typeof token !== 'string' || token === '') throw new RotationError('the event has no ClientRequestToken');

    const metadata = await secrets.send(new DescribeSecretCommand({ SecretId: secretId }));
    if (!metadata.RotationEnabled) throw new RotationError(`secret ${secretId} is not enabled for rotation`);
    const stages = metadata.VersionIdsToStages?.[token];
    if (!stages) throw new RotationError(`version ${token} of the secret has no stage for rotation`);
    if (stages.includes('AWSCURRENT')) {
      logger.info({ step, versionId: token }, 'the version is already AWSCURRENT: nothing to do');
      return;
    }
    if (!stages.includes('AWSPENDING')) throw new RotationError(`version ${token} of the secret is not staged AWSPENDING`);
    await steps[step as RotationStep](secretId, token);
  };
  return async (event) => {
    try {
      await handle(event);
    } catch (error) {
      // Class, code and message: none carries a value of the secret (pg names the user, never the password).
      logger.error({ step: event?.Step, versionId: event?.ClientRequestToken, ...errorFields(error) }, 'rotation step failed');
      throw error;
    }
  };
}
