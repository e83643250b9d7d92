/**
 * A configuration value that cannot be used. Each problem is one line that names the setting, the
 * offending value and the rule, so `cdk synth` can print them as-is; every problem found is reported
 * at once (the message is the lines joined).
 */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: string | readonly string[]) {
    const lines = typeof problems === 'string' ? [problems] : [...problems];
    super(lines.join('\n'));
    this.name = 'ConfigError';
    this.problems = lines;
  }
}
