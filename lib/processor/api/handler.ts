/**
 * One read API request, start to end, independent of how it arrived (API Gateway, the local HTTP
 * server): parse, read, audit, answer. Every request is audited, refused ones too, and the answer
 * is sent only after its audit event has committed: a read that cannot be audited is not served.
 */
import { ApiError, ApiRequest, parseRequest, ReadRoute } from './route';
import { answer, ApiResponse, operationOutcome, ReadStore } from './respond';

/** One row of audit_event for one request (written by audit.ts). */
export interface ReadAuditEvent {
  /** The caller's IAM principal ARN (API Gateway's requestContext), or the local identity. */
  readonly actor: string;
  /** `api-read`, `api-vread`, `api-history`, `api-search`, `api-everything`, or `api-request` when unparsable. */
  readonly action: string;
  /** `read` (2xx), `not-found` (404), `refused` (other 4xx), `error` (5xx). */
  readonly outcome: 'read' | 'not-found' | 'refused' | 'error';
  readonly resourceType?: string;
  readonly resourceId?: string;
  readonly versionId?: string;
  /** The search or page asked for, and for a refusal its status and reason. */
  readonly detail: string;
  /** Resources returned. */
  readonly count: number;
}

/** Runs `work` in one transaction with the store and the audit writer; commits when it resolves. */
export type ReadTransaction = <T>(work: (store: ReadStore, audit: (event: ReadAuditEvent) => Promise<void>) => Promise<T>) => Promise<T>;

export interface RequestContext {
  /** The caller's identity; undefined when the request carries none (refused with 403, audited as `unauthenticated`). */
  readonly actor: string | undefined;
  /** The API's base URL, for fullUrl and links (`https://abc.execute-api.eu-west-2.amazonaws.com/prod`). */
  readonly base: string;
}

/** A log line's fields: the interaction and the outcome, never an id, a path or a parameter (no PHI). */
export interface RequestLog {
  readonly interaction: string;
  readonly status: number;
  readonly count: number;
  readonly type?: string;
  readonly audited: boolean;
  readonly errorName?: string;
}

function outcomeOf(status: number): ReadAuditEvent['outcome'] {
  if (status < 400) return 'read';
  if (status === 404) return 'not-found';
  return status >= 500 ? 'error' : 'refused';
}

const MAX_DETAIL = 500;

export function auditEvent(actor: string, route: ReadRoute | undefined, status: number, count: number, reason?: string): ReadAuditEvent {
  const parts: string[] = [];
  if (route && 'page' in route) {
    if (route.kind === 'search') parts.push(`patient=${route.patient}`);
    parts.push(`_count=${route.page.count}`, `_offset=${route.page.offset}`);
  }
  if (status >= 400) parts.push(`status ${status}${reason ? `: ${reason}` : ''}`);
  return {
    actor,
    action: route ? `api-${route.kind}` : 'api-request',
    outcome: outcomeOf(status),
    resourceType: route?.type,
    resourceId: route && route.kind !== 'search' ? route.id : undefined,
    versionId: route?.kind === 'vread' ? route.vid : undefined,
    detail: parts.join(' ').slice(0, MAX_DETAIL),
    count,
  };
}

const SERVER_ERROR = new ApiError(500, 'exception', 'the request could not be completed; it was not served and may be retried');

/**
 * Answers a request. Database failures become a 500 whose audit event is written in a second
 * transaction (best effort: when that fails too, `log` says the request went unaudited; it was not
 * served either way).
 */
export async function handleRequest(
  request: ApiRequest,
  context: RequestContext,
  transaction: ReadTransaction,
  log: (fields: RequestLog) => void = () => undefined,
): Promise<ApiResponse> {
  let route: ReadRoute | undefined;
  let refusal: ApiError | undefined;
  const actor = context.actor ?? 'unauthenticated';
  try {
    // Behind IAM authorization every request has a caller; one without never passed it.
    if (context.actor === undefined) throw new ApiError(403, 'forbidden', 'the request carries no IAM identity: sign it with SigV4');
    route = parseRequest(request);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    refusal = error;
  }
  const interaction = route?.kind ?? 'unparsed';
  try {
    const { response, count } = await transaction(async (store, audit) => {
      let result: { response: ApiResponse; count: number };
      let reason: string | undefined;
      if (refusal || !route) {
        result = { response: operationOutcome(refusal!), count: 0 };
        reason = refusal?.message;
      } else {
        try {
          result = await answer(route, store, context.base);
        } catch (error) {
          if (!(error instanceof ApiError)) throw error;
          result = { response: operationOutcome(error), count: 0 };
          reason = error.message;
        }
      }
      await audit(auditEvent(actor, route, result.response.status, result.count, reason));
      return result;
    });
    log({ interaction, status: response.status, count, type: route?.type, audited: true });
    return response;
  } catch (error) {
    let audited = false;
    try {
      await transaction((_store, audit) => audit(auditEvent(actor, route, 500, 0, 'not served: the read or its audit failed')));
      audited = true;
    } catch {
      // Logged below as unaudited; the caller gets the 500 either way.
    }
    log({ interaction, status: 500, count: 0, type: route?.type, audited, errorName: (error as Error)?.name });
    return operationOutcome(SERVER_ERROR);
  }
}
