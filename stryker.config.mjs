// StrykerJS for one module at a time: `npm run test:mutation` (scripts/checks/mutation.ts) passes the module
// with --mutate and its test files in MUTATION_TEST_FILES; running Stryker alone mutates nothing useful.
import { createRequire } from 'module';

const require = createRequire(import.meta.url);
const jestConfig = require('./jest.config.js');
const testFiles = (process.env.MUTATION_TEST_FILES ?? '').split(',').filter((file) => file !== '');
const report = process.env.MUTATION_REPORT ?? 'reports/mutation/mutation.json';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'jest',
  plugins: ['@stryker-mutator/jest-runner'],
  coverageAnalysis: 'perTest',
  jest: {
    projectType: 'custom',
    enableFindRelatedTests: false,
    config: {
      ...jestConfig,
      testEnvironment: './test/jest/stryker-environment.cjs',
      // Only the module's own test files; the sandbox is a copy of the project, so <rootDir> is the copy.
      testMatch: testFiles.map((file) => `<rootDir>/${file}`),
      roots: ['<rootDir>/test'],
      collectCoverage: false,
      coverageThreshold: undefined,
      // One Jest worker inside each Stryker process: Stryker's concurrency is the parallelism.
      maxWorkers: 1,
    },
  },
  // Two test processes by default, for a shared machine (npm run test:mutation -- --concurrency N sets it).
  concurrency: Number(process.env.MUTATION_CONCURRENCY ?? 2),
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: report },
  clearTextReporter: { allowEmojis: false, logTests: false, reportMutants: true, reportScoreTable: true },
  // The sandbox needs the sources and tests only (node_modules is linked, not copied).
  ignorePatterns: ['cdk.out', 'coverage', 'reports', 'cfn-outputs', '.local', 'dist', 'docs', '*.log'],
  tempDirName: 'reports/mutation/tmp',
  cleanTempDir: 'always',
  thresholds: { high: 95, low: 90, break: null },
  // A mutant counts as killed by timeout when its run takes this much longer than the unmutated run. On a loaded
  // shared machine 10 s was too little (a whole run of records.ts timed out its mutants while a synth ran beside it),
  // and a false timeout is a false kill; the real infinite loops a mutant can make cost a minute each.
  timeoutMS: 60000,
};
