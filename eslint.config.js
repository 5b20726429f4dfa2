// ESLint flat config: typescript-eslint's recommended rules (syntax only, no
// type information, to stay fast) over src/, bench/ and test/; no style rules.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'artifacts/', '**/*.js', '**/*.cjs', '**/*.mjs'] },
  {
    files: ['src/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    rules: {
      // An `any` that has a reason gets an eslint-disable comment saying it.
      '@typescript-eslint/no-explicit-any': 'error',
      // `const { a: _a, ...rest } = o` is how the code drops keys from an object.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
);
