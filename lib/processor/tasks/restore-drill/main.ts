/**
 * `node dist/processor/tasks/restore-drill/main.js`: runs the restore drill (drill.ts) once with the
 * task's environment and exits 0 when it verified the restore, 1 when it failed, 2 when misconfigured.
 */
import { CloudWatchLogsClient, CreateLogGroupCommand, PutRetentionPolicyCommand } from '@aws-sdk/client-cloudwatch-logs';
import { RDSClient } from '@aws-sdk/client-rds';
import { EnvironmentError } from '../../../contract/errors';
import { commandLogger } from '../../logger';
import { sleep } from '../../retry';
import { DrillTaskConfig, errText, iamSummarizer, loadDrillConfig, resultLine, runRestoreDrill } from './drill';
import { EmfDrillMetrics, NoDrillMetrics } from './metrics';

async function main(): Promise<number> {
  let config: DrillTaskConfig;
  try {
    config = loadDrillConfig(process.env);
  } catch (error) {
    if (error instanceof EnvironmentError) {
      process.stderr.write(`configuration error: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
  const logger = commandLogger('restore-drill');
  const rds = new RDSClient({ region: config.region, maxAttempts: 8, retryMode: 'adaptive' });
  const logs = new CloudWatchLogsClient({ region: config.region, maxAttempts: 8, retryMode: 'adaptive' });
  const createLogGroup = async (logGroupName: string, options: { kmsKeyArn: string; retentionDays: number }) => {
    try {
      await logs.send(new CreateLogGroupCommand({ logGroupName, kmsKeyId: options.kmsKeyArn }));
    } catch (error) {
      if ((error as Error).name !== 'ResourceAlreadyExistsException') throw error;
    }
    await logs.send(new PutRetentionPolicyCommand({ logGroupName, retentionInDays: options.retentionDays }));
  };
  try {
    const report = await runRestoreDrill(config.settings, {
      rds,
      summarize: iamSummarizer(config),
      metrics: config.metrics === 'emf' ? new EmfDrillMetrics() : new NoDrillMetrics(),
      logger,
      now: () => new Date(),
      sleep: (ms) => sleep(ms),
      createLogGroup,
    });
    // One JSON line (counts and times only) for `npm run restore-drill`, and the operator's line.
    process.stdout.write(`${JSON.stringify({ restoreDrill: report })}\n`);
    process.stdout.write(`${resultLine(report)}\n`);
    return report.ok ? 0 : 1;
  } finally {
    rds.destroy();
    logs.destroy();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.stdout.write('', () => process.exit(code)),
    (error) => {
      process.stderr.write(`restore drill FAILED: ${errText(error)}\n`);
      process.exit(1);
    },
  );
}
