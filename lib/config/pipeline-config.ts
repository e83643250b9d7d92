import type { EnvironmentConfig } from './environment-config';
import type { DefaultedPipeline } from './generated/cdk-context';
import { Problems } from './problems';

/**
 * The delivery pipeline: the settings of `pipeline` with the schema's defaults (see
 * cdk-context.schema.json for each one), its account resolved, and the environments it deploys, in order.
 */
export interface PipelineConfig extends DefaultedPipeline {
  readonly project: string;
  /** Pipeline account: from config, else the context account, else the connection's account. */
  readonly account: string;
  readonly region: string;
  /** Non-production environments first, then production ones (each behind a manual approval). */
  readonly environments: readonly EnvironmentConfig[];
}

/** `arn:<partition>:<service>:<region>:<account>:connection/<id>`: the schema has checked the form. */
function connectionParts(connectionArn: string): { region: string; account: string } {
  const [, , , region, account] = connectionArn.split(':');
  return { region, account };
}

/**
 * The pipeline of a validated `pipeline` setting (validateContext has required at least one environment).
 * Environments are deployed non-production first, then production; the connection must be in the pipeline's region.
 */
export function pipelineConfig(
  pipeline: DefaultedPipeline,
  context: { project: string; region: string; account?: string },
  environments: readonly EnvironmentConfig[],
  problems: Problems,
): PipelineConfig | undefined {
  const connection = connectionParts(pipeline.connectionArn);
  const before = problems.count;
  if (connection.region !== context.region) {
    // Name the region first: a mistyped "region" is the usual cause, not the ARN.
    problems.add(
      `region "${context.region}" does not match pipeline.connectionArn, whose connection is in ${connection.region}: the pipeline runs in the connection's region; set "region" to ${connection.region} or use a connection created in ${context.region}`,
    );
  }
  if (problems.count > before) return undefined;
  return {
    ...pipeline,
    project: context.project,
    account: pipeline.account ?? context.account ?? connection.account,
    region: context.region,
    environments: [...environments.filter((e) => e.profile !== 'production'), ...environments.filter((e) => e.profile === 'production')],
  };
}
