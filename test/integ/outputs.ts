import { readFileSync } from 'fs';
import { join } from 'path';
import { FlatOutputs, LAYER_OUTPUTS, LAYERS } from '../../lib/contract/environment';

export type { FlatOutputs };

/** True for the local stack (kinesalite + embedded PostgreSQL). */
export const isLocal = (outputs: Readonly<Record<string, string | undefined>>) => outputs.KinesisEndpoint !== undefined;

/**
 * The flat map written by scripts/operations/write-flat-outputs.ts (AWS) or scripts/local/local.ts (offline), typed by the
 * environment contract's output keys (a misspelt key does not compile). A deployed stage has every required
 * key (checked here); the local stack has only EnvironmentSuffix, AwsRegion, the stream and the local keys,
 * which are all the local code paths read.
 */
export function readFlatOutputs(
  path = process.env.FLAT_OUTPUTS ?? join(__dirname, '..', '..', 'cfn-outputs', 'flat-outputs.json'),
): FlatOutputs {
  let outputs: Record<string, string>;
  try {
    outputs = JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
  } catch (error) {
    throw new Error(
      `cannot read ${path}: run scripts/operations/write-flat-outputs.ts (AWS) or npm run local -- --keep (offline) first (${(error as Error).message})`,
      { cause: error },
    );
  }
  // A deployed stage has every required output of the contract; the local stack has its own few.
  const required = isLocal(outputs)
    ? ['EnvironmentSuffix', 'AwsRegion', 'StreamName']
    : LAYERS.flatMap((layer) => [...LAYER_OUTPUTS[layer].required]);
  const missing = required.filter((key) => !outputs[key]);
  if (missing.length > 0) throw new Error(`${path} has no ${missing.join(', ')}: is every stack of the stage deployed and complete?`);
  return outputs as unknown as FlatOutputs;
}
