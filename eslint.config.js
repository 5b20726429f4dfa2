// ESLint flat config: typescript-eslint's recommended rules (syntax only, no
// type information, to stay fast) over src/, bench/ and test/. Prettier
// formats (npm run format); the one style rule here is the line length it
// cannot fix by itself: every line at most 120 columns, long strings,
// templates and regular expressions included (split them with +).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import stylistic from '@stylistic/eslint-plugin';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'artifacts/', '**/*.js', '**/*.cjs', '**/*.mjs'] },
  {
    files: ['src/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    plugins: { '@stylistic': stylistic },
    rules: {
      '@stylistic/max-len': ['error', { code: 120, ignoreUrls: true }],
      // An `any` that has a reason gets an eslint-disable comment saying it.
      '@typescript-eslint/no-explicit-any': 'error',
      // `const { a: _a, ...rest } = o` is how the code drops keys from an object.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
);
