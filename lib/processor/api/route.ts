/**
 * The read API's requests, parsed without I/O: which FHIR interaction a method, path and query ask
 * for, or the error that refuses them (FHIR R4 RESTful API, https://hl7.org/fhir/R4/http.html).
 *
 * Interactions: read `GET [type]/[id]`, vread `GET [type]/[id]/_history/[vid]`, instance history
 * `GET [type]/[id]/_history`, `GET Patient/[id]/$everything` and search `GET [type]?patient=[id]`,
 * the last three paged with `_count` and `_offset` (the form Medplum's next links use).
 */
import { SUPPORTED_RESOURCE_TYPES } from '../fhir/definitions';

/** Page size when `_count` is absent (HealthLake's and Google's default for searches). */
export const DEFAULT_PAGE_SIZE = 100;
/** The largest `_count` served; more is refused, as the Google Healthcare API does above its own maximum. */
export const MAX_PAGE_SIZE = 1000;
/** Deeper paging than this is refused (offset paging reads and skips every earlier row). */
export const MAX_OFFSET = 100_000;

/** R4 id and versionId: 1-64 of A-Z a-z 0-9 - . (https://hl7.org/fhir/R4/datatypes.html#id). */
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

export interface Page {
  readonly count: number;
  readonly offset: number;
}

export type ReadRoute =
  | { readonly kind: 'read'; readonly type: string; readonly id: string }
  | { readonly kind: 'vread'; readonly type: string; readonly id: string; readonly vid: string }
  | { readonly kind: 'history'; readonly type: string; readonly id: string; readonly page: Page }
  | { readonly kind: 'everything'; readonly type: 'Patient'; readonly id: string; readonly page: Page }
  | { readonly kind: 'search'; readonly type: string; readonly patient: string; readonly page: Page };

export type Interaction = ReadRoute['kind'];

/** FHIR issue types (https://hl7.org/fhir/R4/valueset-issue-type.html) used by the refusals below. */
export type IssueCode = 'invalid' | 'not-found' | 'not-supported' | 'processing' | 'exception' | 'forbidden';

/** A request refused before (or instead of) reading: its HTTP status and OperationOutcome. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: IssueCode,
    /** The OperationOutcome's diagnostics: names what is wrong and how to fix it, never a stored value. */
    message: string,
    /** Extra response headers (Allow on 405). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export interface ApiRequest {
  readonly method: string;
  /** The path below the API's base, starting with `/` (`/Patient/123/_history`). */
  readonly path: string;
  /** Query parameters as received; a repeated parameter has several values. */
  readonly query: Readonly<Record<string, readonly string[]>>;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
}

const quote = (s: string) => JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}...` : s);

function resourceType(type: string): string {
  if (!SUPPORTED_RESOURCE_TYPES.has(type)) {
    // HAPI answers an unknown type with 404 too: there is no such resource (collection) on this server.
    throw new ApiError(
      404,
      'not-supported',
      `resource type ${quote(type)} is not served here: use Patient or a type of the R4 Patient compartment`,
    );
  }
  return type;
}

function fhirId(value: string, what: string): string {
  if (!FHIR_ID.test(value)) throw new ApiError(400, 'invalid', `${what} ${quote(value)} is not a FHIR id: use 1-64 of A-Z a-z 0-9 - .`);
  return value;
}

function single(query: ApiRequest['query'], name: string): string | undefined {
  const values = query[name];
  if (values === undefined) return undefined;
  if (values.length !== 1) throw new ApiError(400, 'invalid', `${name} is given ${values.length} times: give it once`);
  return values[0];
}

function bounded(query: ApiRequest['query'], name: string, fallback: number, min: number, max: number): number {
  const raw = single(query, name);
  if (raw === undefined) return fallback;
  if (!/^\d{1,7}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ApiError(400, 'invalid', `${name}=${quote(raw)} is invalid: use a whole number from ${min} to ${max}`);
  }
  return Number(raw);
}

/** `_format` may only ask for JSON: this server writes nothing else. */
const JSON_FORMATS = new Set(['json', 'application/json', 'application/fhir+json']);

function checkParameters(query: ApiRequest['query'], allowed: readonly string[]): void {
  for (const name of Object.keys(query)) {
    if (name === '_format') {
      const format = single(query, name)!;
      if (!JSON_FORMATS.has(format))
        throw new ApiError(406, 'not-supported', `_format=${quote(format)} is not served: only application/fhir+json`);
      continue;
    }
    if (!allowed.includes(name)) {
      // HAPI's default (strict) handling: an unknown parameter is an error, not silently ignored.
      const known = allowed.length ? `use ${allowed.join(', ')}` : 'this interaction takes none';
      throw new ApiError(400, 'not-supported', `parameter ${quote(name)} is not supported here: ${known}`);
    }
  }
}

function page(query: ApiRequest['query']): Page {
  return {
    count: bounded(query, '_count', DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE),
    offset: bounded(query, '_offset', 0, 0, MAX_OFFSET),
  };
}

/** An Accept header that names no JSON form and no wildcard cannot be answered (406). */
function checkAccept(accept: string | undefined): void {
  if (accept === undefined || accept.trim() === '') return;
  const types = accept.split(',').map((part) => part.split(';')[0].trim().toLowerCase());
  if (types.some((t) => t === '*/*' || t === 'application/*' || t === 'application/json' || t === 'application/fhir+json')) return;
  throw new ApiError(406, 'not-supported', 'the Accept header names no JSON type: this server answers application/fhir+json only');
}

/** `patient=123` or `patient=Patient/123` (a reference to a Patient, as FHIR search writes it). */
function patientParameter(raw: string): string {
  const id = raw.startsWith('Patient/') ? raw.slice('Patient/'.length) : raw;
  return fhirId(id, 'patient');
}

/** The interaction a request asks for, or an ApiError that says why it is refused. */
export function parseRequest(request: ApiRequest): ReadRoute {
  if (request.method !== 'GET') {
    throw new ApiError(405, 'not-supported', `${quote(request.method)} is not allowed: this API only reads (GET)`, { Allow: 'GET' });
  }
  checkAccept(request.headers.accept);
  const segments = request.path.split('/').slice(1);
  if (segments.length > 0 && segments[segments.length - 1] === '') segments.pop();
  const query = request.query;
  const [type, id, third, vid, ...rest] = segments.map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new ApiError(400, 'invalid', 'the path is not valid percent-encoding');
    }
  });
  if (rest.length > 0 || segments.length === 0 || type === undefined || type === '') {
    throw new ApiError(
      404,
      'not-found',
      'no such interaction: use [type]/[id], [type]/[id]/_history[/vid], Patient/[id]/$everything or [type]?patient=',
    );
  }
  resourceType(type);
  if (id === undefined) {
    checkParameters(query, ['patient', '_count', '_offset']);
    const patient = single(query, 'patient');
    if (type === 'Patient') {
      // R4 defines no `patient` parameter on Patient: a patient is read by id, or whole with $everything.
      throw new ApiError(400, 'not-supported', 'Patient is not searched here: read Patient/[id] or Patient/[id]/$everything');
    }
    if (patient === undefined) {
      throw new ApiError(400, 'invalid', `searching ${type} needs patient=[id]: a search over every patient is not offered`);
    }
    return { kind: 'search', type, patient: patientParameter(patient), page: page(query) };
  }
  fhirId(id, 'id');
  if (third === undefined) {
    checkParameters(query, []);
    return { kind: 'read', type, id };
  }
  if (third === '$everything' && vid === undefined) {
    if (type !== 'Patient') throw new ApiError(404, 'not-supported', `$everything is served on Patient only, not on ${type}`);
    checkParameters(query, ['_count', '_offset']);
    return { kind: 'everything', type, id, page: page(query) };
  }
  if (third !== '_history') {
    throw new ApiError(404, 'not-found', `no such interaction ${quote(third)}: use _history or (on Patient) $everything`);
  }
  if (vid === undefined) {
    checkParameters(query, ['_count', '_offset']);
    return { kind: 'history', type, id, page: page(query) };
  }
  checkParameters(query, []);
  return { kind: 'vread', type, id, vid: fhirId(vid, 'version id') };
}
