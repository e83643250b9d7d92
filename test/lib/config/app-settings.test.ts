import { appSettings, cdkJsonContext } from '../../../lib/config';
import { ConfigError } from '../../../lib/contract';

describe('appSettings (what scripts read of the app)', () => {
  test('the project and region of cdk.json', () => {
    const context = cdkJsonContext();
    expect(appSettings()).toEqual({ project: context.project, region: context.region });
  });

  test("the schema's region when cdk.json names none", () => {
    expect(appSettings({ project: 'acme', environments: { dev: {} } })).toEqual({ project: 'acme', region: 'eu-west-2' });
  });

  test('an invalid cdk.json is refused as cdk synth refuses it', () => {
    expect(() => appSettings({ project: 'acme', regoin: 'eu-west-1', environments: { dev: {} } })).toThrow(ConfigError);
    expect(() => appSettings({ project: 'acme', regoin: 'eu-west-1', environments: { dev: {} } })).toThrow(
      'unknown key "regoin" at the top level of the CDK context (did you mean "region"?)',
    );
  });
});
