import { createHash, createHmac } from 'crypto';
import { createServer, IncomingMessage, Server } from 'http';
import { AddressInfo } from 'net';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/nested-clients/sts';
import { SignatureV4 } from '@smithy/signature-v4';
import { mockClient } from 'aws-sdk-client-mock';
import { ReadApiClient } from '../../../scripts/shared/read-api-client';

interface Recorded {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
}

const patient = (id: string) => ({ fullUrl: `urn:test/Patient/${id}`, resource: { resourceType: 'Patient', id } });

/** A read API stand-in: three pages of Patients linked by next, and an OperationOutcome 404 for anything else. */
let server: Server;
let base: string;
let requests: Recorded[];

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const url = new URL(req.url ?? '/', base);
    const send = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/fhir+json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/prod/Patient') {
      const page = Number(url.searchParams.get('_page') ?? '1');
      const ids = { 1: ['p1', 'p2'], 2: ['p3'], 3: ['p4', 'p5'] }[page] ?? [];
      const link = [{ relation: 'self', url: url.href }];
      if (page < 3) link.push({ relation: 'next', url: `${base}/prod/Patient?_count=2&_page=${page + 1}` });
      send(200, { resourceType: 'Bundle', type: 'searchset', link, entry: ids.map(patient) });
    } else if (url.pathname === '/prod/Empty') {
      send(200, { resourceType: 'Bundle', type: 'searchset' });
    } else if (url.pathname === '/prod/Loop') {
      send(200, {
        resourceType: 'Bundle',
        type: 'searchset',
        link: [{ relation: 'next', url: `${base}/prod/Loop` }],
        entry: [patient('x')],
      });
    } else {
      send(404, {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', code: 'not-found', diagnostics: `${url.pathname} not found` }],
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
});

const ENV_KEYS = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_REGION'] as const;
let savedEnv: Record<string, string | undefined>;

beforeEach(() => {
  requests = [];
  savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  for (const k of ENV_KEYS) delete process.env[k];
});

afterEach(() => {
  for (const k of ENV_KEYS) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
});

/** SHA-256 and HMAC-SHA-256 for the reference signer. */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    const key =
      typeof secret === 'string' || secret === undefined
        ? secret
        : Buffer.from(ArrayBuffer.isView(secret) ? secret.buffer.slice(secret.byteOffset, secret.byteOffset + secret.byteLength) : secret);
    this.hash = key === undefined ? createHash('sha256') : createHmac('sha256', key);
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(
      typeof data === 'string'
        ? data
        : ArrayBuffer.isView(data)
          ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
          : new Uint8Array(data),
    );
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

const AMZ_DATE = /^\d{8}T\d{6}Z$/;

describe('ReadApiClient on the local stack (unsigned)', () => {
  test('all() follows every next link and returns the entries of every page in order', async () => {
    const client = new ReadApiClient({ url: `${base}/prod/` });
    const entries = await client.all('Patient?_count=2');
    expect(entries.map((e) => e.resource.id)).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
    expect(entries[0]).toEqual(patient('p1'));
    expect(requests.map((r) => r.url)).toEqual([
      '/prod/Patient?_count=2',
      '/prod/Patient?_count=2&_page=2',
      '/prod/Patient?_count=2&_page=3',
    ]);
    for (const r of requests) {
      expect(r.method).toBe('GET');
      expect(r.headers.accept).toBe('application/fhir+json');
      expect(r.headers.authorization).toBeUndefined();
      expect(r.headers['x-amz-date']).toBeUndefined();
    }
  });

  test('a bundle without entries or links is an empty result after one request', async () => {
    const client = new ReadApiClient({ url: `${base}/prod` });
    await expect(client.all('/Empty')).resolves.toEqual([]);
    expect(requests.map((r) => r.url)).toEqual(['/prod/Empty']);
  });

  test('get() joins a relative path to the base and returns the status, headers and body of an error as they are', async () => {
    const client = new ReadApiClient({ url: `${base}/prod/` });
    const res = await client.get('/Patient/nope');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/fhir+json');
    expect(JSON.parse(res.text)).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'not-found' }] });
    expect(requests.map((r) => r.url)).toEqual(['/prod/Patient/nope']);
  });

  test('get() takes an absolute URL (a next link) as it is, ignoring the base', async () => {
    const client = new ReadApiClient({ url: 'http://unused.invalid/prod' });
    const res = await client.get(`${base}/prod/Patient?_page=3`);
    expect(res.status).toBe(200);
    expect(requests.map((r) => r.url)).toEqual(['/prod/Patient?_page=3']);
  });

  test('all() throws on a status other than 200, naming the path, the status and the body', async () => {
    const client = new ReadApiClient({ url: `${base}/prod` });
    await expect(client.all('Observation?subject=Patient/p1')).rejects.toThrow(
      /^Observation\?subject=Patient\/p1: HTTP 404: \{"resourceType":"OperationOutcome".*"diagnostics":"\/prod\/Observation not found"/,
    );
  });

  test('all() stops a bundle whose next links never end at maxPages', async () => {
    const client = new ReadApiClient({ url: `${base}/prod` });
    await expect(client.all('Loop', 3)).rejects.toThrow('Loop: more than 3 pages');
    expect(requests).toHaveLength(3);
  });
});

describe('ReadApiClient against API Gateway (SigV4, execute-api)', () => {
  test('signs every request, pages included, with the credentials of the default chain', async () => {
    process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
    process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
    const client = new ReadApiClient({ url: `${base}/prod`, region: 'eu-west-2' });
    const entries = await client.all('Patient?_count=2');
    expect(entries.map((e) => e.resource.id)).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
    expect(requests).toHaveLength(3);
    for (const r of requests) {
      const date = String(r.headers['x-amz-date']);
      expect(date).toMatch(AMZ_DATE);
      const auth = String(r.headers.authorization);
      expect(auth).toMatch(
        new RegExp(
          `^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/${date.slice(0, 8)}/eu-west-2/execute-api/aws4_request, ` +
            'SignedHeaders=accept;host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$',
        ),
      );
      // An empty GET body: the hash of the empty string.
      expect(r.headers['x-amz-content-sha256']).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
      expect(r.headers['x-amz-security-token']).toBeUndefined();
      expect(r.headers.host).toBe(new URL(base).host);
    }
    // The query is part of what is signed: different pages, different signatures.
    const signatures = requests.map((r) => String(r.headers.authorization).split('Signature=')[1]);
    expect(new Set(signatures).size).toBe(3);
  });

  test('the signature is the one SigV4 computes for the same request, query and secret', async () => {
    process.env.AWS_ACCESS_KEY_ID = 'AKIDEXAMPLE';
    process.env.AWS_SECRET_ACCESS_KEY = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
    const client = new ReadApiClient({ url: `${base}/prod`, region: 'eu-west-2' });
    await client.get('Patient?_count=2&name=a&name=b');
    const [r] = requests;
    const date = String(r.headers['x-amz-date']);
    const signingDate = new Date(
      `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`,
    );
    const signer = new SignatureV4({
      service: 'execute-api',
      region: 'eu-west-2',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
      sha256: Sha256,
    });
    const url = new URL(r.url, base);
    const expected = await signer.sign(
      {
        method: 'GET',
        protocol: url.protocol,
        hostname: url.hostname,
        path: url.pathname,
        query: { _count: '2', name: ['a', 'b'] },
        headers: { accept: 'application/fhir+json', host: url.host },
      },
      { signingDate },
    );
    expect(r.headers.authorization).toBe(expected.headers.authorization);
  });

  test('with roleArn, assumes the role and signs with its temporary credentials and session token', async () => {
    process.env.AWS_ACCESS_KEY_ID = 'AKIDCALLER';
    process.env.AWS_SECRET_ACCESS_KEY = 'caller-secret';
    const sts = mockClient(STSClient);
    sts.on(AssumeRoleCommand).resolves({
      Credentials: {
        AccessKeyId: 'ASIAREADER',
        SecretAccessKey: 'reader-secret',
        SessionToken: 'reader-session-token',
        Expiration: new Date(Date.now() + 3_600_000),
      },
    });
    try {
      const roleArn = 'arn:aws:iam::123456789012:role/hipaa-fhir-reader';
      const client = new ReadApiClient({ url: `${base}/prod`, region: 'us-east-1', roleArn });
      const res = await client.get('Patient?_page=2');
      expect(res.status).toBe(200);
      expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input)).toEqual([
        expect.objectContaining({ RoleArn: roleArn, RoleSessionName: 'read-api-client' }),
      ]);
      const [r] = requests;
      expect(String(r.headers.authorization)).toMatch(
        new RegExp(
          `^AWS4-HMAC-SHA256 Credential=ASIAREADER/${String(r.headers['x-amz-date']).slice(0, 8)}/us-east-1/execute-api/aws4_request, ` +
            'SignedHeaders=accept;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$',
        ),
      );
      expect(r.headers['x-amz-security-token']).toBe('reader-session-token');
    } finally {
      sts.restore();
    }
  });
});
