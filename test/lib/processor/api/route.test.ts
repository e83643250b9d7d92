import { ApiError, ApiRequest, MAX_PAGE_SIZE, parseRequest } from '../../../../lib/processor/api/route';

const get = (path: string, query: Record<string, string[]> = {}, headers: Record<string, string> = {}): ApiRequest => ({
  method: 'GET',
  path,
  query,
  headers,
});

function refusal(request: ApiRequest): ApiError {
  try {
    parseRequest(request);
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('not refused');
}

describe('parseRequest: the FHIR read interactions', () => {
  test.each([
    ['/Patient/p-1', {}, { kind: 'read', type: 'Patient', id: 'p-1' }],
    ['/Observation/o.1/', {}, { kind: 'read', type: 'Observation', id: 'o.1' }],
    ['/Observation/o1/_history/3', {}, { kind: 'vread', type: 'Observation', id: 'o1', vid: '3' }],
    ['/Observation/o1/_history', {}, { kind: 'history', type: 'Observation', id: 'o1', page: { count: 100, offset: 0 } }],
    [
      '/Observation/o1/_history',
      { _count: ['5'], _offset: ['10'] },
      { kind: 'history', type: 'Observation', id: 'o1', page: { count: 5, offset: 10 } },
    ],
    ['/Patient/p1/$everything', { _count: ['1000'] }, { kind: 'everything', type: 'Patient', id: 'p1', page: { count: 1000, offset: 0 } }],
    ['/Patient/p1/%24everything', {}, { kind: 'everything', type: 'Patient', id: 'p1', page: { count: 100, offset: 0 } }],
    ['/Observation', { patient: ['p1'] }, { kind: 'search', type: 'Observation', patient: 'p1', page: { count: 100, offset: 0 } }],
    [
      '/Condition',
      { patient: ['Patient/p1'], _count: ['2'] },
      { kind: 'search', type: 'Condition', patient: 'p1', page: { count: 2, offset: 0 } },
    ],
    ['/Patient/p1', { _format: ['json'] }, { kind: 'read', type: 'Patient', id: 'p1' }],
  ])('%s %j', (path, query, route) => {
    expect(parseRequest(get(path, query))).toEqual(route);
  });

  test.each([
    ['POST', 405],
    ['PUT', 405],
    ['DELETE', 405],
    ['PATCH', 405],
    ['HEAD', 405],
  ])('%s is refused with %i and Allow: GET', (method, status) => {
    const e = refusal({ ...get('/Patient/p1'), method });
    expect([e.status, e.code, e.headers]).toEqual([status, 'not-supported', { Allow: 'GET' }]);
  });

  test.each<[string, string, Record<string, string[]>, number, string]>([
    ['an unknown type', '/Foo/1', {}, 404, 'resource type "Foo" is not served here'],
    ['a type outside the Patient compartment', '/Organization/1', {}, 404, 'is not served here'],
    ['the root', '/', {}, 404, 'no such interaction'],
    ['a path too deep', '/Patient/1/_history/2/x', {}, 404, 'no such interaction'],
    ['an unknown operation', '/Patient/1/$validate', {}, 404, 'no such interaction "$validate"'],
    ['$everything on another type', '/Observation/1/$everything', {}, 404, '$everything is served on Patient only'],
    ['a bad id', '/Patient/a_b', {}, 400, 'id "a_b" is not a FHIR id'],
    ['an id over 64 characters', `/Patient/${'a'.repeat(65)}`, {}, 400, 'is not a FHIR id'],
    ['a bad version id', '/Patient/a/_history/v!', {}, 400, 'version id "v!" is not a FHIR id'],
    ['bad percent-encoding', '/Patient/%E0%A4%A', {}, 400, 'not valid percent-encoding'],
    ['a search without patient', '/Observation', {}, 400, 'searching Observation needs patient=[id]'],
    ['a search of Patient', '/Patient', { patient: ['p1'] }, 400, 'Patient is not searched here'],
    ['a bad patient', '/Observation', { patient: ['Patient/'] }, 400, 'patient "" is not a FHIR id'],
    ['a repeated patient', '/Observation', { patient: ['a', 'b'] }, 400, 'patient is given 2 times'],
    ['an unknown search parameter', '/Observation', { patient: ['a'], code: ['x'] }, 400, 'parameter "code" is not supported here'],
    ['a parameter on read', '/Patient/a', { _count: ['1'] }, 400, 'this interaction takes none'],
    ['_count 0', '/Patient/a/_history', { _count: ['0'] }, 400, `_count="0" is invalid: use a whole number from 1 to ${MAX_PAGE_SIZE}`],
    ['_count over the maximum', '/Patient/a/_history', { _count: ['1001'] }, 400, '_count="1001" is invalid'],
    ['_count not a number', '/Patient/a/$everything', { _count: ['1e3'] }, 400, '_count="1e3" is invalid'],
    ['a negative _offset', '/Observation', { patient: ['a'], _offset: ['-1'] }, 400, '_offset="-1" is invalid'],
    ['XML asked for', '/Patient/a', { _format: ['xml'] }, 406, '_format="xml" is not served'],
  ])('%s is refused', (_what, path, query, status, message) => {
    const e = refusal(get(path, query));
    expect(e.status).toBe(status);
    expect(e.message).toContain(message);
  });

  test('an Accept header without JSON is refused with 406; JSON or a wildcard is served', () => {
    expect(refusal(get('/Patient/a', {}, { accept: 'application/fhir+xml' })).status).toBe(406);
    for (const accept of ['application/fhir+json', 'application/json;q=0.9', 'text/html, */*;q=0.1', ''])
      expect(parseRequest(get('/Patient/a', {}, { accept })).kind).toBe('read');
  });

  test('a long offending value is quoted shortened', () => {
    expect(refusal(get(`/${'X'.repeat(200)}/1`)).message).toContain(`"${'X'.repeat(80)}..."`);
  });
});
