import { RemovalPolicy } from 'aws-cdk-lib';
import type { EnvironmentConfig } from '../config';

/** DESTROY for development environments (nothing left behind), RETAIN for production. */
export function removalPolicyFor(config: EnvironmentConfig): RemovalPolicy {
  return config.destroyOnRemoval ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
}

/** What a profile decides about how long things live: spread into log-group and key props. */
export interface Lifecycle {
  readonly removalPolicy: RemovalPolicy;
  /** For EncryptedLogGroup: the profile's retention and removal policy. */
  readonly logs: { readonly retentionDays: number; readonly removalPolicy: RemovalPolicy };
  /** For EncryptionKey: the profile's removal policy and deletion waiting period. */
  readonly keys: { readonly removalPolicy: RemovalPolicy; readonly pendingWindowDays: number };
}

export function lifecycleOf(config: EnvironmentConfig): Lifecycle {
  const removalPolicy = removalPolicyFor(config);
  return {
    removalPolicy,
    logs: { retentionDays: config.logRetentionDays, removalPolicy },
    keys: { removalPolicy, pendingWindowDays: config.keyPendingWindowDays },
  };
}
