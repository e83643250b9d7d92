import { readFileSync } from 'fs';
import { join } from 'path';
import {
  BUILD_IMAGE,
  cdkToolVersions,
  lockedVersion,
  NODE_MAJOR,
  NODE_RUNTIME_PHASE,
  readPackageLock,
} from '../../../lib/pipeline/build-environment';

const ROOT = join(__dirname, '..', '..', '..');

describe('build environment', () => {
  test('every build runs on CodeBuild standard 8.0, the image that lists Node.js 24 as a runtime', () => {
    expect(BUILD_IMAGE.imageId).toBe('aws/codebuild/standard:8.0');
    expect(BUILD_IMAGE.type).toBe('LINUX_CONTAINER');
  });

  test("the install phase pins the Node.js major of .nvmrc (never the image's default)", () => {
    const nvmrcMajor = Number(readFileSync(join(ROOT, '.nvmrc'), 'utf8').trim().replace(/^v/, '').split('.')[0]);
    expect(NODE_MAJOR).toBe(nvmrcMajor);
    expect(NODE_MAJOR).toBe(24);
    expect(NODE_RUNTIME_PHASE).toEqual({ 'runtime-versions': { nodejs: NODE_MAJOR } });
  });

  test('the CDK CLI and cdk-assets versions of the pipeline builds are the ones package-lock.json installs (package.json pins them exactly)', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    const { cli, cdkAssets } = cdkToolVersions();
    expect(cli).toBe(pkg.devDependencies['aws-cdk']);
    expect(cli).toBe(lockedVersion(readPackageLock(), 'aws-cdk'));
    expect(cli).toMatch(/^2\.\d+\.\d+$/);
    expect(cdkAssets).toBe(pkg.devDependencies['cdk-assets']);
    expect(cdkAssets).toBe(lockedVersion(readPackageLock(), 'cdk-assets'));
  });

  test('lockedVersion refuses a lock file without an exact version, naming the package and the fix', () => {
    const lock = { lockfileVersion: 3, packages: { 'node_modules/a': { version: '1.2.3' }, 'node_modules/b': { version: '^1.0.0' } } };
    expect(lockedVersion(lock, 'a')).toBe('1.2.3');
    for (const name of ['b', 'missing']) {
      expect(() => lockedVersion(lock, name)).toThrow(
        `package-lock.json has no exact version of ${name}: run npm install ${name} --save-exact and commit the lock file`,
      );
    }
    expect(() => lockedVersion({}, 'a')).toThrow('package-lock.json has no exact version of a');
  });
});
