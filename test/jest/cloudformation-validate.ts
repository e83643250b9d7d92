/**
 * Stands in for @aws/cloudformation-validate inside test files (package.json → jest.moduleNameMapper):
 * the worker's shared module from test/jest/environment.ts, whose engine is built once per worker.
 */
const shared = (globalThis as Record<symbol, unknown>)[Symbol.for('hipaa-fhir.jest.cloudformation-validate')];
if (shared === undefined) {
  throw new Error(
    '@aws/cloudformation-validate is mapped to test/jest/cloudformation-validate.ts, which needs testEnvironment test/jest/environment.ts',
  );
}
module.exports = shared;
