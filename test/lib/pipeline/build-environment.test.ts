import { readFileSync } from 'fs';
import { join } from 'path';
import { BUILD_IMAGE, NODE_MAJOR, NODE_RUNTIME_PHASE } from '../../../lib/pipeline/build-environment';

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
});
