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
      // Node splits some messages over lines; keep the first and the "To
      // specify..." hint (e.g. for `-t -1`), dropping the rhetorical question.
      const lines = e.message.split('\n').filter((l) => !l.endsWith('?'));
      throw new ConfigError(`${lines.join(' ')} (see --help)`);
    }
    throw err;
  }
}
