import { readFileSync } from 'fs';
import * as path from 'path';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';

/**
 * The CodeBuild image of every build of this project, by its image id (aws-cdk-lib 2.271, held for the
 * asset builds below, has no STANDARD_8_0 constant). Ubuntu standard 8.0 carries Node.js 24 as a
 * selectable runtime (its runtimes.yml lists `nodejs: 24` and 22; standard 7.0 ships the binary but
 * does not list it, aws/aws-codebuild-docker-images#803):
 * https://github.com/aws/aws-codebuild-docker-images/blob/master/ubuntu/standard/8.0/runtimes.yml
 */
export const BUILD_IMAGE = codebuild.LinuxBuildImage.fromCodeBuildImageId('aws/codebuild/standard:8.0');

/** The Node.js major every build pins, the one package.json `engines` and the processor image use. */
export const NODE_MAJOR = 24;

/**
 * The install phase that pins Node.js: without `runtime-versions` CodeBuild uses the image's default,
 * which changes when a version reaches end of life.
 * https://docs.aws.amazon.com/codebuild/latest/userguide/runtime-versions.html
 */
export const NODE_RUNTIME_PHASE = { 'runtime-versions': { nodejs: NODE_MAJOR } } as const;

/** The part of an npm v7+ lock file (lockfileVersion 2 or 3) this project reads. */
export interface PackageLock {
  readonly lockfileVersion?: number;
  readonly packages?: Readonly<Record<string, { readonly version?: string } | undefined>>;
}

export const PACKAGE_LOCK_PATH = path.join(__dirname, '..', '..', 'package-lock.json');

/**
 * The exact version of a top-level dependency in the lock file: what `npm ci` installs, so the
 * pipeline's own CDK builds run the very CLI the developers and the Synth step run.
 */
export function lockedVersion(lock: PackageLock, name: string): string {
  const version = lock.packages?.[`node_modules/${name}`]?.version;
  if (!version || !/^\d+\.\d+\.\d+$/.test(version)) {
    throw new Error(`package-lock.json has no exact version of ${name}: run npm install ${name} --save-exact and commit the lock file`);
  }
  return version;
}

export function readPackageLock(file = PACKAGE_LOCK_PATH): PackageLock {
  return JSON.parse(readFileSync(file, 'utf8')) as PackageLock;
}

/**
 * cdk-assets publishes the assets in CDK Pipelines' asset builds, and refuses an asset manifest whose
 * cloud assembly schema major is newer than its own ("Cloud assembly schema version mismatch"). It is a
 * devDependency so that the lock file pins the very version the pipeline installs and
 * test/lib/pipeline/asset-manifests.test.ts runs that version's `cdk-assets ls` on every asset manifest of
 * the synthesized assembly. This is why aws-cdk-lib is held at 2.271.0: 2.273.0 and later write schema 55,
 * which no published cdk-assets (4.7.3 is the newest) reads. Raise both together, when that test passes.
 */
export const CDK_ASSETS_PACKAGE = 'cdk-assets';

/** The CLI versions of the self-mutation and asset builds: the lock file's. */
export function cdkToolVersions(lock: PackageLock = readPackageLock()): { readonly cli: string; readonly cdkAssets: string } {
  return { cli: lockedVersion(lock, 'aws-cdk'), cdkAssets: lockedVersion(lock, CDK_ASSETS_PACKAGE) };
}
