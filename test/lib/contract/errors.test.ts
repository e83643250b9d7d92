import { ConfigError, EnvironmentError, InputError, UsageError } from '../../../lib/contract';

describe('bad input: one base error, a subclass per source', () => {
  test.each([
    [ConfigError, 'ConfigError', 1],
    [EnvironmentError, 'EnvironmentError', 2],
    [UsageError, 'UsageError', 2],
    [InputError, 'InputError', 1],
  ] as const)('%p is an InputError named %s that stops a command with exit %i', (Kind, name, exitCode) => {
    const error = new Kind('environmentSuffix "Feature/X" is invalid: use lowercase letters, digits and hyphens');
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(InputError);
    expect(error.name).toBe(name);
    expect(error.exitCode).toBe(exitCode);
    expect(error.problems).toEqual(['environmentSuffix "Feature/X" is invalid: use lowercase letters, digits and hyphens']);
    expect(String(error)).toBe(`${name}: environmentSuffix "Feature/X" is invalid: use lowercase letters, digits and hyphens`);
  });

  test('the subclasses are told apart by type, and a plain Error is none of them', () => {
    expect(new ConfigError('x')).not.toBeInstanceOf(EnvironmentError);
    expect(new EnvironmentError('x')).not.toBeInstanceOf(UsageError);
    expect(new UsageError('x')).not.toBeInstanceOf(ConfigError);
    expect(new Error('x')).not.toBeInstanceOf(InputError);
  });

  test('every problem is kept, one line each, and the message joins them', () => {
    const error = new ConfigError(['region "mars-1" is not a region', 'previews.ttlHours 0 is invalid: expected 1 to 720']);
    expect(error.problems).toEqual(['region "mars-1" is not a region', 'previews.ttlHours 0 is invalid: expected 1 to 720']);
    expect(error.message).toBe('region "mars-1" is not a region\npreviews.ttlHours 0 is invalid: expected 1 to 720');
  });

  test('the cause of a failed read is kept for whoever debugs it', () => {
    const cause = new Error('ENOENT');
    expect(new InputError('cannot read outputs.json', { cause }).cause).toBe(cause);
  });
});
