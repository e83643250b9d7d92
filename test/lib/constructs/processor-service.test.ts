import { spawnSync } from 'child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { PROCESSOR_ENTRY_POINTS } from '../../../lib/contract';
import { synthStage } from '../../helpers';

const ROOT = join(__dirname, '..', '..', '..');

describe('ProcessorService image (built by the pipeline from the staged asset; no Docker here)', () => {
  const { stage } = synthStage({ environmentSuffix: 'img' });
  const assembly = stage.synth();
  const manifest = assembly.artifacts.find((a): a is cxapi.AssetManifestArtifact => a instanceof cxapi.AssetManifestArtifact && a.id.startsWith(stage.compute.artifactId))!;
  const [image] = Object.values(manifest.contents.dockerImages ?? {});
  const staged = join(assembly.directory, image.source.directory!);
  const work = mkdtempSync(join(tmpdir(), 'image-context-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  test('the build context holds only what the image build reads', () => {
    expect(readdirSync(staged).sort()).toEqual(['lib', 'package-lock.json', 'package.json', 'tsconfig.json']);
    expect(readdirSync(join(staged, 'lib')).sort()).toEqual(['contract', 'processor']);
  });

  test('the context compiles with the Dockerfile\'s command into every entry point the contract names, and the service entry starts', () => {
    // The Dockerfile's build stage: `npx tsc -p lib/processor/tsconfig.build.json` in the context
    // (node_modules from the repository stand in for its `npm ci`).
    cpSync(staged, work, { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(work, 'node_modules'), 'dir');
    const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'lib/processor/tsconfig.build.json'], { cwd: work, encoding: 'utf8' });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
    for (const entry of Object.values(PROCESSOR_ENTRY_POINTS)) expect([entry, existsSync(join(work, entry))]).toEqual([entry, true]);
    // With no configuration the service stops at once with one line and exit 2 (it loaded everything it imports).
    const run = spawnSync(process.execPath, [PROCESSOR_ENTRY_POINTS.service], { cwd: work, env: { PATH: process.env.PATH }, encoding: 'utf8' });
    expect([run.status, run.stderr.trim()]).toEqual([2, 'configuration error: STREAM_NAME is required']);
  }, 120_000);
});
