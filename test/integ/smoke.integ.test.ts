/**
 * Post-deploy smoke test for production: checks the environment is up without writing any
 * record to it. Reads only cfn-outputs/flat-outputs.json (and AWS credentials).
 */
import { DescribeServicesCommand, ECSClient } from '@aws-sdk/client-ecs';
import { DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis';
import { createKinesisClient } from '../../lib/processor/service/kinesis-client';
import { isLocal, readFlatOutputs } from './outputs';

const outputs = readFlatOutputs();

describe(`environment ${outputs.EnvironmentSuffix}: smoke`, () => {
  test('the stream is active and encrypted with its customer managed key', async () => {
    const kinesis = createKinesisClient({ region: outputs.AwsRegion, kinesisEndpoint: outputs.KinesisEndpoint });
    try {
      const s = (await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: outputs.StreamName }))).StreamDescriptionSummary!;
      expect(s.StreamStatus).toBe('ACTIVE');
      if (!isLocal(outputs)) {
        expect(s.EncryptionType).toBe('KMS');
        expect(s.KeyId).toBe(outputs.StreamKeyArn);
      }
    } finally {
      kinesis.destroy();
    }
  });

  (isLocal(outputs) ? test.skip : test)('the processor service runs its desired tasks on a settled deployment', async () => {
    const ecs = new ECSClient({ region: outputs.AwsRegion });
    try {
      const service = (
        await ecs.send(new DescribeServicesCommand({ cluster: outputs.ProcessorClusterName, services: [outputs.ProcessorServiceName] }))
      ).services![0];
      expect(service.status).toBe('ACTIVE');
      expect(service.runningCount).toBeGreaterThanOrEqual(1);
      expect(service.runningCount).toBe(service.desiredCount);
      expect(service.deployments?.filter((d) => d.rolloutState !== 'COMPLETED')).toEqual([]);
    } finally {
      ecs.destroy();
    }
  });
});
