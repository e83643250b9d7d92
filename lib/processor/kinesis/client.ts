import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { ProcessorConfig } from '../config';

/**
 * The Kinesis client. HTTP/1.1 (NodeHttpHandler): the SDK's default HTTP/2 handler is only
 * needed for SubscribeToShard, and local emulators reject it.
 */
export function createKinesisClient(config: Pick<ProcessorConfig, 'region' | 'kinesisEndpoint'>): KinesisClient {
  const local = config.kinesisEndpoint !== undefined;
  return new KinesisClient({
    region: config.region,
    endpoint: config.kinesisEndpoint,
    requestHandler: new NodeHttpHandler({ connectionTimeout: 5_000, requestTimeout: 30_000 }),
    // The emulator accepts any signature; never pick up real credentials for it.
    credentials: local ? { accessKeyId: 'local', secretAccessKey: 'local' } : undefined,
    maxAttempts: 3,
  });
}
