import { readFileSync } from 'fs';
import { join } from 'path';
import { validateContext } from './context';

/** cdk.json at the root of the repository. */
export const CDK_JSON_PATH = join(__dirname, '..', '..', 'cdk.json');

/** The `context` of cdk.json, as the CDK CLI reads it. */
export function cdkJsonContext(path = CDK_JSON_PATH): Record<string, unknown> {
  return { ...(JSON.parse(readFileSync(path, 'utf8')) as { context?: Record<string, unknown> }).context };
}

/** What the operator and developer scripts need to know of the app. */
export interface AppSettings {
  readonly project: string;
  /** The app's region, as `cdk synth` uses it without CDK_DEFAULT_REGION (the schema's default when cdk.json names none). */
  readonly region: string;
}

/**
 * The project name and region of the app's configuration, checked by the same schema as `cdk synth`
 * (an invalid cdk.json fails here with the same lines). For scripts: their defaults come from here, not
 * from literals of their own.
 */
export function appSettings(context: Readonly<Record<string, unknown>> = cdkJsonContext()): AppSettings {
  const { project, region } = validateContext(context);
  return { project, region };
}
