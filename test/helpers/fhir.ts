import { Json } from '../../scripts/shared/fhir-fuzz';

/** The smallest valid R4 Observation (o1, of patient p1), with `extra` elements added or replaced. */
export const observationOf = (extra: Json = {}): Json => ({
  resourceType: 'Observation',
  id: 'o1',
  status: 'final',
  code: { text: 'x' },
  subject: { reference: 'Patient/p1' },
  ...extra,
});
