/**
 * One temporary folder per Jest run, removed by global-teardown.ts: every temporary file of the run
 * (CDK's default cloud-assembly folders, which aws-cdk-lib never removes, synth outputs, embedded
 * PostgreSQL data, child processes' files) lands in it, so a run leaves nothing in the system's temp
 * directory, whether its tests pass or fail. Workers start after this and inherit TMPDIR.
 */
import { chmodSync, mkdtempSync, statfsSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { RUN_TMPDIR } from '../../scripts/shared/child';

/** statfs f_type of tmpfs (linux/magic.h). */
const TMPFS_MAGIC = 0x01021994;
/** Free space a run needs in memory: a few PostgreSQL clusters of about 50 MB at once, and CDK assemblies. */
const MIN_FREE_BYTES = 2 * 1024 ** 3;

type StatFs = (path: string) => { type: number; bavail: bigint; bsize: bigint };

const realStatFs: StatFs = (path) => {
  const fs = statfsSync(path, { bigint: true });
  return { type: Number(fs.type), bavail: fs.bavail, bsize: fs.bsize };
};

/**
 * Where the run's folder goes. An explicit TMPDIR is obeyed. Otherwise /dev/shm when it is a tmpfs with at
 * least 2 GiB free: PostgreSQL runs with fsync on, and its writes and fsyncs on a disk-backed /tmp cost the
 * processor suites much system CPU (docs/testing.md has the figures). A small /dev/shm (Docker gives
 * containers 64 MB) or none (macOS) falls back to the system temp directory.
 */
export function runParentDir(
  options: { env?: NodeJS.ProcessEnv; shm?: string; fallback?: string; statfs?: StatFs; minFreeBytes?: number } = {},
): string {
  const { env = process.env, shm = '/dev/shm', fallback = tmpdir(), statfs = realStatFs, minFreeBytes = MIN_FREE_BYTES } = options;
  if (env.TMPDIR) return fallback;
  try {
    const fs = statfs(shm);
    if (fs.type === TMPFS_MAGIC && fs.bavail * fs.bsize >= BigInt(minFreeBytes)) return shm;
  } catch {
    // No such folder, or not readable: the system temp directory.
  }
  return fallback;
}

export default function globalSetup(): void {
  const dir = mkdtempSync(join(runParentDir(), 'hipaa-fhir-jest-'));
  // As root, embedded PostgreSQL runs as the unprivileged postgres user, which must traverse this folder.
  chmodSync(dir, 0o755);
  process.env[RUN_TMPDIR] = dir;
  process.env.TMPDIR = dir;
  // Node's on-disk compile cache for the run's child processes (the processor, PostgreSQL's launcher, bin/app.ts
  // as the CDK CLI runs it, the scripts): a later child reuses the code V8 compiled for an earlier one
  // (docs/testing.md has the measurement).
  process.env.NODE_COMPILE_CACHE = join(dir, 'node-compile-cache');
}
