import { AppSettings, appSettings } from '../../lib/config';
import { suffixProblem } from '../../lib/contract';
import { UsageError } from './cli';

/**
 * The project and region an operator command works on: its `--project`/`--region` flags, else `$PROJECT` and
 * `$AWS_REGION`, else cdk.json's (read only when a value is missing). A region that is not a region name is a
 * usage error.
 */
export function commandTarget(flags: { readonly project?: string; readonly region?: string }, env: NodeJS.ProcessEnv): AppSettings {
  let project = flags.project ?? env.PROJECT;
  let region = flags.region ?? env.AWS_REGION;
  if (project === undefined || region === undefined) {
    const app = appSettings();
    project ??= app.project;
    region ??= app.region;
  }
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region))
    throw new UsageError(`--region "${region.slice(0, 40)}" is not a region name such as eu-west-2`);
  return { project, region };
}

/**
 * `--suffix` of a command that acts on one environment's records (send, redrive, audit:verify): named explicitly,
 * never taken from the shell, and a valid environmentSuffix.
 */
export function environmentSuffix(suffix: string | undefined): string {
  if (!suffix) throw new UsageError('--suffix is required: local, or the environmentSuffix of a deployed environment (dev, prod, ...)');
  const problem = suffixProblem(suffix);
  if (problem) throw new UsageError(`--suffix "${suffix.slice(0, 40)}" is invalid: ${problem}`);
  return suffix;
}
