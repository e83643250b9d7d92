import { EmfMetrics } from '../../../lib/processor/metrics';

describe('EMF metrics', () => {
  test('a batch becomes EMF documents: the counts with the stream dimension, its position also per shard, quarantines per reason', async () => {
    delete process.env.AWS_EMF_ENVIRONMENT;
    const lines: string[] = [];
    const spy = jest.spyOn(console, 'log').mockImplementation((line: string) => {
      lines.push(line);
    });
    try {
      await new EmfMetrics('HipaaFhir/Processor', 'stream-x').batch({
        shardId: 'shard-1',
        records: 10,
        written: 7,
        duplicates: 1,
        stale: 1,
        quarantined: 1,
        batchLatencyMs: 12,
        millisBehindLatest: 300,
        quarantinedByReason: { NOT_JSON: 1, INVALID_FHIR: 0 },
      });
    } finally {
      spy.mockRestore();
    }
    // Loading the library set the stdout environment, so it never probed instance metadata.
    expect(process.env.AWS_EMF_ENVIRONMENT).toBe('Local');
    const doc = JSON.parse(lines[0]);
    expect(doc._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'HipaaFhir/Processor', Dimensions: [['StreamName']] });
    expect(doc).toMatchObject({
      StreamName: 'stream-x',
      ShardId: 'shard-1',
      RecordsProcessed: 10,
      RecordsPersisted: 7,
      RecordsQuarantined: 1,
      BatchLatency: 12,
    });
    const behind = JSON.parse(lines[1]);
    expect(behind._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: 'HipaaFhir/Processor',
      Dimensions: [['StreamName'], ['StreamName', 'ShardId']],
      Metrics: [{ Name: 'MillisBehindLatest', Unit: 'Milliseconds' }],
    });
    expect(behind).toMatchObject({ StreamName: 'stream-x', ShardId: 'shard-1', MillisBehindLatest: 300 });
    // One document per reason with a count (a zero is not emitted).
    expect(lines).toHaveLength(3);
    const reason = JSON.parse(lines[2]);
    expect(reason._aws.CloudWatchMetrics[0]).toMatchObject({
      Dimensions: [['StreamName', 'ReasonCode']],
      Metrics: [{ Name: 'RecordsQuarantinedByReason', Unit: 'Count' }],
    });
    expect(reason).toMatchObject({ StreamName: 'stream-x', ReasonCode: 'NOT_JSON', RecordsQuarantinedByReason: 1 });
  });
});

describe('stuck-shard metric', () => {
  test('a stuck shard emits ShardStuck = 1 (the alarm metric); a committed batch emits ShardStuck = 0', async () => {
    const lines: string[] = [];
    const spy = jest.spyOn(console, 'log').mockImplementation((line: string) => {
      lines.push(line);
    });
    try {
      const metrics = new EmfMetrics('HipaaFhir/Processor', 'stream-x');
      await metrics.shardStuck({ shardId: 'shard-9', attempts: 4 });
      await metrics.batch({
        shardId: 'shard-9',
        records: 1,
        written: 1,
        duplicates: 0,
        stale: 0,
        quarantined: 0,
        batchLatencyMs: 5,
        transactions: 3,
      });
    } finally {
      spy.mockRestore();
    }
    const [stuck, batch] = lines.map((l) => JSON.parse(l));
    expect(stuck._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'HipaaFhir/Processor', Dimensions: [['StreamName']] });
    expect(stuck).toMatchObject({ StreamName: 'stream-x', ShardId: 'shard-9', ShardStuck: 1, BatchAttempts: 4 });
    expect(batch).toMatchObject({ ShardStuck: 0, BatchTransactions: 3 });
  });
});
