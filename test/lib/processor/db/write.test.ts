import { readdirSync, readFileSync } from 'fs';
import { join, relative } from 'path';
import { hexQuarantineKey, originalPartitionKey } from '../../../../lib/processor/db/quarantine-key';

const PROCESSOR = join(__dirname, '../../../../lib/processor');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('one write path', () => {
  test('only db/write.ts writes resources: the stream batch and the re-drive share its statement', () => {
    const writers = sources(PROCESSOR)
      .filter((file) => /INSERT INTO fhir_resource_(history|current)|UPDATE fhir_resource_current/.test(readFileSync(file, 'utf8')))
      .map((file) => relative(PROCESSOR, file));
    expect(writers).toEqual(['db/write.ts']);
  });

  test('the last-resort partition key is read back as the key the record arrived with', () => {
    const key = hexQuarantineKey('évil\u0000-7', '23514');
    expect(key.partitionKey).toMatch(/^hex:[0-9a-f]+$/);
    expect(
      originalPartitionKey({ partition_key: key.partitionKey, partition_key_raw: null, reason_code: 'UNSTORABLE', detail: key.detail }),
    ).toBe('évil\u0000-7');
  });
});
