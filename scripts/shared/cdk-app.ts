import { App } from 'aws-cdk-lib';
import { cdkJsonContext, NO_STACK_TRACES } from '../../lib/config';

export { cdkJsonContext };

/** An App with the context and feature flags of cdk.json, as `cdk synth` builds it (without construct stack traces). */
export function cdkJsonApp(): App {
  return new App({ context: { ...cdkJsonContext(), ...NO_STACK_TRACES } });
}
