/**
 * KPL aggregated records made by the reference implementation (awslabs' aws-kinesis-agg, the
 * Node counterpart of the Kinesis Producer Library's aggregation), never by our own decoder's code.
 */
interface Aggregator {
  addUserRecord(record: { partitionKey: string; explicitHashKey?: string; data: Buffer }): void;
  build(): { partitionKey: string; data: Buffer } | undefined;
}
interface AggLibrary {
  RecordAggregator: new () => Aggregator;
  deaggregateSync(
    record: { data: string; partitionKey: string; sequenceNumber: string },
    computeChecksums: boolean,
    done: (error: Error | null, records?: Array<{ partitionKey: string; subSequenceNumber: number; data: string }>) => void,
  ): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports -- its bundled typings import aws-sdk v2 and aws-lambda, which this project does not install
const agg = require('aws-kinesis-agg') as AggLibrary;

export interface UserRecord {
  readonly partitionKey: string;
  readonly data: Buffer;
  readonly explicitHashKey?: string;
}

/** One aggregated Kinesis record holding `records` in order, as the KPL would put it. */
export function kplAggregate(records: readonly UserRecord[]): { partitionKey: string; data: Buffer } {
  const aggregator = new agg.RecordAggregator();
  for (const r of records) aggregator.addUserRecord({ ...r });
  const built = aggregator.build();
  if (!built) throw new Error('aws-kinesis-agg built nothing: pass at least one user record');
  return built;
}

/** The reference de-aggregation (checksums on), to compare ours against. */
export function referenceDeaggregate(data: Buffer): Array<{ partitionKey: string; subSequenceNumber: number; data: Buffer }> {
  let out: Array<{ partitionKey: string; subSequenceNumber: number; data: Buffer }> | undefined;
  agg.deaggregateSync({ data: data.toString('base64'), partitionKey: 'outer', sequenceNumber: '1' }, true, (error, records) => {
    if (error) throw error;
    out = records!.map((r) => ({
      partitionKey: r.partitionKey,
      subSequenceNumber: r.subSequenceNumber,
      data: Buffer.from(r.data, 'base64'),
    }));
  });
  return out!;
}
