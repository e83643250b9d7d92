import { ConfigError } from '../../../lib/contract';

describe('ConfigError', () => {
  test('is an Error that callers can tell apart (bin/app.ts prints its one line and exits), with the message as given', () => {
    const error = new ConfigError('environmentSuffix "Feature/X" is invalid: use lowercase letters, digits and hyphens');
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.name).toBe('ConfigError');
    expect(error.message).toBe('environmentSuffix "Feature/X" is invalid: use lowercase letters, digits and hyphens');
    expect(String(error)).toBe('ConfigError: environmentSuffix "Feature/X" is invalid: use lowercase letters, digits and hyphens');
    expect(new Error('x')).not.toBeInstanceOf(ConfigError);
  });
});
