import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Client } from 'pg';
import { PROCESSOR_ENV } from '../../lib/contract/processor';
import { createLogger } from '../../lib/processor/logger';
import { loadRotationConfig, pgConnect } from '../../lib/processor/rotation/main';
import { Connect, createRotator } from '../../lib/processor/rotation/rotate';
import { databaseEnv, LocalPostgres, startPostgres } from '../../scripts/local/stack';
import { fakeSecretsManager } from '../helpers/secrets-manager';
import { waitFor } from './harness';

const ARN = 'arn:aws:secretsmanager:eu-west-2:222222222222:secret:hipaa-fhir/dev/db-credentials-AbCdEf';
const USER = 'rotation_master';
const OLD = 'Old-Master-Password-0123';
const NEW = 'New-Master-Password-4567-abcdefghijklmn';

// The rotation function's steps against real PostgreSQL 16: the master user (not a superuser, as on RDS) changes its
// own password to a SCRAM verifier computed in Node, and then logs in over a SCRAM exchange.
describe('secret rotation against PostgreSQL', () => {
  let pg: LocalPostgres;
  let admin: Client;

  /** Logs in as the master user and says which exchange the server asked for (pg's protocol messages). */
  async function loginMethod(password: string): Promise<'scram' | 'password'> {
    const client = new Client({ ...pg.settings(), user: USER, password });
    let method: 'scram' | 'password' | undefined;
    const connection = (client as unknown as { connection: NodeJS.EventEmitter }).connection;
    connection.on('authenticationSASL', () => (method = 'scram'));
    connection.on('authenticationCleartextPassword', () => (method = 'password'));
    await client.connect();
    await client.end();
    return method!;
  }

  beforeAll(async () => {
    pg = await startPostgres();
    admin = await pg.client();
    await admin.query(`CREATE ROLE ${USER} LOGIN CREATEROLE PASSWORD '${OLD}'`);
    // SCRAM for this role (the others keep embedded PostgreSQL's password method): the server then asks for a
    // SCRAM-SHA-256 exchange, which a login succeeds in only when the stored verifier belongs to the password.
    const { rows } = await admin.query<{ hba_file: string }>('SHOW hba_file');
    const lines = [
      'local all all password',
      `host all ${USER} 127.0.0.1/32 scram-sha-256`,
      'host all all 127.0.0.1/32 password',
      'host all all ::1/128 password',
    ];
    const array = `ARRAY[${lines.map((l) => `'${l}'`).join(', ')}]`;
    await admin.query(`COPY (SELECT unnest(${array})) TO '${rows[0].hba_file}'`);
    await admin.query('SELECT pg_reload_conf()');
    // The postmaster rereads the file when it handles the signal: wait until a login is asked for SCRAM.
    await waitFor('the SCRAM rule to be loaded', async () => ((await loginMethod(OLD)) === 'scram' ? true : undefined), 30_000, 50);
  }, 180_000);
  afterAll(async () => {
    await admin?.end();
    await pg?.stop();
  });

  test('after setSecret the role logs in with the new password over SCRAM and not with the old; no statement holds the password', async () => {
    const { rows: rules } = await admin.query(`SELECT auth_method, error FROM pg_hba_file_rules WHERE '${USER}' = ANY(user_name)`);
    expect(rules).toEqual([{ auth_method: 'scram-sha-256', error: null }]);

    const config = loadRotationConfig({ ...databaseEnv(pg), [PROCESSOR_ENV.rotationSecretArn]: ARN });
    const connect = pgConnect(config.processor.db);
    const statements: string[] = [];
    const recording: Connect = async (credentials) => {
      const session = await connect(credentials);
      return { query: (sql) => (statements.push(sql), session.query(sql)), end: () => session.end() };
    };
    const sm = fakeSecretsManager(ARN, { username: USER, password: OLD, engine: 'postgres' }, { randomPassword: NEW });
    const rotate = createRotator({
      secrets: new SecretsManagerClient({ region: 'eu-west-2' }),
      connect: recording,
      secretArn: config.secretArn,
      logger: createLogger('rotation-test', 'silent'),
    });
    await expect(connect({ username: USER, password: OLD }))
      .resolves.toBeDefined()
      .then(() => undefined);

    sm.startRotation('v-new');
    await rotate({ Step: 'createSecret', SecretId: ARN, ClientRequestToken: 'v-new' });
    await rotate({ Step: 'setSecret', SecretId: ARN, ClientRequestToken: 'v-new' });

    const stored = await admin.query<{ rolpassword: string }>('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [USER]);
    expect(stored.rows[0].rolpassword).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$/);
    const fresh = await connect({ username: USER, password: NEW });
    await expect(fresh.query('SELECT current_user AS u')).resolves.toMatchObject({ rows: [{ u: USER }] });
    await fresh.end();
    expect(await loginMethod(NEW)).toBe('scram');
    await expect(connect({ username: USER, password: OLD })).rejects.toMatchObject({ code: '28P01' });
    await expect(loginMethod(OLD)).rejects.toMatchObject({ code: '28P01' });

    // setSecret again (a retry) logs in with the pending password and changes nothing; then testSecret, finishSecret.
    const sent = statements.length;
    await rotate({ Step: 'setSecret', SecretId: ARN, ClientRequestToken: 'v-new' });
    expect(statements).toHaveLength(sent);
    await rotate({ Step: 'testSecret', SecretId: ARN, ClientRequestToken: 'v-new' });
    await rotate({ Step: 'finishSecret', SecretId: ARN, ClientRequestToken: 'v-new' });
    expect(sm.valueOf('AWSCURRENT')).toEqual({ username: USER, password: NEW, engine: 'postgres' });

    expect(statements).toEqual([expect.stringMatching(new RegExp(`^ALTER ROLE "${USER}" PASSWORD 'SCRAM-SHA-256\\$4096:`)), 'SELECT 1']);
    expect(statements[0]).toContain(stored.rows[0].rolpassword);
    for (const s of statements) {
      expect(s).not.toContain(NEW);
      expect(s).not.toContain(OLD);
    }
  });
});
