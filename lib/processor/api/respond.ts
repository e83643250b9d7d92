/**
 * The read API's answers, built as text without I/O: each stored resource's own JSON text is
 * spliced in unchanged (never parsed and re-serialised, which would round numbers beyond double
 * precision and drop a decimal's written scale), inside Bundles (searchset, history) or alone, with
 * ETag and Last-Modified as FHIR R4 §3.1.0.1.5 and §3.1.0.3 describe them.
 */
import { ApiError, Page, ReadRoute } from './route';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/** One stored version of a resource, as the store returns it. */
export interface StoredResource {
  readonly type: string;
  readonly id: string;
  /** meta.versionId as sent; null when the resource carried none. */
  readonly versionId: string | null;
  /** meta.lastUpdated as sent, else when it was stored. */
  readonly lastModified: Date;
  /** The stored JSON text, passed through unchanged. */
  readonly text: string;
}

/** What the handler reads; the pg implementation is store.ts. */
export interface ReadStore {
  current(type: string, id: string): Promise<StoredResource | undefined>;
  /** The stored version with this versionId (the newest, should one id have been sent with two contents). */
  version(type: string, id: string, vid: string): Promise<StoredResource | undefined>;
  /** Up to `limit` versions, newest first, after skipping `offset`. */
  history(type: string, id: string, limit: number, offset: number): Promise<readonly StoredResource[]>;
  /**
   * Current resources in a patient's compartment (the Patient first, then by type and id), of one
   * type when `type` is given, up to `limit` after skipping `offset`.
   */
  compartment(patient: string, type: string | undefined, limit: number, offset: number): Promise<readonly StoredResource[]>;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** What the audit event of a request records besides its caller. */
export interface ReadSummary {
  readonly route?: ReadRoute;
  readonly status: number;
  /** Resources returned. */
  readonly count: number;
}

/** A weak ETag on the version id, as FHIR servers send it (W/"3"). */
export const etag = (versionId: string) => `W/"${versionId.replace(/["\\]/g, '')}"`;

function versionHeaders(r: StoredResource): Record<string, string> {
  return {
    ...(r.versionId !== null ? { ETag: etag(r.versionId) } : {}),
    'Last-Modified': r.lastModified.toUTCString(),
  };
}

export function operationOutcome(error: ApiError): ApiResponse {
  const body = JSON.stringify({
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: error.code, diagnostics: error.message }],
  });
  return { status: error.status, headers: { 'Content-Type': FHIR_JSON, ...error.headers }, body };
}

const fullUrl = (base: string, r: { type: string; id: string }) => `${base}/${r.type}/${r.id}`;

/** The URL of this page or another one (`_offset`), keeping the query's other parameters in a fixed order. */
function pageUrl(base: string, route: ReadRoute & { page: Page }, offset: number): string {
  const path =
    route.kind === 'search'
      ? `${route.type}?patient=${encodeURIComponent(route.patient)}&`
      : route.kind === 'everything'
        ? `Patient/${route.id}/$everything?`
        : `${route.type}/${route.id}/_history?`;
  return `${base}/${path}_count=${route.page.count}&_offset=${offset}`;
}

/**
 * A Bundle of one page: `rows` holds up to count + 1 rows (the store is asked for one more, which
 * says whether a next page exists and is not returned).
 */
function bundle(base: string, route: ReadRoute & { page: Page }, rows: readonly StoredResource[]): { body: string; count: number } {
  const { count, offset } = route.page;
  const shown = rows.slice(0, count);
  const links = [`{"relation":"self","url":${JSON.stringify(pageUrl(base, route, offset))}}`];
  if (offset > 0) links.push(`{"relation":"previous","url":${JSON.stringify(pageUrl(base, route, Math.max(0, offset - count)))}}`);
  if (rows.length > count) links.push(`{"relation":"next","url":${JSON.stringify(pageUrl(base, route, offset + count))}}`);
  const history = route.kind === 'history';
  const entries = shown.map((r, i) => {
    const url = JSON.stringify(fullUrl(base, r));
    if (!history) return `{"fullUrl":${url},"resource":${r.text},"search":{"mode":"match"}}`;
    // History entries need request and response (R4 Bundle invariant bdl-...): the oldest version
    // was a create, every later one an update, as HAPI writes them.
    const oldest = i === shown.length - 1 && rows.length <= count;
    const response = {
      status: oldest ? '201 Created' : '200 OK',
      ...(r.versionId !== null ? { etag: etag(r.versionId) } : {}),
      lastModified: r.lastModified.toISOString(),
    };
    const request = { method: oldest ? 'POST' : 'PUT', url: oldest ? r.type : `${r.type}/${r.id}` };
    return `{"fullUrl":${url},"resource":${r.text},"request":${JSON.stringify(request)},"response":${JSON.stringify(response)}}`;
  });
  const type = history ? 'history' : 'searchset';
  return {
    body: `{"resourceType":"Bundle","type":"${type}","timestamp":${JSON.stringify(new Date().toISOString())},"link":[${links.join(',')}],"entry":[${entries.join(',')}]}`,
    count: shown.length,
  };
}

const notFound = (what: string) => new ApiError(404, 'not-found', `${what} is not stored here`);

/** Answers one parsed request from the store. Throws ApiError for what is not there. */
export async function answer(route: ReadRoute, store: ReadStore, base: string): Promise<{ response: ApiResponse; count: number }> {
  const ok = (body: string, headers: Record<string, string> = {}): ApiResponse => ({
    status: 200,
    headers: { 'Content-Type': FHIR_JSON, ...headers },
    body,
  });
  switch (route.kind) {
    case 'read': {
      const r = await store.current(route.type, route.id);
      if (!r) throw notFound(`${route.type}/${route.id}`);
      return { response: ok(r.text, versionHeaders(r)), count: 1 };
    }
    case 'vread': {
      const r = await store.version(route.type, route.id, route.vid);
      if (!r) throw notFound(`version ${route.vid} of ${route.type}/${route.id}`);
      return { response: ok(r.text, versionHeaders(r)), count: 1 };
    }
    case 'history': {
      const rows = await store.history(route.type, route.id, route.page.count + 1, route.page.offset);
      // An empty first page means no such resource; an empty later page is just past the end.
      if (rows.length === 0 && route.page.offset === 0) throw notFound(`${route.type}/${route.id}`);
      const b = bundle(base, route, rows);
      return { response: ok(b.body), count: b.count };
    }
    case 'everything':
    case 'search': {
      const patient = route.kind === 'search' ? route.patient : route.id;
      const type = route.kind === 'search' ? route.type : undefined;
      const rows = await store.compartment(patient, type, route.page.count + 1, route.page.offset);
      // $everything of a patient with nothing stored is 404 (HAPI); a search with no match is an empty Bundle.
      if (route.kind === 'everything' && rows.length === 0 && route.page.offset === 0) throw notFound(`Patient/${route.id}`);
      const b = bundle(base, route, rows);
      return { response: ok(b.body), count: b.count };
    }
  }
}
