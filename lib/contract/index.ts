/**
 * The environment contract: what every part of the product agrees on about an environment (its
 * layers and outputs, every physical name and its IAM pattern form, the processor's variables,
 * metrics and health port). No CDK and no runtime imports, so infrastructure, scripts, tests and
 * the processor may all depend on it.
 */
export * from './errors';
export * from './environment';
export * from './naming';
export * from './preview-suffix';
export * from './processor';
