/**
 * A usage or configuration problem: the CLI prints its one-line message and
 * exits with status 2. The message names the file, line, flag or peer.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
