import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Paths redacted from every log line, wherever a call site puts them. Provider keys, client keys
 * and bodies must never reach a log; call sites also avoid logging them at all.
 */
const redactPaths = [
  'apiKey',
  'api_key',
  'key',
  'authorization',
  'headers.authorization',
  'headers["x-api-key"]',
  '*.apiKey',
  '*.api_key',
  '*.authorization',
  'body',
  'messages',
  'prompt',
];

export interface LoggerOptions {
  /** pino level; default "info", or AIRLOCK_LOG_LEVEL read by the CLI. */
  level?: string;
  /** Where lines go; default standard output. Tests pass a memory stream. */
  destination?: DestinationStream;
}

/** The one root logger; subsystems take `logger.child({ component })`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { app: 'airlock' },
      redact: { paths: redactPaths, censor: '[redacted]' },
    },
    options.destination,
  );
}
