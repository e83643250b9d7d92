import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';

/**
 * Reads a one-off task's log stream forward from where the last read stopped (the re-drive, the restore
 * drill, the integration suite's verifier). GetLogEvents returns the token it was given once the end of the
 * stream is reached, and the stream exists only once the container has started.
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetLogEvents.html
 */
export class TaskLog {
  private token: string | undefined;

  constructor(
    private readonly logs: CloudWatchLogsClient,
    private readonly group: string,
    private readonly stream: string,
  ) {}

  /** The messages written since the last read (none while the stream does not exist yet). */
  async read(): Promise<string[]> {
    const lines: string[] = [];
    for (let page = 0; page < 100; page++) {
      let out;
      try {
        out = await this.logs.send(
          new GetLogEventsCommand({ logGroupName: this.group, logStreamName: this.stream, startFromHead: true, nextToken: this.token }),
        );
      } catch (error) {
        if ((error as Error).name === 'ResourceNotFoundException') return lines;
        throw error;
      }
      for (const event of out.events ?? []) lines.push(event.message ?? '');
      if (!out.nextForwardToken || out.nextForwardToken === this.token) return lines;
      this.token = out.nextForwardToken;
    }
    return lines;
  }
}

/** Where a stage's one-off tasks run: its processor cluster, workload subnets and security group (stage outputs). */
export function workloadPlacement(outputs: {
  readonly ProcessorClusterName: string;
  readonly WorkloadSubnetIds: string;
  readonly WorkloadSecurityGroupId: string;
}): { cluster: string; subnets: string[]; securityGroups: string[] } {
  return {
    cluster: outputs.ProcessorClusterName,
    subnets: outputs.WorkloadSubnetIds.split(','),
    securityGroups: [outputs.WorkloadSecurityGroupId],
  };
}
