// node:util parseArgs, with its errors turned into one-line usage errors.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../config/errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export function parseFlags<O extends Options>(argv: readonly string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals, strict: true });
  } catch (err) {
    const e = err as Error & { code?: string };
    if (typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS')) {
      throw new ConfigError(`${e.message.split('\n')[0]!.replace(/\. To specify.*$/, '')}; see --help`);
    }
    throw err;
  }
}
