// ESLint flat config (typescript-eslint). `npm test` runs it; `npm run lint -- --fix` fixes what it can.
import js from '@eslint/js';
import comments from '@eslint-community/eslint-plugin-eslint-comments/configs';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

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
      // Generated data (scripts/generate-fhir-r4.ts), 390 KB.
      'lib/processor/fhir/generated/**',
      // The validator before issue 10, kept verbatim as the benchmark's baseline (scripts/bench-validator.ts).
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
  // Formatting is Prettier's (npm run format:check), not ESLint's.
  prettier,
);
