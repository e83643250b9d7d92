/**
 * The restore drill's entry point (main.ts) as ECS runs it: a child process with the task's environment.
 * RDS is a local HTTP server standing in for the RDS query API (AWS_ENDPOINT_URL_RDS), so the run makes
 * real SDK requests and exits with the drill's verdict.
 */
import { execFile } from 'child_process';
import { createServer, Server } from 'http';
import { AddressInfo } from 'net';
import { join } from 'path';
import { compileCacheEnv, TS_HOOK } from '../../../../../scripts/shared/child';

jest.setTimeout(60_000);

const ROOT = join(__dirname, '..', '..', '..', '..', '..');
const SOURCE = 'hipaa-fhir-db-prod';
const ENV = {
  AWS_REGION: 'eu-west-2',
  DRILL_SOURCE_INSTANCE: SOURCE,
  DRILL_INSTANCE_PREFIX: 'hipaa-fhir-drill-prod-',
  PROJECT: 'hipaa-fhir',
  ENVIRONMENT_SUFFIX: 'prod',
  DB_NAME: 'fhir',
  METRICS: 'off',
};

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Asynchronous, so the fake RDS in this process can answer while the task runs. */
const runTask = (env: Record<string, string>): Promise<Run> =>
  new Promise((resolve) => {
    execFile(
      process.execPath,
      [...TS_HOOK, 'lib/processor/tasks/restore-drill/main.ts'],
      { cwd: ROOT, env: { PATH: process.env.PATH, ...compileCacheEnv(), ...env }, encoding: 'utf8' },
      (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });

describe('restore drill task entry point', () => {
  test('a required variable missing: exit 2 and one configuration line, nothing on stdout', async () => {
    const { DRILL_SOURCE_INSTANCE: _omitted, ...env } = ENV;
    const run = await runTask(env);
    expect([run.code, run.stderr, run.stdout]).toEqual([2, 'configuration error: DRILL_SOURCE_INSTANCE is required\n', '']);
  });

  test('METRICS outside emf/off is refused the same way', async () => {
    const run = await runTask({ ...ENV, METRICS: 'statsd' });
    expect([run.code, run.stderr, run.stdout]).toEqual([2, 'configuration error: METRICS must be emf or off\n', '']);
  });

  describe('against a stand-in RDS API', () => {
    let server: Server;
    let endpoint: string;
    let bodies: URLSearchParams[];

    beforeAll(async () => {
      server = createServer((req, res) => {
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (chunk: string) => (body += chunk));
        req.on('end', () => {
          const params = new URLSearchParams(body);
          bodies.push(params);
          res.setHeader('content-type', 'text/xml');
          if (params.get('Action') === 'DescribeDBInstances' && params.get('DBInstanceIdentifier') === null) {
            // The sweep's listing: no instances at all.
            res.writeHead(200);
            res.end(
              '<DescribeDBInstancesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBInstancesResult><DBInstances/></DescribeDBInstancesResult>' +
                '<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></DescribeDBInstancesResponse>',
            );
          } else {
            res.writeHead(404);
            res.end(
              '<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type><Code>DBInstanceNotFound</Code>' +
                `<Message>DBInstance ${params.get('DBInstanceIdentifier')} not found.</Message></Error><RequestId>r-2</RequestId></ErrorResponse>`,
            );
          }
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
    });

    beforeEach(() => {
      bodies = [];
    });

    test('a source instance that does not exist: exit 1, the JSON report and the FAILED line, and no restore attempted', async () => {
      const run = await runTask({
        ...ENV,
        AWS_ENDPOINT_URL_RDS: endpoint,
        AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'secret',
      });
      expect(run.code).toBe(1);
      const lines = run.stdout.trim().split('\n');
      const last = lines[lines.length - 1];
      expect(last).toBe(`restore drill FAILED: describe the live instance: ${SOURCE} does not exist`);
      const report = lines.map((l) => JSON.parse(l.startsWith('{') ? l : '{}')).find((o) => 'restoreDrill' in o)?.restoreDrill;
      expect(report).toMatchObject({ ok: false, sourceInstance: SOURCE, reason: `describe the live instance: ${SOURCE} does not exist` });
      expect(report).not.toHaveProperty('targetInstance');
      // The sweep's listing, then the live instance by name; never a restore or a delete.
      expect(bodies.map((b) => [b.get('Action'), b.get('DBInstanceIdentifier')])).toEqual([
        ['DescribeDBInstances', null],
        ['DescribeDBInstances', SOURCE],
      ]);
    });
  });
});
