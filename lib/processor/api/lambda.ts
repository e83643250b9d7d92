/**
 * The read API as a Lambda function behind an API Gateway REST API with IAM (SigV4) authorization.
 * The function's image is the processor's own: `node dist/processor/api/lambda.js` runs the Lambda
 * Runtime API loop itself (a custom runtime, so the image needs no runtime interface client):
 * https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
 */
import { loadOrExit } from '../config';
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

/** The Runtime API loop: next invocation, answer it, forever (Lambda freezes and ends the process); `invocations` bounds it for tests. */
export async function runtimeLoop(service: ApiService, runtimeApi: string, invocations = Infinity): Promise<void> {
  const base = `http://${runtimeApi}/2018-06-01/runtime`;
  for (let n = 0; n < invocations; n++) {
    const next = await fetch(`${base}/invocation/next`);
    const id = next.headers.get('lambda-runtime-aws-request-id');
    const event = (await next.json()) as ProxyEvent;
    try {
      const result = await handleEvent(event, service);
      await fetch(`${base}/invocation/${id}/response`, { method: 'POST', body: JSON.stringify(result) });
    } catch (error) {
      const e = error as Error;
      await fetch(`${base}/invocation/${id}/error`, {
        method: 'POST',
        body: JSON.stringify({ errorType: e?.name ?? 'Error', errorMessage: 'the read API failed; see its log' }),
      });
    }
  }
}

if (require.main === module) {
  const runtimeApi = process.env.AWS_LAMBDA_RUNTIME_API;
  if (!runtimeApi) {
    process.stderr.write('configuration error: AWS_LAMBDA_RUNTIME_API is unset: this entry point runs only as a Lambda function\n');
    process.exit(2);
  }
  const service = createApiService(loadOrExit(() => loadApiConfig(process.env)));
  void runtimeLoop(service, runtimeApi);
}
