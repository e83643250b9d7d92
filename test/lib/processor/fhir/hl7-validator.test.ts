import { existsSync, readFileSync } from 'fs';
import { join } from 'path';
import { validateRecord } from '../../../../lib/processor/fhir/validate';
import { DEFAULT_SOURCE, FIXTURES_DIR, renderFixtures, SelectedCase } from '../../../../scripts/generators/copy-hl7-validator-cases';

/**
 * Cases of HL7's validator test suite (test/fixtures/hl7-validator) where the processor deliberately differs,
 * with why; `detail` is the quarantine reason for a case HL7 finds valid, null for one the processor stores.
 */
const DIVERGENCES: Readonly<Record<string, { readonly why: string; readonly detail: RegExp | null }>> = Object.fromEntries([
  // Its only R4 core error is the digital signature (Bundle.signature), which HL7's validator verifies; the
  // pipeline keeps signatures as data and does not verify them. Stored.
  ['sig-bundle.json', { why: 'Bundle.signature is not verified', detail: null }],
  // R4 lets a resource have no id (a client creating it); a keyed store cannot hold one. Quarantined, saying so.
  ...[
    'snomed-ca',
    'jv-patient-good',
    'jv-patient-bad',
    'bb-obs-value-is-not-quantity',
    'bb-obs-value-is-not-in-valueset',
    'bb-obs-value-is-not-quantity-or-string',
    'shc',
    'shc-bundle',
    'sct-version-issue',
    'additional-bindings-observation-2',
  ].map((name) => [
    name,
    { why: 'no id: valid R4, but a stored resource needs one', detail: /\.id required: .*deliberate divergence from R4/ },
  ]),
]);

const index = JSON.parse(readFileSync(join(FIXTURES_DIR, 'cases.json'), 'utf8')) as { cases: SelectedCase[] };

describe("HL7's validator test suite: the in-scope R4 cases", () => {
  test('are the selection the rule makes from HL7 data (81 cases, valid and invalid ones)', () => {
    expect(index.cases.length).toBe(81);
    expect(index.cases.filter((c) => c.hl7 === 'valid').length).toBeGreaterThan(30);
    expect(index.cases.filter((c) => c.hl7 === 'invalid').length).toBeGreaterThan(30);
    for (const name of Object.keys(DIVERGENCES)) expect(index.cases.map((c) => c.name)).toContain(name);
  });

  test.each(index.cases.map((c) => [c.name, c] as const))("%s: the processor's verdict is HL7's", (_name, c) => {
    const result = validateRecord(readFileSync(join(FIXTURES_DIR, 'cases', c.file)), 1 << 24);
    const divergence = DIVERGENCES[c.name];
    if (divergence === undefined) {
      expect({ verdict: result.ok ? 'valid' : 'invalid', detail: result.ok ? '' : result.detail }).toEqual({
        verdict: c.hl7,
        detail: expect.any(String),
      });
      return;
    }
    if (divergence.detail === null) {
      expect({ hl7: c.hl7, stored: result.ok }).toEqual({ hl7: 'invalid', stored: true });
      return;
    }
    expect(c.hl7).toBe('valid');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.detail).toMatch(divergence.detail);
  });

  const source = process.env.HL7_CONFORMANCE_DIR ?? DEFAULT_SOURCE;
  (existsSync(source) ? test : test.skip)(
    'are up to date with shared/fhir-data (regenerate: scripts/generators/copy-hl7-validator-cases.ts)',
    () => {
      const files = renderFixtures(source);
      const stale = [...files].filter(([path, data]) => !readFileSync(join(FIXTURES_DIR, path)).equals(data)).map(([path]) => path);
      expect(stale).toEqual([]);
    },
  );
});
