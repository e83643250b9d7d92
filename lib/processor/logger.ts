import pino from 'pino';
import type { LogLevel } from './config';

/**
 * Structured JSON logs. Records, resources and payloads are never passed to the logger;
 * redaction is a second line of defence for anything credential-like. The level is the validated
 * configuration's (LOG_LEVEL), never read here.
 */
export function createLogger(workerId: string, level: LogLevel = 'info', destination?: pino.DestinationStream): pino.Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'fhir-processor', workerId },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: {
      paths: [
        'password',
        '*.password',
        'db.password',
        'DB_PASSWORD',
        '*.DB_PASSWORD',
        'resource',
        '*.resource',
        'payload',
        '*.payload',
        'Data',
        '*.Data',
      ],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

export type Logger = pino.Logger;

/**
 * The logger of a one-shot command (re-drive, restore drill) whose result is its last line on standard output.
 * Pino's default destination writes asynchronously, so a result printed with process.stdout.write (synchronous
 * on a pipe or file) could come before the last log lines: under load a re-drive's last progress line arrived
 * after its summary. Here log lines are written synchronously, in order with the result. (Waiting for pino's
 * flush() would not do: sonic-boom calls back at once when its buffer is empty, before writes in flight finish.)
 */
export function commandLogger(workerId: string, level: LogLevel = 'info'): pino.Logger {
  return createLogger(workerId, level, pino.destination({ dest: process.stdout.fd ?? 1, sync: true }));
}

/** Error fields safe to log: class, code and message, never a record or query parameters. */
export function errorFields(error: unknown): Record<string, unknown> {
  const e = error as { name?: string; code?: string; message?: string };
  return { errorName: e?.name, errorCode: e?.code, error: e?.message?.slice(0, 300) };
}
