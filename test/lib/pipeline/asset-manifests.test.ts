import { spawnSync } from 'child_process';
import { mkdtempSync, readdirSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join, relative } from 'path';
import { MATRIX_BRANCH, readCdkContext, synthInto } from '../../../scripts/access-matrix/assembly';

const ROOT = join(__dirname, '..', '..', '..');
// The locked cdk-assets, the very version the pipeline's asset builds install (cdkToolVersions()).
const CDK_ASSETS = join(ROOT, 'node_modules', 'cdk-assets', 'bin', 'cdk-assets');

function assetManifests(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.assets.json'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** `cdk-assets ls` of one manifest: what the Assets stage's builds run first (`cdk-assets publish` loads it the same way). */
function cdkAssetsList(manifest: string): { status: number | null; out: string } {
  const run = spawnSync(process.execPath, [CDK_ASSETS, '--path', manifest, 'ls'], { encoding: 'utf8' });
  return { status: run.status, out: `${run.stdout}${run.stderr}` };
}

describe("every asset manifest of the synthesized app is readable by the pipeline's cdk-assets", () => {
  const outdirs: string[] = [];
  afterAll(() => outdirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  test.each([
    ['the delivery app', {}],
    ['a preview', { branch: MATRIX_BRANCH }],
  ])('%s', (_name, extra) => {
    const outdir = mkdtempSync(join(tmpdir(), 'asset-manifests-'));
    outdirs.push(outdir);
    synthInto(outdir, { ...readCdkContext(ROOT), ...extra });
    const manifests = assetManifests(outdir);
    expect(manifests.length).toBeGreaterThan(0);
    const results = manifests.map((m) => ({ manifest: relative(outdir, m), ...cdkAssetsList(m) }));
    // A schema newer than cdk-assets reads fails here with "Cloud assembly schema version mismatch".
    expect(results.filter((r) => r.status !== 0).map((r) => `${r.manifest}: ${r.out.trim().split('\n')[0]}`)).toEqual([]);
    // The processor image is among what the Assets stage publishes, and cdk-assets resolves its Dockerfile.
    expect(results.some((r) => /docker-image .*"dockerFile":"lib\/processor\/Dockerfile"/.test(r.out))).toBe(true);
  });
});
