/**
 * A small client of the read API for the tools and the integration suite: requests signed with
 * SigV4 for API Gateway (service `execute-api`), optionally as a role it assumes (the reader role),
 * or plain on the local stack, which has no IAM. Follows a Bundle's next links.
 */
import { createHash, createHmac } from 'crypto';
import { fromNodeProviderChain, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { SignatureV4 } from '@smithy/signature-v4';

const bytes = (d: string | ArrayBuffer | ArrayBufferView): string | Uint8Array =>
  typeof d === 'string' ? d : ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : new Uint8Array(d);

/** SHA-256 and HMAC-SHA-256 from node's crypto, in the shape SignatureV4 takes. */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

export interface ReadApiClientOptions {
  /** The API's base URL (`ReadApiUrl` in the flat outputs). */
  readonly url: string;
  /** Sign with SigV4 for this region; unset: send unsigned (the local stack). */
  readonly region?: string;
  /** Assume this role first (the reader role) instead of using the default credentials as they are. */
  readonly roleArn?: string;
}

export interface ReadResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

export interface BundleEntry {
  readonly fullUrl: string;
  readonly resource: { readonly resourceType: string; readonly id: string } & Record<string, unknown>;
}

export class ReadApiClient {
  private readonly signer?: SignatureV4;

  constructor(private readonly options: ReadApiClientOptions) {
    if (options.region) {
      const credentials = options.roleArn
        ? fromTemporaryCredentials({
            params: { RoleArn: options.roleArn, RoleSessionName: 'read-api-client' },
            clientConfig: { region: options.region },
          })
        : fromNodeProviderChain();
      this.signer = new SignatureV4({ service: 'execute-api', region: options.region, credentials, sha256: Sha256 });
    }
  }

  /** GET a path below the base (`Patient/1`) or an absolute URL (a next link). */
  async get(pathOrUrl: string): Promise<ReadResponse> {
    const url = new URL(/^https?:/.test(pathOrUrl) ? pathOrUrl : `${this.options.url.replace(/\/$/, '')}/${pathOrUrl.replace(/^\//, '')}`);
    let headers: Record<string, string> = { accept: 'application/fhir+json', host: url.host };
    if (this.signer) {
      const query: Record<string, string | string[]> = {};
      for (const [k, v] of url.searchParams) query[k] = k in query ? ([] as string[]).concat(query[k], v) : v;
      const signed = await this.signer.sign({
        method: 'GET',
        protocol: url.protocol,
        hostname: url.hostname,
        path: url.pathname,
        query,
        headers,
      });
      headers = signed.headers as Record<string, string>;
    }
    const res = await fetch(url, { headers });
    return { status: res.status, headers: res.headers, text: await res.text() };
  }

  /** Every entry of a searchset, following next links; throws on a status other than 200. */
  async all(path: string, maxPages = 1000): Promise<BundleEntry[]> {
    const entries: BundleEntry[] = [];
    let next: string | undefined = path;
    for (let page = 0; next !== undefined; page++) {
      if (page >= maxPages) throw new Error(`${path}: more than ${maxPages} pages`);
      const res = await this.get(next);
      if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}: ${res.text.slice(0, 300)}`);
      const bundle = JSON.parse(res.text) as { entry?: BundleEntry[]; link?: { relation: string; url: string }[] };
      entries.push(...(bundle.entry ?? []));
      next = bundle.link?.find((l) => l.relation === 'next')?.url;
    }
    return entries;
  }
}
