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

/** Error fields safe to log: class, code and message, never a record or query parameters. */
export function errorFields(error: unknown): Record<string, unknown> {
  const e = error as { name?: string; code?: string; message?: string };
  return { errorName: e?.name, errorCode: e?.code, error: e?.message?.slice(0, 300) };
}
