import { createServer } from 'http';
import { runtimeApiOrExit, runtimeLoop } from '../../../lib/processor/lambda-runtime';

/** A Lambda Runtime API that hands out `events` one by one and records what the function posts back. */
async function runtimeApi(events: unknown[]) {
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

describe('runtimeLoop (shared by the read API and the secret rotation)', () => {
  test('posts each result to its request id, and a failure as an error with the message the caller chooses', async () => {
    const api = await runtimeApi([{ Step: 'ok' }, { Step: 'fail' }, { Step: 'void' }]);
    try {
      await runtimeLoop(
        api.address,
        async (event: { Step: string }) => {
          if (event.Step === 'fail') throw new TypeError('detail that stays in the log');
          return event.Step === 'ok' ? { done: true } : undefined;
        },
        { errorMessage: (e) => `failed (${e.name})`, invocations: 3 },
      );
      expect(api.posted).toEqual([
        { url: '/2018-06-01/runtime/invocation/inv-1/response', body: '{"done":true}' },
        { url: '/2018-06-01/runtime/invocation/inv-2/error', body: '{"errorType":"TypeError","errorMessage":"failed (TypeError)"}' },
        { url: '/2018-06-01/runtime/invocation/inv-3/response', body: 'null' },
      ]);
    } finally {
      await api.close();
    }
  });

  test('a thrown non-Error is posted as an Error', async () => {
    const api = await runtimeApi([{}]);
    try {
      await runtimeLoop(api.address, () => Promise.reject('a string'), { errorMessage: (e) => e.message, invocations: 1 });
      expect(JSON.parse(api.posted[0].body)).toEqual({ errorType: 'Error', errorMessage: 'a string' });
    } finally {
      await api.close();
    }
  });
});

describe('runtimeApiOrExit', () => {
  test('the Runtime API address, or one line and exit 2 outside Lambda', () => {
    expect(runtimeApiOrExit({ AWS_LAMBDA_RUNTIME_API: '127.0.0.1:9001' })).toBe('127.0.0.1:9001');
    const lines: string[] = [];
    const exit = jest.fn((code: number): never => {
      throw new Error(`exit ${code}`);
    });
    expect(() => runtimeApiOrExit({}, exit, (l) => lines.push(l))).toThrow('exit 2');
    expect(lines).toEqual(['configuration error: AWS_LAMBDA_RUNTIME_API is unset: this entry point runs only as a Lambda function']);
  });
});
