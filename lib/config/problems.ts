import { ConfigError } from '../contract/errors';

/** The problems found in a configuration, collected so that every one is reported at once. */
export class Problems {
  private readonly lines: string[] = [];

  /** `<path> <value as JSON> is invalid: <rule>`, the form of every value problem. */
  invalid(path: string, value: unknown, rule: string): void {
    this.add(`${path} ${JSON.stringify(value)} is invalid: ${rule}`);
  }

  /** A problem found twice (a personal environment's setting from cdk.json is checked with the others) is one line. */
  add(line: string): void {
    if (!this.lines.includes(line)) this.lines.push(line);
  }

  get count(): number {
    return this.lines.length;
  }

  /** Throws one ConfigError with every problem, one line each, if there is any. */
  throwIfAny(): void {
    if (this.lines.length > 0) throw new ConfigError(this.lines);
  }
}
