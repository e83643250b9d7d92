/** Secrets Manager as far as a rotation function uses it: versions with staging labels, in memory (aws-sdk-client-mock). */
import {
  DescribeSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';

interface Version {
  value: string;
  stages: string[];
}

/** One secret whose first version (`v-old`) is AWSCURRENT with `initial`; GetRandomPassword returns `randomPassword`. */
export function fakeSecretsManager(
  ARN: string,
  initial: Record<string, unknown>,
  options: { rotationEnabled?: boolean; randomPassword: string },
) {
  const versions = new Map<string, Version>([['v-old', { value: JSON.stringify(initial), stages: ['AWSCURRENT'] }]]);
  const mock = mockClient(SecretsManagerClient);
  const notFound = () => new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret value", $metadata: {} });
  mock.on(DescribeSecretCommand).callsFake(() => ({
    ARN,
    RotationEnabled: options.rotationEnabled ?? true,
    VersionIdsToStages: Object.fromEntries([...versions].map(([id, v]) => [id, [...v.stages]])),
  }));
  mock.on(GetSecretValueCommand).callsFake((input: { VersionId?: string; VersionStage?: string }) => {
    const found = [...versions].find(
      ([id, v]) => (!input.VersionId || id === input.VersionId) && (!input.VersionStage || v.stages.includes(input.VersionStage)),
    );
    // A version Secrets Manager staged AWSPENDING when the rotation started has no value until createSecret puts one.
    if (!found || found[1].value === '') throw notFound();
    return { ARN, VersionId: found[0], SecretString: found[1].value, VersionStages: found[1].stages };
  });
  mock.on(GetRandomPasswordCommand).resolves({ RandomPassword: options.randomPassword });
  mock.on(PutSecretValueCommand).callsFake((input: { ClientRequestToken: string; SecretString: string; VersionStages: string[] }) => {
    for (const v of versions.values()) v.stages = v.stages.filter((s) => !input.VersionStages.includes(s));
    versions.set(input.ClientRequestToken, { value: input.SecretString, stages: [...input.VersionStages] });
    return { ARN, VersionId: input.ClientRequestToken };
  });
  mock
    .on(UpdateSecretVersionStageCommand)
    .callsFake((input: { VersionStage: string; MoveToVersionId: string; RemoveFromVersionId?: string }) => {
      const from = input.RemoveFromVersionId ? versions.get(input.RemoveFromVersionId) : undefined;
      if (from && input.VersionStage === 'AWSCURRENT') {
        for (const v of versions.values()) v.stages = v.stages.filter((s) => s !== 'AWSPREVIOUS');
        from.stages = [...from.stages.filter((s) => s !== 'AWSCURRENT'), 'AWSPREVIOUS'];
      }
      versions.get(input.MoveToVersionId)!.stages.push(input.VersionStage);
      return { ARN };
    });
  /** What Secrets Manager does before createSecret: a version id staged AWSPENDING with no value yet. */
  const startRotation = (token: string) => {
    for (const v of versions.values()) v.stages = v.stages.filter((s) => s !== 'AWSPENDING');
    versions.set(token, { value: '', stages: ['AWSPENDING'] });
  };
  const valueOf = (stage: string) => JSON.parse([...versions.values()].find((v) => v.stages.includes(stage))!.value);
  return { mock, versions, startRotation, valueOf };
}
