'use strict';
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');

module.exports = tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.node-red/**', 'test-artifacts/**', 'coverage/**'] },
  js.configs.recommended,
  // Type-aware rules (floating promises, misused promises, unsafe any...) with the types of the
  // tsconfig each file belongs to.
  ...tseslint.configs.recommendedTypeChecked,
  { languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: __dirname } } },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
      // Commands, handlers and fakes stay async for a uniform signature even when they do not wait.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // The editor modules (browser code, bundled by scripts/build-editor.js). Node-RED calls a node
    // definition's functions with the node as `this`, so its callbacks keep it as `node`.
    // Typed with tsconfig.editor.json (DOM lib, the RED/$ declarations), not the Node projects.
    files: ['nodes/editor/**/*.ts'],
    languageOptions: { parserOptions: { projectService: false, project: './tsconfig.editor.json', tsconfigRootDir: __dirname } },
    rules: { '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['node', 'plugin'] }] },
  },
  {
    // lib/ledger is being reworked on the performance branch; its three findings are fixed there.
    files: ['lib/ledger/**/*.ts'],
    rules: { '@typescript-eslint/no-unnecessary-type-assertion': 'off', '@typescript-eslint/only-throw-error': 'off' },
  },
  {
    // Tests read untyped JSON (HTTP answers, flow files, node messages) and poke at it on purpose.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly', module: 'writable', process: 'readonly', console: 'readonly',
        __dirname: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly',
        RED: 'readonly', $: 'readonly', window: 'readonly', document: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
