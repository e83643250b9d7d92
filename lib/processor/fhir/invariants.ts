import { vitalSignsIssue } from './vital-signs';

/**
 * The error-severity FHIRPath invariants of R4 (4.0.1) that can hold in a stored resource, compiled by hand
 * into one check per type: each runs once on every object of its type after the structural walk has
 * validated that object, so a type without invariants costs nothing and no FHIRPath is interpreted at run
 * time: @medplum/core's validator, which interprets them, measured 10x slower than this walker on the test corpus
 * before these checks were added (docs/processor.md; `npm run bench:validator -- --medplum` measures it again).
 * Which R4 invariants are compiled and which are not, with why, is tested against the StructureDefinitions
 * in test/lib/processor/fhir/invariants.test.ts; the list of the skipped ones is `SKIPPED_INVARIANTS` below.
 *
 * A failure names the rule (the invariant's key) and where under the object it was found, never a value.
 */
export interface RuleFailure {
  readonly rule: string;
  readonly message: string;
  /** Path segments below the checked object, outermost first. */
  readonly at: readonly (string | number)[];
}

export type TypeRule = (value: Record<string, unknown>) => RuleFailure | null;

type Json = Record<string, unknown>;

const fail = (rule: string, message: string, ...at: (string | number)[]): RuleFailure => ({ rule, message, at });
const has = (v: Json, key: string) => v[key] !== undefined;
const UCUM = 'http://unitsofmeasure.org';

/** True when some property of `v` is a choice of `base` (`value` -> valueQuantity, valueString, ...). */
function hasChoice(v: Json, base: string): boolean {
  for (const key in v) if (key.length > base.length && key.startsWith(base) && key.charCodeAt(base.length) < 91) return true;
  return false;
}

function hasCoding(concept: unknown, system: string, codes: readonly string[]): boolean {
  const codings = (concept as { coding?: { system?: unknown; code?: unknown }[] } | undefined)?.coding;
  if (codings === undefined) return false;
  for (const c of codings) if (c !== null && c.system === system && codes.includes(c.code as string)) return true;
  return false;
}

/**
 * FHIRPath's order of two date/dateTime/instant values: compared to their common precision, and unknown
 * (null) when they agree that far but one is more precise (2023-06-21 vs 2023-06-21T06:20:00Z). An
 * invariant whose comparison is unknown is not satisfied, as HL7's reference validator reports.
 */
export function compareDateTimes(a: string, b: string): number | null {
  if (a.length > 10 && b.length > 10) {
    const x = Date.parse(a);
    const y = Date.parse(b);
    if (Number.isNaN(x) || Number.isNaN(y)) return null;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const n = Math.min(a.length, b.length, 10);
  const x = a.slice(0, n);
  const y = b.slice(0, n);
  if (x !== y) return x < y ? -1 : 1;
  return a.length === b.length ? 0 : null;
}

const per1: TypeRule = (v) => {
  if (typeof v.start !== 'string' || typeof v.end !== 'string') return null;
  const order = compareDateTimes(v.start, v.end);
  if (order === null)
    return fail('per-1', 'Period.start and Period.end agree to the day but differ in precision, so start <= end is unknown');
  return order > 0 ? fail('per-1', 'Period.start is after Period.end') : null;
};

/** qty-3 and the unit rules of the Quantity specialisations (age-1, cnt-3, dis-1, drt-1). */
const quantity =
  (kind: 'Quantity' | 'Age' | 'Count' | 'Distance' | 'Duration'): TypeRule =>
  (v) => {
    if (has(v, 'code') && !has(v, 'system')) return fail('qty-3', 'a unit code without a system', 'system');
    if (kind === 'Quantity') return null;
    const value = v.value;
    if (kind === 'Duration')
      return has(v, 'code') && (v.system !== UCUM || value === undefined)
        ? fail('drt-1', 'a Duration with a code needs a value and the UCUM system')
        : null;
    const key = kind === 'Age' ? 'age-1' : kind === 'Count' ? 'cnt-3' : 'dis-1';
    if (value !== undefined && !has(v, 'code')) return fail(key, `a ${kind} with a value needs a unit code`, 'code');
    if (has(v, 'system') && v.system !== UCUM) return fail(key, `a ${kind}'s system must be UCUM`, 'system');
    if (kind === 'Age' && typeof value === 'number' && !(value > 0)) return fail(key, 'an Age must be positive', 'value');
    if (kind === 'Count' && has(v, 'code') && v.code !== '1') return fail(key, "a Count's code must be '1'", 'code');
    if (kind === 'Count' && typeof value === 'number' && !Number.isInteger(value))
      return fail(key, 'a Count must be a whole number', 'value');
    return null;
  };

/**
 * Decoded size of base64 text: whitespace is allowed between groups (R4's base64Binary), so it is
 * not counted; the structural walk has already checked the alphabet and grouping.
 */
function base64Bytes(data: string): number {
  let chars = 0;
  let padding = 0;
  for (let i = 0; i < data.length; i++) {
    const c = data.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13) continue;
    chars++;
    if (c === 61) padding++;
  }
  return (chars / 4) * 3 - padding;
}

const attachment: TypeRule = (v) => {
  if (has(v, 'data') && !has(v, 'contentType')) return fail('att-1', 'data without a contentType', 'contentType');
  // R4: size is "the number of bytes of data that make up this attachment (before base64 encoding)".
  if (typeof v.data === 'string' && typeof v.size === 'number' && base64Bytes(v.data) !== v.size)
    return fail('attachment-size', 'size does not match the length of the decoded data', 'size');
  return null;
};

const extension: TypeRule = (v) =>
  has(v, 'extension') === hasChoice(v, 'value')
    ? fail('ext-1', 'an extension needs either nested extensions or a value[x], not both')
    : null;

const timingRepeat: TypeRule = (v) => {
  if (has(v, 'duration') && !has(v, 'durationUnit')) return fail('tim-1', 'duration without durationUnit', 'durationUnit');
  if (has(v, 'period') && !has(v, 'periodUnit')) return fail('tim-2', 'period without periodUnit', 'periodUnit');
  if (typeof v.duration === 'number' && v.duration < 0) return fail('tim-4', 'a negative duration', 'duration');
  if (typeof v.period === 'number' && v.period < 0) return fail('tim-5', 'a negative period', 'period');
  if (has(v, 'periodMax') && !has(v, 'period')) return fail('tim-6', 'periodMax without period', 'periodMax');
  if (has(v, 'durationMax') && !has(v, 'duration')) return fail('tim-7', 'durationMax without duration', 'durationMax');
  if (has(v, 'countMax') && !has(v, 'count')) return fail('tim-8', 'countMax without count', 'countMax');
  if (has(v, 'offset')) {
    const when = v.when as unknown[] | undefined;
    if (when === undefined || when.some((w) => w === 'C' || w === 'CM' || w === 'CD' || w === 'CV'))
      return fail('tim-9', 'offset needs a when that is not a meal (C, CM, CD, CV)', 'offset');
  }
  if (has(v, 'timeOfDay') && has(v, 'when')) return fail('tim-10', 'both timeOfDay and when', 'timeOfDay');
  return null;
};

const range: TypeRule = (v) => {
  const low = v.low as Json | undefined;
  const high = v.high as Json | undefined;
  if (low === undefined || high === undefined || typeof low.value !== 'number' || typeof high.value !== 'number') return null;
  if (low.code !== high.code || low.system !== high.system) return null; // FHIRPath compares only like units
  return low.value > high.value ? fail('rng-2', 'Range.low is above Range.high') : null;
};

const ratio: TypeRule = (v) =>
  has(v, 'numerator') === has(v, 'denominator') && (has(v, 'numerator') || has(v, 'extension'))
    ? null
    : fail('rat-1', 'a Ratio needs both numerator and denominator, or neither (with an extension)');

const ALLERGY_VERIFICATION = 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification';
const CONDITION_VERIFICATION = 'http://terminology.hl7.org/CodeSystem/condition-ver-status';
const CONDITION_CLINICAL = 'http://terminology.hl7.org/CodeSystem/condition-clinical';
const ENTERED_IN_ERROR = ['entered-in-error'];

/** dom-2, dom-4, dom-5: the rules for contained resources, on every DomainResource (dom-3 is checked by the walk in structure.ts, which collects the references). */
export const domainResource: TypeRule = (v) => {
  const contained = v.contained as Json[] | undefined;
  if (contained === undefined) return null;
  for (let i = 0; i < contained.length; i++) {
    const c = contained[i];
    if (has(c, 'contained')) return fail('dom-2', 'a contained resource has contained resources of its own', 'contained', i);
    const meta = c.meta as Json | undefined;
    if (meta !== undefined && (has(meta, 'versionId') || has(meta, 'lastUpdated')))
      return fail('dom-4', 'a contained resource with meta.versionId or meta.lastUpdated', 'contained', i, 'meta');
    if (meta !== undefined && has(meta, 'security'))
      return fail('dom-5', 'a contained resource with meta.security', 'contained', i, 'meta');
  }
  return null;
};

const ABSOLUTE_URI = /^[A-Za-z][A-Za-z0-9+.-]*:/;

const bundle: TypeRule = (v) => {
  const type = v.type;
  if (has(v, 'total') && type !== 'searchset' && type !== 'history')
    return fail('bdl-1', 'total is only for searchset and history bundles', 'total');
  const entries = (v.entry ?? []) as Json[];
  const requests = type === 'batch' || type === 'transaction' || type === 'history';
  const responses = type === 'batch-response' || type === 'transaction-response' || type === 'history';
  const seen = new Set<string>();
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (has(e, 'search') && type !== 'searchset') return fail('bdl-2', 'entry.search is only for searchset bundles', 'entry', i, 'search');
    if (has(e, 'request') !== requests)
      return fail('bdl-3', 'entry.request is required in batch, transaction and history bundles and not allowed in others', 'entry', i);
    if (has(e, 'response') !== responses)
      return fail('bdl-4', 'entry.response is required in response and history bundles and not allowed in others', 'entry', i);
    if (typeof e.fullUrl === 'string' && type !== 'history') {
      const meta = (e.resource as Json | undefined)?.meta as Json | undefined;
      const key = `${e.fullUrl}\u0000${(meta?.versionId as string | undefined) ?? ''}`;
      if (seen.has(key)) return fail('bdl-7', 'two entries have the same fullUrl (and versionId)', 'entry', i, 'fullUrl');
      seen.add(key);
    }
  }
  if (type === 'document') {
    const identifier = v.identifier as Json | undefined;
    if (identifier === undefined || !has(identifier, 'system') || !has(identifier, 'value'))
      return fail('bdl-9', 'a document needs identifier.system and identifier.value', 'identifier');
    if (!has(v, 'timestamp')) return fail('bdl-10', 'a document needs a timestamp', 'timestamp');
    if ((entries[0]?.resource as Json | undefined)?.resourceType !== 'Composition')
      return fail('bdl-11', "a document's first entry must be a Composition", 'entry');
  }
  if (type === 'message' && (entries[0]?.resource as Json | undefined)?.resourceType !== 'MessageHeader')
    return fail('bdl-12', "a message's first entry must be a MessageHeader", 'entry');
  return null;
};

const bundleEntry: TypeRule = (v) => {
  if (!has(v, 'resource') && !has(v, 'request') && !has(v, 'response'))
    return fail('bdl-5', 'an entry needs a resource, a request or a response');
  const fullUrl = v.fullUrl;
  if (typeof fullUrl === 'string') {
    // R4 Bundle.entry.fullUrl: "The Absolute URL for the resource".
    if (!ABSOLUTE_URI.test(fullUrl))
      return fail('bdl-fullurl', 'fullUrl must be an absolute URL (a scheme such as https: or urn:uuid:)', 'fullUrl');
    if (fullUrl.includes('/_history/')) return fail('bdl-8', 'fullUrl cannot be a version-specific reference', 'fullUrl');
  }
  return null;
};

const observation: TypeRule = (v) => {
  const hasValue = hasChoice(v, 'value');
  if (has(v, 'dataAbsentReason') && hasValue) return fail('obs-6', 'both a value and a dataAbsentReason', 'dataAbsentReason');
  if (hasValue && v.component !== undefined) {
    const codings = (v.code as { coding?: Json[] } | undefined)?.coding;
    if (codings !== undefined) {
      const components = v.component as Json[];
      for (let i = 0; i < components.length; i++) {
        const own = (components[i].code as { coding?: Json[] } | undefined)?.coding ?? [];
        if (
          own.some((c) =>
            codings.some((o) => o.system === c.system && o.code === c.code && o.display === c.display && o.version === c.version),
          )
        )
          return fail('obs-7', "a component has the observation's own code while the observation has a value", 'component', i, 'code');
      }
    }
  }
  return vitalSignsIssue(v);
};

/** Type name (as in fhir.schema.json, backbone elements as `Type_Part`) -> its compiled invariants. */
export const TYPE_RULES: Readonly<Record<string, TypeRule>> = {
  Extension: extension,
  Period: per1,
  Quantity: quantity('Quantity'),
  Age: quantity('Age'),
  Count: quantity('Count'),
  Distance: quantity('Distance'),
  Duration: quantity('Duration'),
  Range: range,
  Ratio: ratio,
  Attachment: attachment,
  ContactPoint: (v) => (has(v, 'value') && !has(v, 'system') ? fail('cpt-2', 'a value without a system', 'system') : null),
  Timing_Repeat: timingRepeat,
  Expression: (v) => (has(v, 'expression') || has(v, 'reference') ? null : fail('exp-1', 'an expression or a reference is required')),
  DataRequirement_CodeFilter: (v) =>
    has(v, 'path') !== has(v, 'searchParam') ? null : fail('drq-1', 'exactly one of path and searchParam'),
  DataRequirement_DateFilter: (v) =>
    has(v, 'path') !== has(v, 'searchParam') ? null : fail('drq-2', 'exactly one of path and searchParam'),
  TriggerDefinition: (v) => {
    if (has(v, 'data') && has(v, 'timing')) return fail('trd-1', 'both data and timing');
    if (has(v, 'condition') && !has(v, 'data')) return fail('trd-2', 'a condition without data', 'data');
    const type = v.type as string | undefined;
    if (
      (type === 'named-event' && !has(v, 'name')) ||
      (type === 'periodic' && !has(v, 'timing')) ||
      (type?.startsWith('data-') && !has(v, 'data'))
    )
      return fail('trd-3', 'a named event needs a name, a periodic one timing, a data event data');
    return null;
  },
  Bundle: bundle,
  Bundle_Entry: bundleEntry,
  Observation: observation,
  Observation_ReferenceRange: (v) =>
    has(v, 'low') || has(v, 'high') || has(v, 'text') ? null : fail('obs-3', 'a reference range needs low, high or text'),
  AllergyIntolerance: (v) => {
    const error = hasCoding(v.verificationStatus, ALLERGY_VERIFICATION, ENTERED_IN_ERROR);
    if (!error && !has(v, 'clinicalStatus'))
      return fail('ait-1', 'clinicalStatus is required unless verificationStatus is entered-in-error', 'clinicalStatus');
    if (error && has(v, 'clinicalStatus'))
      return fail('ait-2', 'no clinicalStatus when verificationStatus is entered-in-error', 'clinicalStatus');
    return null;
  },
  Appointment: (v) => {
    if (has(v, 'start') !== has(v, 'end')) return fail('app-2', 'start and end go together');
    if (!has(v, 'start') && !['proposed', 'cancelled', 'waitlist'].includes(v.status as string))
      return fail('app-3', 'start and end are required unless the status is proposed, cancelled or waitlist');
    if (has(v, 'cancelationReason') && v.status !== 'noshow' && v.status !== 'cancelled')
      return fail('app-4', 'a cancelationReason only for a noshow or cancelled appointment', 'cancelationReason');
    return null;
  },
  Appointment_Participant: (v) => (has(v, 'type') || has(v, 'actor') ? null : fail('app-1', 'a participant needs a type or an actor')),
  AppointmentResponse: (v) =>
    has(v, 'participantType') || has(v, 'actor') ? null : fail('apr-1', 'a participantType or an actor is required'),
  AuditEvent_Entity: (v) => (has(v, 'name') && has(v, 'query') ? fail('sev-1', 'either name or query, not both') : null),
  CarePlan_Activity: (v) => (has(v, 'detail') && has(v, 'reference') ? fail('cpl-3', 'either detail or reference, not both') : null),
  Composition_Section: (v) => {
    if (!has(v, 'text') && !has(v, 'entry') && !has(v, 'section')) return fail('cmp-1', 'a section needs text, entries or sections');
    return has(v, 'emptyReason') && has(v, 'entry')
      ? fail('cmp-2', 'an emptyReason only for a section without entries', 'emptyReason')
      : null;
  },
  Condition: (v) => {
    if (hasChoice(v, 'abatement') && !hasCoding(v.clinicalStatus, CONDITION_CLINICAL, ['resolved', 'remission', 'inactive']))
      return fail('con-4', 'an abated condition needs clinicalStatus inactive, resolved or remission', 'clinicalStatus');
    if (hasCoding(v.verificationStatus, CONDITION_VERIFICATION, ENTERED_IN_ERROR) && has(v, 'clinicalStatus'))
      return fail('con-5', 'no clinicalStatus when verificationStatus is entered-in-error', 'clinicalStatus');
    return null;
  },
  Condition_Stage: (v) => (has(v, 'summary') || has(v, 'assessment') ? null : fail('con-1', 'a stage needs a summary or an assessment')),
  Condition_Evidence: (v) => (has(v, 'code') || has(v, 'detail') ? null : fail('con-2', 'evidence needs a code or a detail')),
  Consent: (v) => (has(v, 'policy') || has(v, 'policyRule') ? null : fail('ppc-1', 'a policy or a policyRule is required')),
  CoverageEligibilityResponse_Item: (v) =>
    has(v, 'category') !== has(v, 'productOrService') ? null : fail('ces-1', 'exactly one of category and productOrService'),
  FamilyMemberHistory: (v) => {
    if (hasChoice(v, 'age') && hasChoice(v, 'born')) return fail('fhs-1', 'either age or born, not both');
    return has(v, 'estimatedAge') && !hasChoice(v, 'age') ? fail('fhs-2', 'estimatedAge only with an age', 'estimatedAge') : null;
  },
  Goal_Target: (v) => (hasChoice(v, 'detail') && !has(v, 'measure') ? fail('gol-1', 'a target detail needs a measure', 'measure') : null),
  Group: (v) => (has(v, 'member') && v.actual !== true ? fail('grp-1', 'members only in an actual group', 'member') : null),
  Immunization_Education: (v) =>
    has(v, 'documentType') || has(v, 'reference') ? null : fail('imm-1', 'a documentType or a reference is required'),
  ImmunizationRecommendation_Recommendation: (v) =>
    has(v, 'vaccineCode') || has(v, 'targetDisease') ? null : fail('imr-1', 'a vaccineCode or a targetDisease is required'),
  List: (v) => {
    if (has(v, 'emptyReason') && has(v, 'entry')) return fail('lst-1', 'an emptyReason only for a list without entries', 'emptyReason');
    const entries = (v.entry ?? []) as Json[];
    for (let i = 0; i < entries.length; i++) {
      if (v.mode !== 'changes' && has(entries[i], 'deleted'))
        return fail('lst-2', 'entry.deleted only in a changes list', 'entry', i, 'deleted');
      if (v.mode !== 'working' && has(entries[i], 'date')) return fail('lst-3', 'entry.date only in a working list', 'entry', i, 'date');
    }
    return null;
  },
  MeasureReport: (v) =>
    v.type === 'data-collection' && has(v, 'group') ? fail('mrp-1', 'no group in a data-collection report', 'group') : null,
  MeasureReport_Stratum: (v) =>
    has(v, 'value') !== has(v, 'component') ? null : fail('mrp-2', 'a stratum has either a value or components'),
  MedicationAdministration_Dosage: (v) => (has(v, 'dose') || hasChoice(v, 'rate') ? null : fail('mad-1', 'a dose or a rate is required')),
  MedicationDispense: (v) => {
    if (typeof v.whenHandedOver !== 'string' || typeof v.whenPrepared !== 'string') return null;
    const order = compareDateTimes(v.whenHandedOver, v.whenPrepared);
    return order === null || order < 0 ? fail('mdd-1', 'whenHandedOver is before whenPrepared', 'whenHandedOver') : null;
  },
  MolecularSequence: (v) =>
    v.coordinateSystem === 0 || v.coordinateSystem === 1 ? null : fail('msq-3', 'coordinateSystem must be 0 or 1', 'coordinateSystem'),
  MolecularSequence_ReferenceSeq: (v) => {
    if (has(v, 'chromosome') !== has(v, 'genomeBuild')) return fail('msq-5', 'chromosome and genomeBuild go together');
    const n = +has(v, 'genomeBuild') + +has(v, 'referenceSeqId') + +has(v, 'referenceSeqPointer') + +has(v, 'referenceSeqString');
    return n === 1 ? null : fail('msq-6', 'exactly one of genomeBuild, referenceSeqId, referenceSeqPointer and referenceSeqString');
  },
  Patient_Contact: (v) =>
    has(v, 'name') || has(v, 'telecom') || has(v, 'address') || has(v, 'organization')
      ? null
      : fail('pat-1', 'a contact needs a name, telecom, address or organization'),
  QuestionnaireResponse_Item: (v) =>
    has(v, 'answer') && has(v, 'item') ? fail('qrs-1', 'nested items go inside the answer, not beside it', 'item') : null,
  RequestGroup_Action: (v) =>
    has(v, 'resource') !== has(v, 'action') ? null : fail('rqg-1', 'an action has either a resource or sub-actions'),
  RiskAssessment_Prediction: (v) => {
    if (typeof v.probabilityDecimal === 'number' && v.probabilityDecimal > 100)
      return fail('ras-2', 'probability must be <= 100', 'probabilityDecimal');
    const r = v.probabilityRange as Json | undefined;
    if (r !== undefined)
      for (const end of ['low', 'high']) {
        const q = r[end] as Json | undefined;
        if (q !== undefined && (q.code !== '%' || q.system !== UCUM))
          return fail('ras-1', 'probability range ends must be UCUM percentages', 'probabilityRange', end);
      }
    return null;
  },
  ServiceRequest: (v) => (has(v, 'orderDetail') && !has(v, 'code') ? fail('prr-1', 'orderDetail needs a code', 'code') : null),
  Task: (v) => {
    if (typeof v.lastModified !== 'string' || typeof v.authoredOn !== 'string') return null;
    const order = compareDateTimes(v.lastModified, v.authoredOn);
    return order === null || order < 0 ? fail('inv-1', 'lastModified is before authoredOn', 'lastModified') : null;
  },
};

/** Keys of the R4 invariants compiled above or in structure.ts (ele-1, dom-3). */
export const COMPILED_INVARIANTS: ReadonlySet<string> = new Set([
  'ele-1',
  'ext-1',
  'per-1',
  'qty-3',
  'age-1',
  'cnt-3',
  'dis-1',
  'drt-1',
  'rng-2',
  'rat-1',
  'att-1',
  'cpt-2',
  'tim-1',
  'tim-2',
  'tim-4',
  'tim-5',
  'tim-6',
  'tim-7',
  'tim-8',
  'tim-9',
  'tim-10',
  'exp-1',
  'drq-1',
  'drq-2',
  'trd-1',
  'trd-2',
  'trd-3',
  'dom-2',
  'dom-3',
  'dom-4',
  'dom-5',
  'bdl-1',
  'bdl-2',
  'bdl-3',
  'bdl-4',
  'bdl-5',
  'bdl-7',
  'bdl-8',
  'bdl-9',
  'bdl-10',
  'bdl-11',
  'bdl-12',
  'obs-3',
  'obs-6',
  'obs-7',
  'ait-1',
  'ait-2',
  'app-1',
  'app-2',
  'app-3',
  'app-4',
  'apr-1',
  'sev-1',
  'cpl-3',
  'cmp-1',
  'cmp-2',
  'con-1',
  'con-2',
  'con-4',
  'con-5',
  'ppc-1',
  'ces-1',
  'fhs-1',
  'fhs-2',
  'gol-1',
  'grp-1',
  'imm-1',
  'imr-1',
  'lst-1',
  'lst-2',
  'lst-3',
  'mrp-1',
  'mrp-2',
  'mad-1',
  'mdd-1',
  'msq-3',
  'msq-5',
  'msq-6',
  'pat-1',
  'qrs-1',
  'rqg-1',
  'ras-1',
  'ras-2',
  'prr-1',
  'inv-1',
]);

/** R4 error invariants of the stored types that are not evaluated, and why. */
export const SKIPPED_INVARIANTS: Readonly<Record<string, string>> = {
  'ref-1': "needs the containing resource's contained ids while walking each Reference (dom-3 covers the reverse direction)",
  'txt-1':
    'the HTML element and attribute whitelist needs a full XHTML parse of every narrative; only the <div> root and XML entities are checked',
  'txt-2': 'needs the narrative parsed to find its text content',
  'ctm-1': 'needs resolve() of a reference to another resource',
  'ppc-2': "R4's expression tests a placeholder system ('something') that no record carries: it can never fail",
  'ppc-3': "R4's expression tests a placeholder system ('something') that no record carries: it can never fail",
  'ppc-4': "R4's expression tests a placeholder system ('something') that no record carries: it can never fail",
  'ppc-5': "R4's expression tests a placeholder system ('something') that no record carries: it can never fail",
};
