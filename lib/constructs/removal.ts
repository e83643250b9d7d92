import { RemovalPolicy } from 'aws-cdk-lib';
import type { EnvironmentConfig } from '../config';

/** DESTROY for ephemeral environments (nothing left behind), RETAIN for production. */
export function removalPolicyFor(config: EnvironmentConfig): RemovalPolicy {
  return config.destroyOnRemoval ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
}
