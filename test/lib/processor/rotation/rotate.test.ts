import { Writable } from 'stream';
import {
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { fakeSecretsManager } from '../../../helpers/secrets-manager';
import { createLogger } from '../../../../lib/processor/logger';
import {
  Connect,
  createRotator,
  isConfiguredSecret,
  PASSWORD_RULES,
  RotationEvent,
  RotationStep,
} from '../../../../lib/processor/rotation/rotate';
import { scramSha256Verifier } from '../../../../lib/processor/rotation/scram';

const PARTIAL_ARN = 'arn:aws:secretsmanager:eu-west-2:222222222222:secret:hipaa-fhir/dev/db-credentials';
const ARN = `${PARTIAL_ARN}-AbCdEf`;
const OLD = 'Old-Password-0123456789';
const NEW = 'New-Password-9876543210-abcdefghij';

/** A database whose roles log in with the password matching their stored SCRAM verifier; records every statement. */
function fakeDatabase(passwords: Record<string, string>) {
  const verifiers = new Map<string, string>();
  const statements: string[] = [];
  const logins: string[] = [];
  const connect: Connect = async ({ username, password }) => {
    const stored = verifiers.get(username);
    const ok = stored
      ? scramSha256Verifier(password, Buffer.from(stored.split(/[:$]/)[2], 'base64')) === stored
      : passwords[username] === password;
    if (!ok) throw Object.assign(new Error(`password authentication failed for user "${username}"`), { code: '28P01' });
    logins.push(username);
    return {
      query: async (sql) => {
        statements.push(sql);
        const m = /^ALTER ROLE "([^"]+)" PASSWORD '([^']+)'$/.exec(sql);
        if (m) verifiers.set(m[1], m[2]);
        return { rows: [] };
      },
      end: async () => undefined,
    };
  };
  return { connect, statements, logins, verifiers };
}

function recordingLogger() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger('rotation-test', 'info', sink), lines };
}

const event = (Step: RotationStep | string, ClientRequestToken = 'v-new', SecretId = ARN): RotationEvent => ({
  Step,
  SecretId,
  ClientRequestToken,
});

function setUp(initial: Record<string, unknown> = { username: 'fhir_admin', password: OLD, engine: 'postgres' }, rotationEnabled = true) {
  const sm = fakeSecretsManager(ARN, initial, { rotationEnabled, randomPassword: NEW });
  const db = fakeDatabase({ fhir_admin: OLD });
  const { logger, lines } = recordingLogger();
  const rotate = createRotator({
    secrets: new SecretsManagerClient({ region: 'eu-west-2' }),
    connect: db.connect,
    secretArn: PARTIAL_ARN,
    logger,
  });
  return { sm, db, rotate, lines };
}

afterEach(() => jest.restoreAllMocks());

describe('a whole rotation, single user', () => {
  test('the four steps: a new password in the database and in AWSCURRENT, every other field kept, the old one AWSPREVIOUS', async () => {
    const { sm, db, rotate, lines } = setUp({ username: 'fhir_admin', password: OLD, engine: 'postgres', note: 'kept' });
    sm.startRotation('v-new');
    for (const step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret']) await rotate(event(step));

    expect(sm.valueOf('AWSCURRENT')).toEqual({ username: 'fhir_admin', password: NEW, engine: 'postgres', note: 'kept' });
    expect(sm.valueOf('AWSPREVIOUS')).toEqual({ username: 'fhir_admin', password: OLD, engine: 'postgres', note: 'kept' });
    expect(sm.versions.get('v-new')!.stages).toEqual(expect.arrayContaining(['AWSCURRENT']));
    // The database takes the new password and refuses the old one.
    await expect(db.connect({ username: 'fhir_admin', password: NEW })).resolves.toBeDefined();
    await expect(db.connect({ username: 'fhir_admin', password: OLD })).rejects.toThrow('password authentication failed');
    // The statement carries the verifier only; nothing logged carries either password or the verifier.
    expect(db.statements).toEqual([expect.stringMatching(/^ALTER ROLE "fhir_admin" PASSWORD 'SCRAM-SHA-256\$4096:/), 'SELECT 1']);
    expect(db.statements.join('\n')).not.toContain(NEW);
    const logged = lines.join('');
    for (const secret of [NEW, OLD, db.verifiers.get('fhir_admin')!]) expect(logged).not.toContain(secret);
    expect(sm.mock.commandCalls(GetRandomPasswordCommand)[0].args[0].input).toEqual(PASSWORD_RULES);
    expect(PASSWORD_RULES).toMatchObject({ PasswordLength: 32, ExcludeCharacters: expect.stringContaining('/"@') });
    expect(PASSWORD_RULES.ExcludeCharacters).toContain(' ');
    expect(sm.mock.commandCalls(UpdateSecretVersionStageCommand)[0].args[0].input).toEqual({
      SecretId: ARN,
      VersionStage: 'AWSCURRENT',
      MoveToVersionId: 'v-new',
      RemoveFromVersionId: 'v-old',
    });
  });

  test('every step again after the rotation finished is a no-op (the version is AWSCURRENT)', async () => {
    const { sm, db, rotate, lines } = setUp();
    sm.startRotation('v-new');
    for (const step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret']) await rotate(event(step));
    const calls = sm.mock.calls().length;
    const statements = db.statements.length;
    for (const step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret']) await rotate(event(step));
    // Only the DescribeSecret of each event check.
    expect(
      sm.mock
        .calls()
        .slice(calls)
        .map((c) => c.args[0].constructor.name),
    ).toEqual(Array(4).fill('DescribeSecretCommand'));
    expect(db.statements).toHaveLength(statements);
    expect(lines.join('')).toContain('already AWSCURRENT');
  });
});

describe('createSecret', () => {
  test('a retry with the same token keeps the pending version it made (one random password, one PutSecretValue)', async () => {
    const { sm, rotate } = setUp();
    sm.startRotation('v-new');
    await rotate(event('createSecret'));
    await rotate(event('createSecret'));
    expect(sm.mock.commandCalls(GetRandomPasswordCommand)).toHaveLength(1);
    expect(sm.mock.commandCalls(PutSecretValueCommand)).toHaveLength(1);
    expect(sm.mock.commandCalls(PutSecretValueCommand)[0].args[0].input).toMatchObject({
      SecretId: ARN,
      ClientRequestToken: 'v-new',
      VersionStages: ['AWSPENDING'],
    });
  });

  test('a current value that is not the JSON credentials stops it with one line that holds no value', async () => {
    for (const [value, message] of [
      ['not json at all', "the secret's AWSCURRENT version is not JSON"],
      ['{"username":"fhir_admin"}', 'has no string "username" and "password"'],
      ['["fhir_admin"]', 'has no string "username" and "password"'],
    ]) {
      const { sm, rotate } = setUp();
      sm.versions.get('v-old')!.value = value;
      sm.startRotation('v-new');
      const error = await rotate(event('createSecret')).catch((e: Error) => e);
      expect((error as Error).message).toContain(message);
      expect((error as Error).message).not.toContain('fhir_admin');
    }
  });

  test('a missing pending version is recognised by the error name too (an SDK error from another module copy)', async () => {
    const { sm, rotate } = setUp();
    sm.startRotation('v-new');
    sm.mock
      .on(GetSecretValueCommand, { SecretId: ARN, VersionStage: 'AWSPENDING', VersionId: 'v-new' })
      .rejects(Object.assign(new Error('not found'), { name: 'ResourceNotFoundException' }));
    await rotate(event('createSecret'));
    expect(sm.mock.commandCalls(PutSecretValueCommand)).toHaveLength(1);
  });

  test('no random password from Secrets Manager: refused, nothing written', async () => {
    const { sm, rotate } = setUp();
    sm.mock.on(GetRandomPasswordCommand).resolves({});
    sm.startRotation('v-new');
    await expect(rotate(event('createSecret'))).rejects.toThrow('createSecret: Secrets Manager returned no random password');
    expect(sm.mock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });

  test('an error other than a missing version reaches the caller (and the log), not a new password', async () => {
    const { sm, rotate, lines } = setUp();
    sm.startRotation('v-new');
    sm.mock
      .on(GetSecretValueCommand)
      .rejects(Object.assign(new Error('User is not authorized to perform kms:Decrypt'), { name: 'AccessDeniedException' }));
    await expect(rotate(event('createSecret'))).rejects.toThrow('kms:Decrypt');
    expect(sm.mock.commandCalls(PutSecretValueCommand)).toHaveLength(0);
    expect(JSON.parse(lines[lines.length - 1])).toMatchObject({ level: 'error', step: 'createSecret', errorName: 'AccessDeniedException' });
  });
});

describe('setSecret', () => {
  async function pending(s: ReturnType<typeof setUp>) {
    s.sm.startRotation('v-new');
    await s.rotate(event('createSecret'));
  }

  test('when the database already takes the pending password (a retry after it was set), it changes nothing', async () => {
    const s = setUp();
    await pending(s);
    await s.rotate(event('setSecret'));
    await s.rotate(event('setSecret'));
    expect(s.db.statements.filter((q) => q.startsWith('ALTER ROLE'))).toHaveLength(1);
    expect(s.lines.join('')).toContain('already accepts the pending password');
  });

  test('logs in with AWSPREVIOUS when AWSCURRENT no longer works (a rotation cut short after setSecret)', async () => {
    const s = setUp();
    await pending(s);
    // The previous version holds the password the database has; the current one holds another.
    s.sm.versions.set('v-prev', { value: JSON.stringify({ username: 'fhir_admin', password: OLD }), stages: ['AWSPREVIOUS'] });
    s.sm.versions.get('v-old')!.value = JSON.stringify({ username: 'fhir_admin', password: 'Not-The-Database-Password-1' });
    await s.rotate(event('setSecret'));
    await expect(s.db.connect({ username: 'fhir_admin', password: NEW })).resolves.toBeDefined();
    expect(s.lines.join('')).toContain('"with":"AWSPREVIOUS"');
  });

  test('no version logs in: one line per password tried, with the server error and no password', async () => {
    const s = setUp();
    await pending(s);
    s.sm.versions.get('v-old')!.value = JSON.stringify({ username: 'fhir_admin', password: 'Not-The-Database-Password-1' });
    const error = (await s.rotate(event('setSecret')).catch((e: Error) => e)) as Error;
    expect(error.message).toBe(
      'setSecret: cannot log in as "fhir_admin" with the pending, current or previous password (AWSPENDING: 28P01 password authentication failed for user "fhir_admin"; AWSCURRENT: 28P01 password authentication failed for user "fhir_admin")',
    );
    expect(error.message).not.toContain('Not-The-Database-Password-1');
    expect(s.db.statements).toEqual([]);
  });

  test('a previous version of another user is never tried', async () => {
    const s = setUp();
    await pending(s);
    s.sm.versions.set('v-prev', { value: JSON.stringify({ username: 'someone_else', password: 'x-Password-1' }), stages: ['AWSPREVIOUS'] });
    s.sm.versions.get('v-old')!.value = JSON.stringify({ username: 'fhir_admin', password: 'Not-The-Database-Password-1' });
    const logins: string[] = [];
    const original = s.db.connect;
    const rotate = createRotator({
      secrets: new SecretsManagerClient({ region: 'eu-west-2' }),
      connect: (c) => (logins.push(c.username), original(c)),
      secretArn: PARTIAL_ARN,
      logger: createLogger('t', 'silent'),
    });
    await expect(rotate(event('setSecret'))).rejects.toThrow('cannot log in');
    expect(logins).toEqual(['fhir_admin', 'fhir_admin']);
  });

  test('a pending version naming another user is refused (single-user rotation keeps the user)', async () => {
    const s = setUp();
    await pending(s);
    s.sm.versions.get('v-new')!.value = JSON.stringify({ username: 'other', password: NEW });
    await expect(s.rotate(event('setSecret'))).rejects.toThrow(
      'setSecret: the pending version names another username than the current one',
    );
  });

  test('a token whose pending version has no value yet (createSecret did not run) is refused by name', async () => {
    const s = setUp();
    s.sm.startRotation('v-new');
    s.sm.mock
      .on(GetSecretValueCommand, { SecretId: ARN, VersionStage: 'AWSPENDING', VersionId: 'v-new' })
      .rejects(new ResourceNotFoundException({ message: 'not found', $metadata: {} }));
    await expect(s.rotate(event('setSecret'))).rejects.toThrow('the secret has no AWSPENDING version v-new');
  });

  test('a failing ALTER ROLE still ends the session and reaches the caller', async () => {
    const s = setUp();
    await pending(s);
    let ended = 0;
    const rotate = createRotator({
      secrets: new SecretsManagerClient({ region: 'eu-west-2' }),
      connect: async (c) => {
        const session = await s.db.connect(c);
        return {
          query: async (sql) =>
            sql.startsWith('ALTER') ? Promise.reject(new Error('permission denied to alter role')) : session.query(sql),
          end: async () => void ended++,
        };
      },
      secretArn: PARTIAL_ARN,
      logger: createLogger('t', 'silent'),
    });
    await expect(rotate(event('setSecret'))).rejects.toThrow('permission denied to alter role');
    expect(ended).toBe(1);
  });
});

describe('testSecret', () => {
  test('refuses when the pending password does not log in, naming the user and the server error', async () => {
    const s = setUp();
    s.sm.startRotation('v-new');
    await s.rotate(event('createSecret'));
    await expect(s.rotate(event('testSecret'))).rejects.toThrow(
      'testSecret: cannot log in as "fhir_admin" with the pending password (28P01 password authentication failed for user "fhir_admin")',
    );
  });

  test('a connection error without code or message is still one line', async () => {
    const s = setUp();
    s.sm.startRotation('v-new');
    await s.rotate(event('createSecret'));
    const rotate = createRotator({
      secrets: new SecretsManagerClient({ region: 'eu-west-2' }),
      connect: () => Promise.reject({}),
      secretArn: PARTIAL_ARN,
      logger: createLogger('t', 'silent'),
    });
    await expect(rotate(event('testSecret'))).rejects.toThrow('(unknown error)');
  });
});

describe('the event checks (as AWS template functions make them)', () => {
  test('another secret than the configured one is refused before any call', async () => {
    const { sm, rotate } = setUp();
    for (const other of [`${PARTIAL_ARN}-x-AbCdEf`, `${PARTIAL_ARN}2-AbCdEf`, `${PARTIAL_ARN}-AbCdE`, 'hipaa-fhir/dev/db-credentials'])
      await expect(rotate(event('createSecret', 'v-new', other))).rejects.toThrow(`this function rotates ${PARTIAL_ARN} only`);
    expect(sm.mock.calls()).toHaveLength(0);
  });

  test('an unknown step and a missing token are refused by name', async () => {
    const { rotate } = setUp();
    await expect(rotate(event('rotateEverything'))).rejects.toThrow(
      'unknown rotation step "rotateEverything": expected one of createSecret, setSecret, testSecret, finishSecret',
    );
    await expect(rotate(event('createSecret', ''))).rejects.toThrow('the event has no ClientRequestToken');
    await expect(rotate(undefined as unknown as RotationEvent)).rejects.toThrow('unknown rotation step undefined');
  });

  test('a secret with rotation turned off is refused', async () => {
    const { sm, rotate } = setUp(undefined, false);
    sm.startRotation('v-new');
    await expect(rotate(event('createSecret'))).rejects.toThrow(`secret ${ARN} is not enabled for rotation`);
  });

  test('a token that is no version, or a version not staged AWSPENDING, is refused', async () => {
    const { sm, rotate } = setUp();
    await expect(rotate(event('createSecret', 'v-unknown'))).rejects.toThrow('version v-unknown of the secret has no stage for rotation');
    sm.versions.set('v-stray', { value: '', stages: ['AWSPREVIOUS'] });
    await expect(rotate(event('setSecret', 'v-stray'))).rejects.toThrow('version v-stray of the secret is not staged AWSPENDING');
  });

  test('isConfiguredSecret: the configured ARN, or its partial form plus exactly six letters and digits', () => {
    expect(isConfiguredSecret(PARTIAL_ARN, ARN)).toBe(true);
    expect(isConfiguredSecret(ARN, ARN)).toBe(true);
    expect(isConfiguredSecret(PARTIAL_ARN, PARTIAL_ARN)).toBe(true);
    expect(isConfiguredSecret(PARTIAL_ARN, `${PARTIAL_ARN}-AbCdE!`)).toBe(false);
    expect(isConfiguredSecret(PARTIAL_ARN, `${PARTIAL_ARN}-AbCdEfG`)).toBe(false);
  });
});
