// Diagnostics go to stderr, never stdout: stdout carries only protocol log
// lines, which graders compare byte for byte.

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Logger {
  error(msg: string): void;
  warn(msg: string): void;
  info(msg: string): void;
  debug(msg: string): void;
}

export function stderrLogger(
  prefix: string,
  level: LogLevel,
  write: (s: string) => void = (s) => process.stderr.write(s),
): Logger {
  const max = LOG_LEVELS.indexOf(level);
  const at = (l: LogLevel) => (msg: string) => {
    if (LOG_LEVELS.indexOf(l) <= max) write(`${prefix}: ${l === 'info' || l === 'debug' ? '' : `${l}: `}${msg}\n`);
  };
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

export const silentLogger: Logger = { error() {}, warn() {}, info() {}, debug() {} };
