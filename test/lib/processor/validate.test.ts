import { validateRecord } from '../../../lib/processor/fhir/validate';
import { classify } from '../../../lib/processor/records';
import { encounter, invalidSamples, observation, patient, prng } from '../../../scripts/fhir-samples';

const rand = prng(11);
const at = new Date('2026-11-01T10:00:00Z');
const bytes = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('validateRecord', () => {
  test.each([
    ['Patient', patient('p1', 3, at, rand), 'p1'],
    ['Observation', observation('o1', 'p1', 1, at, rand), 'p1'],
    ['Encounter', encounter('e1', 'p9', 2, at), 'p9'],
  ])('accepts a valid %s and extracts its keys and patient', (type, resource, patientId) => {
    const result = validateRecord(bytes(resource), 262_144);
    expect(result).toMatchObject({ ok: true, resourceType: type, id: (resource as { id: string }).id, patientId, lastUpdated: at.toISOString() });
  });

  test('every invalid kind gets its reason code', () => {
    for (const sample of invalidSamples(9, prng(1))) {
      const result = validateRecord(sample.data, 262_144);
      expect(result.ok).toBe(false);
      if (!result.ok && sample.expect.kind === 'invalid') expect(result.reason).toBe(sample.expect.reason);
    }
  });

  test.each([
    ['meta.lastUpdated not an instant', (p: Record<string, unknown>) => { (p.meta as Record<string, unknown>).lastUpdated = '2026-11-01'; }, /Patient\/meta\/lastUpdated pattern/],
    ['unknown gender code', (p: Record<string, unknown>) => { p.gender = 'M'; }, /Patient\/gender enum/],
    ['id with a space', (p: Record<string, unknown>) => { p.id = 'a b'; }, /Patient\/id pattern/],
  ])('names the failing rule, not the value: %s', (_name, mutate, detail) => {
    const p = patient('p1', 1, at, rand) as unknown as Record<string, unknown>;
    mutate(p);
    const result = validateRecord(bytes(p), 262_144);
    expect(result).toMatchObject({ ok: false, reason: 'INVALID_FHIR', detail: expect.stringMatching(detail) });
    if (!result.ok) expect(result.detail).not.toMatch(/2026-11-01"|"M"|a b/);
  });

  test('an Observation must refer to a Patient', () => {
    const o = observation('o1', 'p1', 1, at, rand) as unknown as Record<string, unknown>;
    delete o.subject;
    expect(validateRecord(bytes(o), 262_144)).toMatchObject({ ok: false, reason: 'INVALID_FHIR', detail: expect.stringContaining('required') });
  });

  test('a JSON syntax error is reported without quoting the payload', () => {
    const result = validateRecord(Buffer.from('{"name": "Secret Person", oops}'), 262_144);
    expect(result).toEqual({ ok: false, reason: 'NOT_JSON', detail: 'payload is not JSON (SyntaxError)' });
  });
});

describe('classify', () => {
  test('splits a batch and keeps the last sequence number as the checkpoint', () => {
    const batch = classify([
      { SequenceNumber: '1', PartitionKey: 'p1', Data: bytes(patient('p1', 1, at, rand)) },
      { SequenceNumber: '2', PartitionKey: 'p1', Data: Buffer.from('nope') },
      { SequenceNumber: '3', PartitionKey: 'p1', Data: bytes(encounter('e1', 'p1', 1, at)) },
    ], 262_144);
    expect(batch.valid.map((v) => v.sequenceNumber)).toEqual(['1', '3']);
    expect(batch.quarantined).toEqual([expect.objectContaining({ sequenceNumber: '2', partitionKey: 'p1', reason: 'NOT_JSON', payload: Buffer.from('nope') })]);
    expect(batch.lastSequenceNumber).toBe('3');
  });

  test('an empty batch has no checkpoint', () => {
    expect(classify([], 1024)).toEqual({ valid: [], quarantined: [], lastSequenceNumber: '' });
  });
});
