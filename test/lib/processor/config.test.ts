import { spawnSync } from 'child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { EnvironmentError } from '../../../lib/contract';
import { DEFAULT_CA_BUNDLE, DEFAULT_MAX_IN_FLIGHT_BYTES, loadConfig, loadOrExit } from '../../../lib/processor/config';
import { TS_HOOK } from '../../../scripts/shared/child';

// verify-full needs a CA bundle file that exists; the tests bring their own.
const caDir = mkdtempSync(join(tmpdir(), 'processor-config-'));
const caBundle = join(caDir, 'bundle.pem');
writeFileSync(caBundle, '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n');
afterAll(() => rmSync(caDir, { recursive: true, force: true }));

const base = {
  STREAM_NAME: 'hipaa-fhir-records-dev',
  AWS_REGION: 'eu-west-2',
  DB_HOST: 'db.example',
  DB_NAME: 'fhir',
  DB_USER: 'fhir_admin',
  DB_PASSWORD: 'pw',
  DB_CA_BUNDLE: caBundle,
};

describe('processor configuration', () => {
  test('defaults: verify-full TLS, port 5432, password auth', () => {
    const c = loadConfig(base);
    expect(c.db).toMatchObject({ host: 'db.example', port: 5432, sslMode: 'verify-full', iamAuth: false, password: 'pw' });
    expect(c.kinesisEndpoint).toBeUndefined();
    expect(c.db.caBundlePath).toBe(caBundle);
    expect(c).toMatchObject({ logLevel: 'info', metrics: 'emf', metricsNamespace: 'HipaaFhir/Processor' });
  });

  test("METRICS_NAMESPACE is read and checked against CloudWatch's namespace rules", () => {
    expect(loadConfig({ ...base, METRICS_NAMESPACE: 'Team A/FHIR:processor#2_x.y-z' }).metricsNamespace).toBe(
      'Team A/FHIR:processor#2_x.y-z',
    );
    expect(loadConfig({ ...base, METRICS_NAMESPACE: 'N'.repeat(255) }).metricsNamespace).toHaveLength(255);
  });

  test.each(['AWS/Kinesis', 'HipaaFhir$Processor', '   ', 'N'.repeat(256), 'Hipaa\u00e9'])(
    'METRICS_NAMESPACE %j stops start-up with one line',
    (namespace) => {
      expect(() => loadConfig({ ...base, METRICS_NAMESPACE: namespace })).toThrow(
        new EnvironmentError(
          'METRICS_NAMESPACE must be 1-255 letters, digits, spaces or . - _ / # : (not only spaces), and must not start with AWS/',
        ),
      );
    },
  );

  test('MAX_IN_FLIGHT_BYTES: 24 MiB unless set; set, it is the budget', () => {
    expect(loadConfig(base).maxInFlightBytes).toBe(DEFAULT_MAX_IN_FLIGHT_BYTES);
    expect(DEFAULT_MAX_IN_FLIGHT_BYTES).toBe(25_165_824);
    expect(loadConfig({ ...base, MAX_IN_FLIGHT_BYTES: '1048576' }).maxInFlightBytes).toBe(1_048_576);
  });

  test('LOG_LEVEL and METRICS are read and checked', () => {
    expect(loadConfig({ ...base, LOG_LEVEL: 'warn', METRICS: 'off' })).toMatchObject({ logLevel: 'warn', metrics: 'off' });
  });

  test('without verify-full no CA bundle is needed', () => {
    expect(loadConfig({ ...base, DB_SSL_MODE: 'require', DB_CA_BUNDLE: undefined }).db.sslMode).toBe('require');
  });

  test('IAM authentication needs no password', () => {
    const { DB_PASSWORD: _unused, ...rest } = base;
    expect(loadConfig({ ...rest, DB_IAM_AUTH: 'true' }).db).toMatchObject({ iamAuth: true, password: undefined });
  });

  test.each([
    [{ STREAM_NAME: undefined }, 'STREAM_NAME is required'],
    [{ STREAM_NAME: 'bad name' }, 'STREAM_NAME must be a Kinesis stream name'],
    [{ AWS_REGION: 'London' }, 'AWS_REGION must be a region code'],
    [{ DB_HOST: '' }, 'DB_HOST is required'],
    [{ DB_PORT: '5432x' }, 'DB_PORT must be a whole number from 1 to 65535'],
    [{ DB_PORT: '70000' }, 'DB_PORT must be a whole number from 1 to 65535'],
    [{ DB_PASSWORD: undefined }, 'DB_PASSWORD is required unless DB_IAM_AUTH=true'],
    [{ DB_IAM_AUTH: 'yes' }, 'DB_IAM_AUTH must be true or false'],
    [{ DB_SSL_MODE: 'prefer' }, 'DB_SSL_MODE must be one of verify-full, require, disable'],
    [{ DB_IAM_AUTH: 'true', DB_SSL_MODE: 'disable' }, 'DB_SSL_MODE=disable cannot be used with DB_IAM_AUTH=true'],
    [{ KINESIS_ENDPOINT: 'localhost:4567' }, 'KINESIS_ENDPOINT must be an http(s) URL'],
    [{ LEASE_TTL_MS: '5' }, 'LEASE_TTL_MS must be a whole number from 1000 to 600000'],
    [{ MAX_IN_FLIGHT_BYTES: '1048575' }, 'MAX_IN_FLIGHT_BYTES must be a whole number from 1048576 to 1073741824'],
    [{ MAX_IN_FLIGHT_BYTES: '32MiB' }, 'MAX_IN_FLIGHT_BYTES must be a whole number from 1048576 to 1073741824'],
    [{ MAX_IN_FLIGHT_BYTES: '1073741825' }, 'MAX_IN_FLIGHT_BYTES must be a whole number from 1048576 to 1073741824'],
    [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent'],
    [{ LOG_LEVEL: 'INFO' }, 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent'],
    [{ METRICS: 'on' }, 'METRICS must be one of emf, off'],
    [
      { DB_CA_BUNDLE: '/nonexistent/bundle.pem' },
      'DB_SSL_MODE=verify-full needs a CA bundle, but DB_CA_BUNDLE=/nonexistent/bundle.pem does not exist: set DB_CA_BUNDLE to the RDS CA bundle file (https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem)',
    ],
  ])('%j stops start-up with one line naming the variable', (overrides, message) => {
    expect(() => loadConfig({ ...base, ...overrides })).toThrow(EnvironmentError);
    expect(() => loadConfig({ ...base, ...overrides })).toThrow(message);
  });

  test('verify-full with DB_CA_BUNDLE unset names the variable to set', () => {
    // The default path is the image's; on a machine without it the message says what to do.
    const { DB_CA_BUNDLE: _unused, ...rest } = base;
    const run = () => loadConfig(rest);
    if (existsSync(DEFAULT_CA_BUNDLE)) expect(run().db.caBundlePath).toBe(DEFAULT_CA_BUNDLE);
    else
      expect(run).toThrow(
        new EnvironmentError(
          `DB_SSL_MODE=verify-full needs a CA bundle, but DB_CA_BUNDLE is unset and the default ${DEFAULT_CA_BUNDLE} does not exist: set DB_CA_BUNDLE to the RDS CA bundle file (https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem)`,
        ),
      );
  });
});

describe('loadOrExit: the one way the commands load their configuration', () => {
  class Exited extends Error {
    constructor(readonly code: number) {
      super(`exit ${code}`);
    }
  }
  const run = (load: () => unknown) => {
    const lines: string[] = [];
    const exit = (code: number): never => {
      throw new Exited(code);
    };
    try {
      return { value: loadOrExit(load, exit, (line) => lines.push(line)), lines };
    } catch (error) {
      return { error, lines };
    }
  };

  test('a configuration that loads is returned, and nothing is written', () => {
    expect(run(() => loadConfig(base))).toEqual({ value: expect.objectContaining({ streamName: 'hipaa-fhir-records-dev' }), lines: [] });
  });

  test('a EnvironmentError is one line and exit code 2', () => {
    const { error, lines } = run(() => loadConfig({ ...base, DB_PORT: 'abc' }));
    expect(error).toEqual(new Exited(2));
    expect(lines).toEqual(['configuration error: DB_PORT must be a whole number from 1 to 65535']);
  });

  test('any other error is not a usage error: it is thrown, nothing is written', () => {
    const boom = new TypeError('a bug');
    expect(
      run(() => {
        throw boom;
      }),
    ).toEqual({ error: boom, lines: [] });
  });
});

describe('processor start-up with bad configuration', () => {
  /** Starts an entry point the way its container does, with everything it needs but `extra` to reach nothing. */
  const start = (entry: string, extra: Record<string, string>, args: string[] = []) =>
    spawnSync(process.execPath, [...TS_HOOK, entry, ...args], {
      cwd: `${__dirname}/../../..`,
      env: {
        PATH: process.env.PATH,
        STREAM_NAME: 's',
        AWS_REGION: 'eu-west-2',
        DB_HOST: 'h',
        DB_NAME: 'd',
        DB_USER: 'u',
        DB_PASSWORD: 'p',
        ...extra,
      },
      encoding: 'utf8',
      timeout: 30_000,
    });

  test('exits 2 with one line naming the variable, before touching any service', () => {
    const run = start('lib/processor/service/main.ts', { DB_PORT: 'abc' });
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual(['configuration error: DB_PORT must be a whole number from 1 to 65535']);
  }, 30_000);

  test.each([
    ['lib/processor/tasks/migrate/main.ts', []],
    ['lib/processor/tasks/verify/main.ts', ['--run-id', 'run-1']],
  ])(
    '%s exits 2 with the same one line',
    (entry, args) => {
      const run = start(entry, { DB_PORT: '99999' }, args);
      expect(run.status).toBe(2);
      expect(run.stderr.trim().split('\n')).toEqual(['configuration error: DB_PORT must be a whole number from 1 to 65535']);
    },
    30_000,
  );

  test('a bad LOG_LEVEL exits 2 with one line naming the variable and the allowed values', () => {
    const run = start('lib/processor/service/main.ts', { DB_CA_BUNDLE: caBundle, LOG_LEVEL: 'loud' });
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual([
      'configuration error: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent',
    ]);
  }, 30_000);
});
