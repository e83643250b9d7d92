import { handleRequest, ReadAuditEvent, ReadTransaction, RequestLog } from '../../../../lib/processor/api/handler';
import type { ReadStore } from '../../../../lib/processor/api/respond';
import type { ApiRequest } from '../../../../lib/processor/api/route';

const ACTOR = 'arn:aws:sts::111122223333:assumed-role/hipaa-fhir-reader-dev/alice';
const PATIENT = '{"resourceType":"Patient","id":"p1","meta":{"versionId":"1"}}';

const store: ReadStore = {
  current: async (type, id) =>
    type === 'Patient' && id === 'p1' ? { type, id, versionId: '1', lastModified: new Date(0), text: PATIENT } : undefined,
  version: async () => undefined,
  history: async () => [],
  compartment: async (patient, type, limit) =>
    patient === 'p1'
      ? [
          { type: 'Patient', id: 'p1', versionId: '1', lastModified: new Date(0), text: PATIENT },
          { type: 'Observation', id: 'o1', versionId: null, lastModified: new Date(0), text: '{"resourceType":"Observation","id":"o1"}' },
        ]
          .filter((r) => !type || r.type === type)
          .slice(0, limit)
      : [],
};

/** A transaction that records committed audit events; `fail` makes the nth transaction throw. */
function recorder(fail: (n: number, stage: 'read' | 'audit') => boolean = () => false) {
  const committed: ReadAuditEvent[] = [];
  let n = 0;
  const transaction: ReadTransaction = async (work) => {
    n++;
    const pending: ReadAuditEvent[] = [];
    const failing: ReadStore = {
      ...store,
      current: (type, id) => (fail(n, 'read') ? Promise.reject(new Error('connection lost')) : store.current(type, id)),
    };
    const result = await work(failing, async (event) => {
      if (fail(n, 'audit')) throw new Error('audit insert failed');
      pending.push(event);
    });
    committed.push(...pending);
    return result;
  };
  return { transaction, committed };
}

const get = (path: string, query: Record<string, string[]> = {}): ApiRequest => ({ method: 'GET', path, query, headers: {} });
const context = { actor: ACTOR, base: 'https://x/prod' };

describe('handleRequest: every request answered and audited once', () => {
  test('a read is served and audited with the caller, the resource key, the outcome and the count', async () => {
    const { transaction, committed } = recorder();
    const logs: RequestLog[] = [];
    const response = await handleRequest(get('/Patient/p1'), context, transaction, (l) => logs.push(l));
    expect([response.status, response.body]).toEqual([200, PATIENT]);
    expect(committed).toEqual([
      {
        actor: ACTOR,
        action: 'api-read',
        outcome: 'read',
        resourceType: 'Patient',
        resourceId: 'p1',
        versionId: undefined,
        detail: '',
        count: 1,
      },
    ]);
    expect(logs).toEqual([{ interaction: 'read', status: 200, count: 1, type: 'Patient', audited: true }]);
  });

  test('a search is audited with the search, not the keys of every match', async () => {
    const { transaction, committed } = recorder();
    await handleRequest(get('/Observation', { patient: ['p1'], _count: ['5'] }), context, transaction);
    expect(committed).toEqual([
      {
        actor: ACTOR,
        action: 'api-search',
        outcome: 'read',
        resourceType: 'Observation',
        resourceId: undefined,
        versionId: undefined,
        detail: 'patient=p1 _count=5 _offset=0',
        count: 1,
      },
    ]);
  });

  test('$everything is audited with the patient as its resource key and the number of resources returned', async () => {
    const { transaction, committed } = recorder();
    await handleRequest(get('/Patient/p1/$everything'), context, transaction);
    expect(committed[0]).toMatchObject({ action: 'api-everything', resourceType: 'Patient', resourceId: 'p1', count: 2 });
  });

  test.each<[string, ApiRequest, number, Partial<ReadAuditEvent>]>([
    ['not found', get('/Patient/nobody'), 404, { action: 'api-read', outcome: 'not-found', resourceId: 'nobody' }],
    ['a bad parameter', get('/Patient/p1/_history', { _count: ['0'] }), 400, { action: 'api-request', outcome: 'refused' }],
    ['a write', { ...get('/Patient/p1'), method: 'DELETE' }, 405, { action: 'api-request', outcome: 'refused' }],
  ])('a refused request (%s) is audited too', async (_what, request, status, event) => {
    const { transaction, committed } = recorder();
    const response = await handleRequest(request, context, transaction);
    expect(response.status).toBe(status);
    expect(JSON.parse(response.body).resourceType).toBe('OperationOutcome');
    expect(committed).toHaveLength(1);
    expect(committed[0]).toMatchObject({ actor: ACTOR, count: 0, ...event });
    expect(committed[0].detail).toMatch(new RegExp(`^status ${status}: `));
  });

  test('a request without an identity is refused with 403 and audited as unauthenticated', async () => {
    const { transaction, committed } = recorder();
    const response = await handleRequest(get('/Patient/p1'), { ...context, actor: undefined }, transaction);
    expect(response.status).toBe(403);
    expect(committed[0]).toMatchObject({ actor: 'unauthenticated', outcome: 'refused' });
  });

  test('a failed read is a 500 without data, audited as an error in a second transaction', async () => {
    const { transaction, committed } = recorder((n, stage) => n === 1 && stage === 'read');
    const logs: RequestLog[] = [];
    const response = await handleRequest(get('/Patient/p1'), context, transaction, (l) => logs.push(l));
    expect(response.status).toBe(500);
    expect(response.body).not.toContain('p1');
    expect(committed).toEqual([expect.objectContaining({ action: 'api-read', outcome: 'error', count: 0 })]);
    expect(logs).toEqual([{ interaction: 'read', status: 500, count: 0, type: 'Patient', audited: true, errorName: 'Error' }]);
  });

  test('a read whose audit cannot be written is not served, and the log says it went unaudited', async () => {
    const { transaction, committed } = recorder((_n, stage) => stage === 'audit');
    const logs: RequestLog[] = [];
    const response = await handleRequest(get('/Patient/p1'), context, transaction, (l) => logs.push(l));
    expect(response.status).toBe(500);
    expect(response.body).not.toContain(PATIENT);
    expect(committed).toEqual([]);
    expect(logs[0]).toMatchObject({ status: 500, audited: false });
  });

  test('log lines carry no id, path or parameter', async () => {
    const { transaction } = recorder();
    const logs: RequestLog[] = [];
    await handleRequest(get('/Observation', { patient: ['secret-patient-id'] }), context, transaction, (l) => logs.push(l));
    await handleRequest(get('/Patient/secret-patient-id'), context, transaction, (l) => logs.push(l));
    expect(JSON.stringify(logs)).not.toContain('secret-patient-id');
  });
});
