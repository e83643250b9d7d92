/**
 * One temporary folder per Jest run, removed by global-teardown.ts: every temporary file of the run
 * (CDK's default cloud-assembly folders, which aws-cdk-lib never removes, synth outputs, embedded
 * PostgreSQL data, child processes' files) lands in it, so a run leaves nothing in the system's temp
 * directory, whether its tests pass or fail. Workers start after this and inherit TMPDIR.
 */
import { chmodSync, mkdtempSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

export const RUN_TMPDIR = 'HIPAA_FHIR_JEST_TMPDIR';

export default function globalSetup(): void {
  const dir = mkdtempSync(join(tmpdir(), 'hipaa-fhir-jest-'));
  // As root, embedded PostgreSQL runs as the unprivileged postgres user, which must traverse this folder.
  chmodSync(dir, 0o755);
  process.env[RUN_TMPDIR] = dir;
  process.env.TMPDIR = dir;
}
