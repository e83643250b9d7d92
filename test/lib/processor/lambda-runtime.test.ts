import { runtimeApiOrExit, runtimeLoop } from '../../../lib/processor/lambda-runtime';
import { fakeRuntimeApi } from '../../helpers/lambda-runtime';

describe('runtimeLoop (shared by the read API and the secret rotation)', () => {
  test('posts each result to its request id, and a failure as an error with the message the caller chooses', async () => {
    const api = await fakeRuntimeApi([{ Step: 'ok' }, { Step: 'fail' }, { Step: 'void' }]);
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
    const api = await fakeRuntimeApi([{}]);
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
