import { Duration } from 'aws-cdk-lib';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import { CodeBuildStep, CodePipelineSource } from 'aws-cdk-lib/pipelines';

/** The build's Stryker test processes: the LARGE compute type has 8 vCPUs, and each module's PostgreSQL needs some. */
export const MUTATION_CONCURRENCY = 4;

/**
 * `npm run test:mutation` (scripts/checks/mutation.ts): StrykerJS over the processor's core and the configuration,
 * failing when a module scores below 90%. An hour or more of CPU, too slow for Synth's `npm test`: it runs beside
 * the first non-production environment's integration suite, so a suite that would let a wrong change through
 * stops promotion before the production approval, without delaying the deploy to dev. It needs no AWS access.
 */
export class MutationTestStep extends CodeBuildStep {
  constructor(input: CodePipelineSource) {
    super('MutationTest', {
      input,
      installCommands: ['npm ci --no-audit --no-fund'],
      commands: [`npm run test:mutation -- --concurrency ${MUTATION_CONCURRENCY}`],
      buildEnvironment: { computeType: codebuild.ComputeType.LARGE },
      timeout: Duration.hours(4),
    });
  }
}
