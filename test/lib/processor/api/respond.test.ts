import { answer, etag, operationOutcome, ReadStore, StoredResource } from '../../../../lib/processor/api/respond';
import { ApiError, parseRequest } from '../../../../lib/processor/api/route';

const BASE = 'https://api.example/prod';
// Numbers a JSON.parse round trip would change: the scale of 1.50 and digits beyond double precision.
const EXACT = '{"resourceType": "Observation", "id": "o1", "valueQuantity": {"value": 1.50, "big": 12345678901234567890.123456789}}';

function resource(type: string, id: string, versionId: string | null, text = `{"resourceType":"${type}","id":"${id}"}`): StoredResource {
  return { type, id, versionId, lastModified: new Date('2026-01-02T03:04:05.000Z'), text };
}

/** A store over fixed rows: current by key, history newest first, a compartment for patient p1. */
function store(rows: { current?: StoredResource[]; history?: StoredResource[]; compartment?: StoredResource[] }): ReadStore {
  return {
    current: async (type, id) => rows.current?.find((r) => r.type === type && r.id === id),
    version: async (type, id, vid) => rows.history?.find((r) => r.type === type && r.id === id && r.versionId === vid),
    history: async (type, id, limit, offset) =>
      (rows.history ?? []).filter((r) => r.type === type && r.id === id).slice(offset, offset + limit),
    compartment: async (patient, type, limit, offset) =>
      (patient === 'p1' ? (rows.compartment ?? []) : []).filter((r) => !type || r.type === type).slice(offset, offset + limit),
  };
}

const ask = (path: string, query: Record<string, string[]> = {}) => parseRequest({ method: 'GET', path, query, headers: {} });

describe('answer: FHIR responses from stored text', () => {
  test('read returns the stored text byte for byte, with ETag, Last-Modified and the FHIR content type', async () => {
    const s = store({ current: [resource('Observation', 'o1', '7', EXACT)] });
    const { response, count } = await answer(ask('/Observation/o1'), s, BASE);
    expect(response).toEqual({
      status: 200,
      headers: { 'Content-Type': 'application/fhir+json; charset=utf-8', ETag: 'W/"7"', 'Last-Modified': 'Fri, 02 Jan 2026 03:04:05 GMT' },
      body: EXACT,
    });
    expect(count).toBe(1);
  });

  test('a resource without versionId has no ETag', async () => {
    const { response } = await answer(ask('/Patient/p1'), store({ current: [resource('Patient', 'p1', null)] }), BASE);
    expect(response.headers.ETag).toBeUndefined();
    expect(response.headers['Last-Modified']).toBeDefined();
  });

  test('read, vread, history and $everything of nothing are 404 with the FHIR issue code', async () => {
    const empty = store({});
    for (const path of ['/Patient/x', '/Patient/x/_history/1', '/Patient/x/_history', '/Patient/x/$everything']) {
      await expect(answer(ask(path), empty, BASE)).rejects.toMatchObject({ status: 404, code: 'not-found' });
    }
  });

  test('a search with no match is an empty searchset, not 404', async () => {
    const { response, count } = await answer(ask('/Observation', { patient: ['nobody'] }), store({}), BASE);
    expect(JSON.parse(response.body)).toMatchObject({ resourceType: 'Bundle', type: 'searchset', entry: [] });
    expect(count).toBe(0);
  });

  test('vread returns that version', async () => {
    const s = store({ history: [resource('Patient', 'p1', '2', '{"v":2}'), resource('Patient', 'p1', '1', '{"v":1}')] });
    const { response } = await answer(ask('/Patient/p1/_history/1'), s, BASE);
    expect([response.body, response.headers.ETag]).toEqual(['{"v":1}', 'W/"1"']);
  });

  test('history is a history Bundle, newest first, the oldest a create, each with its request and response', async () => {
    const s = store({ history: [resource('Patient', 'p1', '2', EXACT), resource('Patient', 'p1', '1')] });
    const { response, count } = await answer(ask('/Patient/p1/_history'), s, BASE);
    expect(count).toBe(2);
    expect(response.body).toContain(`"resource":${EXACT}`);
    const bundle = JSON.parse(response.body);
    expect(bundle.type).toBe('history');
    expect(
      bundle.entry.map((e: { request: unknown; response: { status: string; etag: string } }) => [
        e.request,
        e.response.status,
        e.response.etag,
      ]),
    ).toEqual([
      [{ method: 'PUT', url: 'Patient/p1' }, '200 OK', 'W/"2"'],
      [{ method: 'POST', url: 'Patient' }, '201 Created', 'W/"1"'],
    ]);
    expect(bundle.link).toEqual([{ relation: 'self', url: `${BASE}/Patient/p1/_history?_count=100&_offset=0` }]);
  });

  test('$everything pages with _count: next links until the last page, which has none, and every resource once', async () => {
    const all = [resource('Patient', 'p1', '1'), ...Array.from({ length: 6 }, (_, i) => resource('Observation', `o${i}`, '1'))];
    const s = store({ compartment: all });
    const seen: string[] = [];
    let query: Record<string, string[]> = { _count: ['4'] };
    for (let pageNo = 0; pageNo < 5; pageNo++) {
      const { response, count } = await answer(ask('/Patient/p1/$everything', query), s, BASE);
      const bundle = JSON.parse(response.body);
      expect(bundle.type).toBe('searchset');
      expect(count).toBe(bundle.entry.length);
      seen.push(...bundle.entry.map((e: { fullUrl: string; search: { mode: string } }) => `${e.fullUrl} ${e.search.mode}`));
      const next = bundle.link.find((l: { relation: string }) => l.relation === 'next');
      if (!next) break;
      const url = new URL(next.url);
      expect(`${url.origin}${url.pathname}`).toBe(`${BASE}/Patient/p1/$everything`);
      query = Object.fromEntries([...url.searchParams].map(([k, v]) => [k, [v]]));
    }
    expect(seen).toEqual(all.map((r) => `${BASE}/${r.type}/${r.id} match`));
  });

  test('a page past the end of a search is empty with a previous link', async () => {
    const s = store({ compartment: [resource('Observation', 'o1', '1')] });
    const { response } = await answer(ask('/Observation', { patient: ['p1'], _count: ['10'], _offset: ['20'] }), s, BASE);
    const bundle = JSON.parse(response.body);
    expect(bundle.entry).toEqual([]);
    expect(bundle.link).toEqual([
      { relation: 'self', url: `${BASE}/Observation?patient=p1&_count=10&_offset=20` },
      { relation: 'previous', url: `${BASE}/Observation?patient=p1&_count=10&_offset=10` },
    ]);
  });

  test('the search filters by type', async () => {
    const s = store({
      compartment: [resource('Patient', 'p1', '1'), resource('Condition', 'c1', '1'), resource('Observation', 'o1', '1')],
    });
    const { response } = await answer(ask('/Condition', { patient: ['p1'] }), s, BASE);
    expect(JSON.parse(response.body).entry.map((e: { fullUrl: string }) => e.fullUrl)).toEqual([`${BASE}/Condition/c1`]);
  });

  test('an OperationOutcome carries the status, issue code, diagnostics and extra headers', () => {
    const r = operationOutcome(new ApiError(405, 'not-supported', 'only GET', { Allow: 'GET' }));
    expect(r).toEqual({
      status: 405,
      headers: { 'Content-Type': 'application/fhir+json; charset=utf-8', Allow: 'GET' },
      body: '{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-supported","diagnostics":"only GET"}]}',
    });
  });

  test('an ETag cannot be broken by a quote in a version id', () => {
    expect(etag('a"b\\c')).toBe('W/"abc"');
  });
});
