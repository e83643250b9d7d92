/**
 * A configuration value that cannot be used. The message is one line that names the
 * setting, the offending value and the rule, so `cdk synth` can print it as-is.
 */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
