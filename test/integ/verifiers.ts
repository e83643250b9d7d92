import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { ECSClient } from '@aws-sdk/client-ecs';
import { Pool } from 'pg';
import { RunSummary, verifyRun } from '../../lib/processor/tasks/verify/main';
import { startTask, untilStopped } from '../../lib/constructs/handlers/one-off-task';
import { processorCommand, PROCESSOR_CONTAINER_NAME } from '../../lib/contract/processor';
import { TaskLog, workloadPlacement } from '../../scripts/shared/one-off-task';
import type { FlatOutputs } from './outputs';

/** What each verifier reads of the flat outputs. */
export type LocalVerifierOutputs = Pick<
  FlatOutputs,
  'StreamName' | 'DatabaseEndpointAddress' | 'DatabaseEndpointPort' | 'DatabaseName' | 'LocalDatabaseUser' | 'LocalDatabasePassword'
>;
export type EcsVerifierOutputs = Pick<
  FlatOutputs,
  | 'AwsRegion'
  | 'ProcessorClusterName'
  | 'ProcessorTaskDefinitionArn'
  | 'WorkloadSubnetIds'
  | 'WorkloadSecurityGroupId'
  | 'ProcessorLogGroupName'
>;

/** Reads what the database holds for one test run. */
export interface Verifier {
  verify(runId: string): Promise<RunSummary>;
  close(): Promise<void>;
}

/** One session to the local stack's database as its superuser (`options`: e.g. `-c role=...`). */
export function localPool(outputs: Omit<LocalVerifierOutputs, 'StreamName'>, options?: string): Pool {
  return new Pool({
    host: outputs.DatabaseEndpointAddress,
    port: Number(outputs.DatabaseEndpointPort),
    database: outputs.DatabaseName,
    user: outputs.LocalDatabaseUser,
    password: outputs.LocalDatabasePassword,
    max: 1,
    options,
  });
}

/** The local stack: the database is on this machine. */
export class LocalVerifier implements Verifier {
  private readonly pool: Pool;

  constructor(private readonly outputs: LocalVerifierOutputs) {
    this.pool = localPool(outputs, '-c role=fhir_writer');
  }

  verify(runId: string): Promise<RunSummary> {
    return verifyRun(this.pool, runId, 'integration-test', this.outputs.StreamName);
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

/**
 * AWS: the database is reachable only inside the VPC, so run the processor's own task
 * definition once with `node dist/processor/tasks/verify/main.js --run-id <id>` in the workload subnets, wait for it
 * to stop, and read its one JSON line from the processor log group.
 */
export class EcsVerifier implements Verifier {
  constructor(
    private readonly outputs: EcsVerifierOutputs,
    private readonly ecs = new ECSClient({ region: outputs.AwsRegion }),
    private readonly logs = new CloudWatchLogsClient({ region: outputs.AwsRegion }),
    private readonly maxWaitSeconds = 600,
  ) {}

  async verify(runId: string): Promise<RunSummary> {
    const o = this.outputs;
    const taskArn = await startTask(
      this.ecs,
      {
        ...workloadPlacement(o),
        taskDefinition: o.ProcessorTaskDefinitionArn,
        startedBy: `integ-${runId}`.slice(0, 36),
        overrides: { containerOverrides: [{ name: PROCESSOR_CONTAINER_NAME, command: processorCommand('verify', '--run-id', runId) }] },
      },
      'the verify task',
    );
    const deadline = Date.now() + this.maxWaitSeconds * 1000;
    const task = await untilStopped(this.ecs, {
      cluster: o.ProcessorClusterName,
      taskArn,
      intervalMs: 5_000,
      onPoll: (described) => {
        if (described?.lastStatus !== 'STOPPED' && Date.now() >= deadline)
          throw new Error(`verify task ${taskArn} did not stop within ${this.maxWaitSeconds} s`);
      },
    });
    const container = task.containers?.find((c) => c.name === PROCESSOR_CONTAINER_NAME);
    if (container?.exitCode !== 0)
      throw new Error(`verify task exited with ${container?.exitCode ?? 'no code'}: ${container?.reason ?? task.stoppedReason ?? ''}`);
    const taskId = taskArn.split('/').pop()!;
    const lines = await new TaskLog(this.logs, o.ProcessorLogGroupName, `processor/processor/${taskId}`).read();
    const line = lines.find((m) => m.startsWith('{"verify"'));
    if (!line) throw new Error(`verify task ${taskId} wrote no summary`);
    return (JSON.parse(line) as { verify: RunSummary }).verify;
  }

  async close(): Promise<void> {
    this.ecs.destroy();
    this.logs.destroy();
  }
}
