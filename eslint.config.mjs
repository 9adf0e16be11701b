// ESLint (flat config) for the web client and the Node tools: `make lint` runs it.
import js from '@eslint/js';
import globals from 'globals';

export default [
  { ignores: ['frontend/dist/**', 'frontend/src/generated/**', 'node_modules/**', '.build/**', '.venv/**'] },
  js.configs.recommended,
  {
    // The web client: ES modules in the browser.
    files: ['frontend/src/**/*.js'],
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: globals.browser },
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      eqeqeq: ['error', 'always'],
      'no-var': 'error',
      'prefer-const': 'error',
      // GS1 element strings separate variable-length fields with GS (0x1D, FNC1): matching it
      // is the point, not an accident.
      'no-control-regex': 'off',
    },
  },
  {
    // Tests driving the page, benchmarks and tools: Node ES modules.
    files: ['frontend/*.mjs', 'frontend/tests/**/*.mjs', 'frontend/vite.config.js', 'tools/**/*.mjs', 'eslint.config.mjs'],
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { ...globals.node, ...globals.browser } },
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      eqeqeq: ['error', 'always'],
      'no-var': 'error',
      'prefer-const': 'error',
    },
  },
  {
    // The solc-js adapter py-solc-x runs as `solc`: a CommonJS Node script.
    files: ['tools/solc/*.js'],
    languageOptions: { ecmaVersion: 2023, sourceType: 'commonjs', globals: globals.node },
    rules: { 'no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none', varsIgnorePattern: '^_$' }] },
  },
];
