/**
 * Bad input: one base error with a subclass per place the input comes from, so a command decides
 * how to stop by type, never by message. Anything that is not an InputError is a failure of the
 * run or a bug, and its handler treats it as such.
 */

/**
 * Input a person must fix. Each problem is one line that names the setting or flag, the offending
 * value and how to fix it, so a command can print the lines as-is; every problem found is reported
 * at once (the message is the lines joined). Thrown as the base class for input that is neither
 * configuration, environment nor flag syntax, such as a file a flag names that holds the wrong thing.
 */
export class InputError extends Error {
  override readonly name: string = 'InputError';
  readonly problems: readonly string[];
  /** The exit code of a command that stops on this error: 1, or 2 for how the command was called. */
  readonly exitCode: 1 | 2 = 1;

  constructor(problems: string | readonly string[], options?: ErrorOptions) {
    const lines = typeof problems === 'string' ? [problems] : [...problems];
    super(lines.join('\n'), options);
    this.problems = lines;
  }
}

/** The app's configuration (cdk.json context and what is derived from it): `cdk synth` prints each problem, exit 1. */
export class ConfigError extends InputError {
  override readonly name: string = 'ConfigError';
}

/**
 * A processor command's environment variables: one line `configuration error: ...` before any
 * service is touched, exit 2 (the task was started wrongly, as with a bad flag).
 */
export class EnvironmentError extends InputError {
  override readonly name: string = 'EnvironmentError';
  override readonly exitCode = 2;
}

/** A mistake in how a command was called (unknown flag, missing or malformed value): exit 2, with the usage text where there is one. */
export class UsageError extends InputError {
  override readonly name: string = 'UsageError';
  override readonly exitCode = 2;
}
