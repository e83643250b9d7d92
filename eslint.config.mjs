// ESLint flat config (typescript-eslint). `npm test` runs it; `npm run lint -- --fix` fixes what it can.
import js from '@eslint/js';
import comments from '@eslint-community/eslint-plugin-eslint-comments/configs';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

const FROM_SCRIPTS = 'scripts/ may import lib/ but never test/ (test → scripts → lib): move what both need into scripts/shared/.';
const FROM_PRODUCT = 'lib/, bin/ and stages/ are the product: they import neither scripts/ nor test/ (test → scripts → lib).';

/** import() and require() of a relative path into `folder`, which no-restricted-imports does not see. */
const lateImports = (folder, message) => {
  const path = `/^\\.\\.?\\/(.*\\/)?${folder}(\\/|$)/`;
  return [
    { selector: `ImportExpression[source.value=${path}]`, message },
    { selector: `CallExpression[callee.name='require'][arguments.0.value=${path}]`, message },
  ];
};

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'cdk.out/**',
      'coverage/**',
      'dist/**',
      '.local/**',
      'reports/**',
      'cfn-outputs/**',
      '**/*.js',
      '**/*.mjs',
      // Lambda handlers deployed as written (lib/constructs/handlers/): linted, and type-checked by tsc.
      '!lib/constructs/handlers/*.js',
      // Generated data (scripts/generators/generate-fhir-r4.ts), 390 KB.
      'lib/processor/fhir/generated/**',
      // The validator before issue 10, kept verbatim as the benchmark's baseline (scripts/bench/validator.ts).
      'scripts/bench/legacy-validator.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  comments.recommended,
  {
    rules: {
      // Every exception says why, on the same line: `// eslint-disable-next-line rule -- reason`.
      '@eslint-community/eslint-comments/require-description': ['error', { ignore: [] }],
      '@eslint-community/eslint-comments/disable-enable-pair': ['error', { allowWholeFile: false }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
    },
  },
  {
    files: ['lib/constructs/handlers/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', process: 'readonly', setTimeout: 'readonly' },
    },
    // Lambda loads these files as CommonJS, as written: require() is how they import the runtime's SDK.
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['test/jest/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable' } },
    // Loaded by Node's own require (Stryker's jest runner), before any transform: CommonJS as written.
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  // One import direction, test → scripts → lib: tooling imports the product, never the tests; the product
  // (lib/, bin/, stages/) imports neither. A dynamic import() or require() of such a path is caught too.
  {
    files: ['scripts/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/test/**', '**/test'], message: FROM_SCRIPTS }] }],
      'no-restricted-syntax': ['error', ...lateImports('test', FROM_SCRIPTS)],
    },
  },
  {
    files: ['lib/**/*.ts', 'bin/**/*.ts', 'stages/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/test/**', '**/test', '**/scripts/**', '**/scripts'], message: FROM_PRODUCT }] },
      ],
      'no-restricted-syntax': ['error', ...lateImports('(test|scripts)', FROM_PRODUCT)],
    },
  },
  // Formatting is Prettier's (npm run format:check), not ESLint's.
  prettier,
);
