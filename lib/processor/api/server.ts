/**
 * The read API on a local HTTP port (`npm run local`): the same handler as the Lambda function, with
 * a fixed local identity in place of SigV4 (nothing local signs requests). Listens on 127.0.0.1 only.
 *
 * Run: API_PORT=8787 DB_HOST=... node dist/processor/api/server.js (scripts/local/local.ts does it).
 */
import { createServer, IncomingMessage, Server, ServerResponse } from 'http';
import { userInfo } from 'os';
import { loadOrExit } from '../config';
import { handleRequest } from './handler';
import { ApiService, createApiService, loadApiConfig } from './service';

/** The actor of local requests in audit_event: not an IAM ARN, so no one mistakes it for AWS. */
export const localActor = () => `local:${userInfo().username}`;

function queryOf(url: URL): Record<string, string[]> {
  const query: Record<string, string[]> = {};
  for (const [name, value] of url.searchParams) (query[name] ??= []).push(value);
  return query;
}

export function apiServer(service: ApiService, actor = localActor()): Server {
  return createServer((req: IncomingMessage, res: ServerResponse) => {
    const started = process.hrtime.bigint();
    const host = req.headers.host ?? '127.0.0.1';
    const url = new URL(req.url ?? '/', `http://${host}`);
    void handleRequest(
      { method: req.method ?? 'GET', path: url.pathname, query: queryOf(url), headers: req.headers as Record<string, string | undefined> },
      { actor, base: `http://${host}` },
      service.transaction,
      (fields) => service.log({ ...fields, ms: Number(process.hrtime.bigint() - started) / 1e6 }),
    ).then((response) => {
      res.writeHead(response.status, response.headers);
      res.end(response.body);
    });
  });
}

if (require.main === module) {
  const config = loadOrExit(() => loadApiConfig(process.env));
  const port = Number(process.env.API_PORT ?? '0');
  const service = createApiService(config);
  const server = apiServer(service);
  server.listen(port, '127.0.0.1', () => {
    const address = server.address() as { port: number };
    // The line scripts/local/local.ts waits for.
    process.stdout.write(`READ_API_LISTENING http://127.0.0.1:${address.port}\n`);
  });
  const stop = () => server.close(() => void service.close().then(() => process.exit(0)));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
