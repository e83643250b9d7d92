/**
 * The Lambda Runtime API loop of the functions that run the processor's image (the read API, the secret
 * rotation): a custom runtime, so the image needs no runtime interface client.
 * https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
 */

export interface RuntimeLoopOptions {
  /**
   * The errorMessage Lambda records for a failed invocation; the error itself is for the function's own log.
   * It must carry no PHI and no secret: the caller may show it (Secrets Manager keeps a rotation's last error).
   */
  readonly errorMessage: (error: Error) => string;
  /** Invocations to serve before returning (tests). @default Infinity: Lambda freezes and ends the process */
  readonly invocations?: number;
}

/** Next invocation, answer it (or post its error), forever. */
export async function runtimeLoop<E, R>(runtimeApi: string, handle: (event: E) => Promise<R>, options: RuntimeLoopOptions): Promise<void> {
  const base = `http://${runtimeApi}/2018-06-01/runtime`;
  const invocations = options.invocations ?? Infinity;
  for (let n = 0; n < invocations; n++) {
    const next = await fetch(`${base}/invocation/next`);
    const id = next.headers.get('lambda-runtime-aws-request-id');
    const event = (await next.json()) as E;
    try {
      const result = await handle(event);
      await fetch(`${base}/invocation/${id}/response`, { method: 'POST', body: JSON.stringify(result ?? null) });
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      await fetch(`${base}/invocation/${id}/error`, {
        method: 'POST',
        body: JSON.stringify({ errorType: e.name || 'Error', errorMessage: options.errorMessage(e) }),
      });
    }
  }
}

/** AWS_LAMBDA_RUNTIME_API, or the end of the process with one line (exit 2) when the entry point is run outside Lambda. */
export function runtimeApiOrExit(
  env: Readonly<Record<string, string | undefined>>,
  exit: (code: number) => never = (code) => process.exit(code),
  writeLine: (line: string) => void = (line) => {
    process.stderr.write(`${line}\n`);
  },
): string {
  const runtimeApi = env.AWS_LAMBDA_RUNTIME_API;
  if (runtimeApi) return runtimeApi;
  writeLine('configuration error: AWS_LAMBDA_RUNTIME_API is unset: this entry point runs only as a Lambda function');
  return exit(2);
}
