/**
 * The read API as a Lambda function behind an API Gateway REST API with IAM (SigV4) authorization.
 * The function's image is the processor's own: `node dist/processor/api/lambda.js` runs the Lambda
 * Runtime API loop itself (a custom runtime, so the image needs no runtime interface client):
 * https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
 */
import { loadOrExit } from '../config';
import { runtimeApiOrExit, runtimeLoop as sharedRuntimeLoop } from '../lambda-runtime';
import { handleRequest } from './handler';
import type { ApiResponse } from './respond';
import { ApiService, createApiService, loadApiConfig } from './service';

/** The fields of API Gateway's REST proxy event (payload 1.0) this function reads. */
export interface ProxyEvent {
  readonly httpMethod: string;
  readonly path: string;
  readonly multiValueQueryStringParameters?: Readonly<Record<string, readonly string[]>> | null;
  readonly headers?: Readonly<Record<string, string | undefined>> | null;
  readonly requestContext: {
    readonly requestId?: string;
    readonly domainName?: string;
    readonly stage?: string;
    /** With AWS_IAM authorization, the caller's principal ARN (an assumed-role session for a role). */
    readonly identity?: { readonly userArn?: string | null } | null;
  };
}

export interface ProxyResult {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

const lowerCase = (headers: ProxyEvent['headers']) =>
  Object.fromEntries(Object.entries(headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));

/** Answers one proxy event. A request with no caller ARN never passed IAM authorization: refused with 403 and audited. */
export async function handleEvent(event: ProxyEvent, service: ApiService): Promise<ProxyResult> {
  const started = Date.now();
  const ctx = event.requestContext;
  const actor = ctx.identity?.userArn || undefined;
  const base = `https://${ctx.domainName ?? 'localhost'}/${ctx.stage ?? ''}`.replace(/\/$/, '');
  const request = {
    method: event.httpMethod,
    path: event.path,
    query: event.multiValueQueryStringParameters ?? {},
    headers: lowerCase(event.headers),
  };
  const response: ApiResponse = await handleRequest(request, { actor, base }, service.transaction, (fields) =>
    service.log({ ...fields, requestId: ctx.requestId, ms: Date.now() - started }),
  );
  return { statusCode: response.status, headers: response.headers, body: response.body };
}

/** The Runtime API loop serving the read API; `invocations` bounds it for tests. */
export function runtimeLoop(service: ApiService, runtimeApi: string, invocations = Infinity): Promise<void> {
  return sharedRuntimeLoop<ProxyEvent, ProxyResult>(runtimeApi, (event) => handleEvent(event, service), {
    // Never the error itself: it may carry a path or a parameter (PHI identifiers).
    errorMessage: () => 'the read API failed; see its log',
    invocations,
  });
}

if (require.main === module) {
  const runtimeApi = runtimeApiOrExit(process.env);
  const service = createApiService(loadOrExit(() => loadApiConfig(process.env)));
  void runtimeLoop(service, runtimeApi);
}
