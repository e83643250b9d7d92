import { createServer } from 'http';

/** A Lambda Runtime API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html) that hands out `events` one by one and records what the function posts back. */
export async function fakeRuntimeApi(events: unknown[]) {
  const posted: { url: string; body: string }[] = [];
  let n = 0;
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/2018-06-01/runtime/invocation/next') {
      res.writeHead(200, { 'lambda-runtime-aws-request-id': `inv-${++n}`, 'content-type': 'application/json' });
      res.end(JSON.stringify(events[n - 1]));
      return;
    }
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      posted.push({ url: req.url ?? '', body });
      res.writeHead(202);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { address: `127.0.0.1:${port}`, posted, close: () => new Promise((resolve) => server.close(resolve)) };
}
