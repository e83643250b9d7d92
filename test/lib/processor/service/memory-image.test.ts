import { readFileSync } from 'fs';
import { join } from 'path';
import { PROFILE_DEFAULTS } from '../../../../lib/config/environment-config';
import { PROCESSOR_ENTRY_POINTS } from '../../../../lib/contract';
import { DEFAULT_MAX_IN_FLIGHT_BYTES } from '../../../../lib/processor/config';

const MiB = 1024 * 1024;

describe("the image's V8 heap caps: a backstop behind the record budget, inside the task's memory", () => {
  const dockerfile = readFileSync(join(__dirname, '../../../../lib/processor/Dockerfile'), 'utf8');
  const cmd = JSON.parse(/^CMD\s+(\[.*\])\s*$/m.exec(dockerfile)![1]) as string[];
  const flag = (name: string) => Number(cmd.find((a) => a.startsWith(`--${name}=`))?.split('=')[1]);

  test('the service starts with both caps', () => {
    expect(cmd[cmd.length - 1]).toBe(PROCESSOR_ENTRY_POINTS.service);
    expect(flag('max-old-space-size')).toBeGreaterThan(0);
    expect(flag('max-semi-space-size')).toBeGreaterThan(0);
  });

  test('old generation + young generation (3 semi-spaces) + the in-flight payload twice (its Buffers live outside the heap) fit the smallest task', () => {
    const heap = flag('max-old-space-size') + 3 * flag('max-semi-space-size');
    const smallest = Math.min(...Object.values(PROFILE_DEFAULTS).map((p) => p.processor.memoryMiB));
    expect(heap + (2 * DEFAULT_MAX_IN_FLIGHT_BYTES) / MiB).toBeLessThan(smallest);
    // And the old generation holds the budget's payload as strings (up to twice its bytes) beside a live heap of tens of MB.
    expect(flag('max-old-space-size')).toBeGreaterThan((2 * DEFAULT_MAX_IN_FLIGHT_BYTES) / MiB + 64);
  });
});
