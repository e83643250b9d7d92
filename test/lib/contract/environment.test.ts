import { Template } from 'aws-cdk-lib/assertions';
import { LAYER_INFO, LAYER_OUTPUTS, LAYERS, LAYERS_TEARDOWN, layerOfOutput, LOCAL_OUTPUT_KEYS, OUTPUT_KEYS } from '../../../lib/contract';
import { PipelineAppStage } from '../../../stages/pipeline-app-stage';
import { synthStage, testApp, testConfig } from '../../helpers';

describe('the environment contract (lib/contract/environment.ts)', () => {
  test('four layers, deployed network first and torn down in reverse; the data and compute layers hold PHI', () => {
    expect(LAYERS).toEqual(['network', 'data', 'audit', 'compute']);
    expect(LAYERS_TEARDOWN).toEqual(['compute', 'audit', 'data', 'network']);
    expect(LAYERS.filter((l) => LAYER_INFO[l].phi)).toEqual(['data', 'compute']);
  });

  test('output keys are unique across the layers, so flat-outputs.json loses none', () => {
    expect(new Set(OUTPUT_KEYS).size).toBe(OUTPUT_KEYS.length);
    expect(OUTPUT_KEYS).toHaveLength(LAYERS.reduce((n, l) => n + LAYER_OUTPUTS[l].required.length + LAYER_OUTPUTS[l].optional.length, 0));
    // The local stack's extra keys never collide with an environment's.
    expect(LOCAL_OUTPUT_KEYS.filter((k) => (OUTPUT_KEYS as readonly string[]).includes(k))).toEqual([]);
  });

  test('every output key names the one layer that publishes it', () => {
    for (const layer of LAYERS) {
      for (const key of [...LAYER_OUTPUTS[layer].required, ...LAYER_OUTPUTS[layer].optional])
        expect([key, layerOfOutput(key)]).toEqual([key, layer]);
    }
    expect([
      layerOfOutput('BackupVaultName'),
      layerOfOutput('PostDeployRoleArn'),
      layerOfOutput('KinesisEndpoint'),
      layerOfOutput('nope'),
    ]).toEqual(['data', 'compute', undefined, undefined]);
  });

  describe("each layer's stack publishes exactly the outputs the contract declares for it", () => {
    const preview = testConfig({ branch: 'feature/contract' });
    const cases: Array<[string, PipelineAppStage, readonly string[]]> = [
      // DatabaseSecretName: an existing secret's name; a preview's secret is RDS's, named by RDS.
      // SecretRotationFunctionName: an existing secret that the environment rotates (databaseRotationDays).
      ['development', synthStage({ environmentSuffix: 'c-dev' }).stage, ['DatabaseSecretName', 'SecretRotationFunctionName']],
      [
        'production',
        synthStage({ environmentSuffix: 'c-prod', profile: 'production' }).stage,
        ['BackupVaultName', 'RestoreDrillTaskDefinitionArn', 'RestoreDrillRuleName', 'DatabaseSecretName', 'SecretRotationFunctionName'],
      ],
      [
        'preview with a post-deploy step',
        new PipelineAppStage(testApp(), 'preview', {
          config: preview,
          postDeploy: { trustedRoleArn: 'arn:aws:iam::111111111111:role/hipaa-fhir-preview-integ-test', suite: 'integ' },
        }),
        // The integration suite reads back through the API as the reader role.
        ['PostDeployRoleArn', 'ReaderRoleArn'],
      ],
    ];
    test.each(cases)('%s', (_name, stage, optionalPresent) => {
      for (const layer of LAYERS) {
        const keys = Object.keys(Template.fromStack(stage.stacks[layer]).findOutputs('*')).filter(
          (k) => !/^(ExportsOutput|PublishOutput)/.test(k),
        );
        // (CDK's own outputs for cross-stack references, ExportsOutput*/PublishOutput*, are not the contract's.)
        const declared = LAYER_OUTPUTS[layer];
        const expected = [...declared.required, ...declared.optional.filter((k) => optionalPresent.includes(k))];
        expect([layer, keys.sort()]).toEqual([layer, [...expected].sort()]);
      }
    });
  });
});
