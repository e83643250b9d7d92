import { readFileSync } from 'fs';
import { join } from 'path';

/** The flat map written by scripts/write-flat-outputs.ts (AWS) or scripts/local.ts (offline). */
export type FlatOutputs = Readonly<Record<string, string>>;

export function readFlatOutputs(path = process.env.FLAT_OUTPUTS ?? join(__dirname, '..', '..', 'cfn-outputs', 'flat-outputs.json')): FlatOutputs {
  let outputs: FlatOutputs;
  try {
    outputs = JSON.parse(readFileSync(path, 'utf8')) as FlatOutputs;
  } catch (error) {
    throw new Error(`cannot read ${path}: run scripts/write-flat-outputs.ts (AWS) or npm run local -- --keep (offline) first (${(error as Error).message})`);
  }
  for (const key of ['EnvironmentSuffix', 'AwsRegion', 'StreamName']) {
    if (!outputs[key]) throw new Error(`${path} has no ${key}`);
  }
  return outputs;
}

/** True for the local stack (kinesalite + embedded PostgreSQL). */
export const isLocal = (outputs: FlatOutputs) => outputs.KinesisEndpoint !== undefined;
