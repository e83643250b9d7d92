import { PATIENT_COMPARTMENT } from './definitions';

/**
 * Which patient a resource belongs to, from the official R4 Patient CompartmentDefinition: for each
 * resource type, the elements whose reference puts it in a patient's compartment (Observation.subject,
 * then Observation.performer, ...). The first reference, in that order, that identifies a Patient wins.
 *
 * Reference forms (R4 §2.3.0 References):
 * - relative `Patient/123`, absolute `https://h/fhir/Patient/123`, version-specific `.../_history/2` -> `123`
 * - `urn:uuid:...` -> the id of the Patient entry with that fullUrl in the same Bundle, else none
 * - contained `#p1`, identifier-only `{identifier: {...}}`, conditional `Patient?identifier=...`,
 *   logical references to other types (`Group/7`) -> none
 * A resource with no reference that identifies a patient has patientId null.
 */

const PATIENT_REFERENCE = /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

/** fullUrl (urn:uuid:...) -> Patient id, for the Patient entries of one Bundle. */
export type BundlePatients = ReadonlyMap<string, string>;

/** The patient id a Reference names (find() passes only JSON objects here), or null. */
export function patientIdFromReference(reference: object, bundlePatients?: BundlePatients): string | null {
  const ref = (reference as { reference?: unknown }).reference;
  if (typeof ref !== 'string' || ref.startsWith('#')) return null;
  if (ref.startsWith('urn:')) return bundlePatients?.get(ref) ?? null;
  const match = PATIENT_REFERENCE.exec(ref);
  return match === null ? null : match[1];
}

/** The patient id of a resource already validated as FHIR R4; `id` is the resource's (possibly bundle-derived) id. */
export function derivePatientId(
  resourceType: string,
  resource: Record<string, unknown>,
  id: string,
  bundlePatients?: BundlePatients,
): string | null {
  if (resourceType === 'Patient') return id;
  const paths = PATIENT_COMPARTMENT.get(resourceType);
  // Stryker disable next-line ConditionalExpression: unreachable from validate.ts, which derives a patient only for SUPPORTED_RESOURCE_TYPES (Patient and the compartment's types)
  if (paths === undefined) return null;
  for (const path of paths) {
    const found = find(resource, path, 0, bundlePatients);
    if (found !== null) return found;
  }
  return null;
}

function find(node: unknown, path: readonly string[], i: number, bundlePatients?: BundlePatients): string | null {
  if (Array.isArray(node)) {
    for (const item of node) {
      const found = find(item, path, i, bundlePatients);
      if (found !== null) return found;
    }
    return null;
  }
  if (typeof node !== 'object') return null;
  // Stryker disable next-line ConditionalExpression: a validated resource holds JSON null only in a repeating primitive, and compartment paths lead through References and backbone elements
  if (node === null) return null;
  if (i === path.length) return patientIdFromReference(node, bundlePatients);
  return find((node as Record<string, unknown>)[path[i]], path, i + 1, bundlePatients);
}
