import { App } from 'aws-cdk-lib';
import { NO_STACK_TRACES } from '../../lib/config';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- cdk.json is JSON outside the TypeScript project
const cdkJson = require('../../cdk.json') as { context: Record<string, unknown> };

/** An App with the context and feature flags of cdk.json, as `cdk synth` builds it (without construct stack traces). */
export function cdkJsonApp(): App {
  return new App({ context: { ...cdkJson.context, ...NO_STACK_TRACES } });
}

/** The CDK context of cdk.json. */
export function cdkJsonContext(): Record<string, unknown> {
  return { ...cdkJson.context };
}
