import * as codebuild from 'aws-cdk-lib/aws-codebuild';

/**
 * The CodeBuild image of every build of this project. Ubuntu standard 8.0 carries Node.js 24 as a
 * selectable runtime (its runtimes.yml lists `nodejs: 24` and 22; standard 7.0 ships the binary but
 * does not list it, aws/aws-codebuild-docker-images#803):
 * https://github.com/aws/aws-codebuild-docker-images/blob/master/ubuntu/standard/8.0/runtimes.yml
 */
export const BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_8_0;

/** The Node.js major every build pins, the one package.json `engines` and the processor image use. */
export const NODE_MAJOR = 24;

/**
 * The install phase that pins Node.js: without `runtime-versions` CodeBuild uses the image's default,
 * which changes when a version reaches end of life.
 * https://docs.aws.amazon.com/codebuild/latest/userguide/runtime-versions.html
 */
export const NODE_RUNTIME_PHASE = { 'runtime-versions': { nodejs: NODE_MAJOR } } as const;
