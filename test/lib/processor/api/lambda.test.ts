import type { ReadAuditEvent, ReadTransaction } from '../../../../lib/processor/api/handler';
import { handleEvent, ProxyEvent, runtimeLoop } from '../../../../lib/processor/api/lambda';
import type { ApiService } from '../../../../lib/processor/api/service';
import { createLogger } from '../../../../lib/processor/logger';
import { fakeRuntimeApi } from '../../../helpers/lambda-runtime';

const ARN = 'arn:aws:sts::111122223333:assumed-role/hipaa-fhir-reader-dev/alice';

function service(): { service: ApiService; audited: ReadAuditEvent[]; logs: unknown[] } {
  const audited: ReadAuditEvent[] = [];
  const logs: unknown[] = [];
  const transaction: ReadTransaction = (work) =>
    work(
      {
        current: async (type, id) => ({
          type,
          id,
          versionId: '2',
          lastModified: new Date(0),
          text: `{"resourceType":"${type}","id":"${id}"}`,
        }),
        version: async () => undefined,
        history: async () => [],
        compartment: async () => [],
      },
      async (e) => {
        audited.push(e);
      },
    );
  return {
    service: { transaction, log: (l) => logs.push(l), logger: createLogger('t', 'silent'), close: async () => undefined },
    audited,
    logs,
  };
}

const event = (over: Partial<ProxyEvent> = {}): ProxyEvent => ({
  httpMethod: 'GET',
  path: '/Patient/p1',
  multiValueQueryStringParameters: null,
  headers: { Accept: 'application/fhir+json' },
  requestContext: { requestId: 'r-1', domainName: 'abc.execute-api.eu-west-2.amazonaws.com', stage: 'v1', identity: { userArn: ARN } },
  ...over,
});

describe('handleEvent: API Gateway REST proxy events', () => {
  test('the caller is the principal ARN of the request context; the base URL is the stage URL', async () => {
    const { service: s, audited, logs } = service();
    const result = await handleEvent(event({ path: '/Observation', multiValueQueryStringParameters: { patient: ['p1'] } }), s);
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body).link[0].url).toBe(
      'https://abc.execute-api.eu-west-2.amazonaws.com/v1/Observation?patient=p1&_count=100&_offset=0',
    );
    expect(audited[0].actor).toBe(ARN);
    expect(logs[0]).toMatchObject({ requestId: 'r-1', interaction: 'search', status: 200 });
  });

  test('headers are matched case-insensitively (Accept)', async () => {
    const { service: s } = service();
    expect((await handleEvent(event({ headers: { ACCEPT: 'application/fhir+xml' } }), s)).statusCode).toBe(406);
  });

  test('an event without a caller ARN is refused (403) and audited', async () => {
    const { service: s, audited } = service();
    const result = await handleEvent(event({ requestContext: { identity: { userArn: null } } }), s);
    expect(result.statusCode).toBe(403);
    expect(audited[0]).toMatchObject({ actor: 'unauthenticated', outcome: 'refused' });
  });
});

describe('runtimeLoop: the Lambda Runtime API, without a runtime interface client', () => {
  test('takes the next invocation, posts its result to that request id', async () => {
    const api = await fakeRuntimeApi([event()]);
    try {
      await runtimeLoop(service().service, api.address, 1);
      expect(api.posted.map((p) => p.url)).toEqual(['/2018-06-01/runtime/invocation/inv-1/response']);
      expect(JSON.parse(api.posted[0].body)).toMatchObject({ statusCode: 200, headers: { ETag: 'W/"2"' } });
    } finally {
      await api.close();
    }
  });
});
