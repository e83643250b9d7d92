import type { RuleFailure } from './invariants';

/**
 * The R4 vital-signs profiles (http://hl7.org/fhir/R4/observation-vitalsigns.html), which R4 makes
 * mandatory: "If implementations use this code [a vital sign's LOINC code] they SHALL conform to the
 * profile". An Observation whose code is one of a vital sign's codes (the profile's own LOINC code, the
 * more specific LOINC codes for the same measurement, or SNOMED CT equivalents, as HL7's reference
 * validator recognises them) must carry the profile's LOINC code and meet the base vital-signs profile:
 * category vital-signs, a subject, an effective time, when given, precise to the day (vs-1), a value,
 * data-absent reason or members (vs-2), each component a value or data-absent reason (vs-3), and UCUM
 * units from the profile's list; blood pressure needs its systolic and diastolic components.
 *
 * Not enforced: the profile's minimum of one effective[x]. R4's own example observation-example-f202-temperature
 * (an entered-in-error body temperature) has none, and every official example must stay storable.
 */
interface VitalSign {
  readonly name: string;
  /** The LOINC code the profile requires in Observation.code. */
  readonly loinc: string;
  /** UCUM codes allowed for valueQuantity; empty when the profile has no value of its own. */
  readonly units: readonly string[];
}

const PANEL: VitalSign = { name: 'Vital Signs Panel', loinc: '85353-1', units: [] };
const RESP_RATE: VitalSign = { name: 'Respiratory Rate', loinc: '9279-1', units: ['/min'] };
const HEART_RATE: VitalSign = { name: 'Heart rate', loinc: '8867-4', units: ['/min'] };
const OXYGEN_SAT: VitalSign = { name: 'Oxygen saturation', loinc: '2708-6', units: ['%'] };
const BODY_TEMP: VitalSign = { name: 'Body temperature', loinc: '8310-5', units: ['Cel', '[degF]'] };
const BODY_HEIGHT: VitalSign = { name: 'Body height', loinc: '8302-2', units: ['cm', '[in_i]'] };
const HEAD_CIRCUM: VitalSign = { name: 'Head circumference', loinc: '9843-4', units: ['cm', '[in_i]'] };
const BODY_WEIGHT: VitalSign = { name: 'Body weight', loinc: '29463-7', units: ['kg', 'g', '[lb_av]'] };
const BMI: VitalSign = { name: 'Body mass index', loinc: '39156-5', units: ['kg/m2'] };
const BLOOD_PRESSURE: VitalSign = { name: 'Blood pressure systolic and diastolic', loinc: '85354-9', units: [] };

const LOINC = 'http://loinc.org';
const SNOMED = 'http://snomed.info/sct';
const UCUM = 'http://unitsofmeasure.org';
const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';

/** Codes that make an Observation a vital sign, in the order they are tried (the first system and code that match wins). */
const TRIGGERS: readonly (readonly [string, VitalSign, readonly string[]])[] = [
  [LOINC, PANEL, ['85353-1']],
  [LOINC, RESP_RATE, ['9279-1', '76170-0', '76172-6', '76171-8', '19840-8', '33438-3', '76270-8', '11291-2']],
  [
    LOINC,
    HEART_RATE,
    [
      '60978-4',
      '73795-7',
      '73799-9',
      '76476-1',
      '76477-9',
      '8867-4',
      '8889-8',
      '8890-6',
      '8891-4',
      '8892-2',
      '8893-0',
      '40443-4',
      '55425-3',
      '68999-2',
      '11328-2',
      '69000-8',
      '8886-4',
    ],
  ],
  [
    LOINC,
    OXYGEN_SAT,
    ['2708-6', '19224-5', '20564-1', '2709-4', '2710-2', '2711-0', '2713-6', '51733-4', '59408-5', '59417-6', '89276-0', '97549-0'],
  ],
  [
    LOINC,
    BODY_TEMP,
    [
      '8310-5',
      '60834-9',
      '60835-6',
      '60836-4',
      '60838-0',
      '60955-2',
      '61009-7',
      '75539-7',
      '75987-8',
      '76010-8',
      '76011-6',
      '76278-1',
      '8309-7',
      '8328-7',
      '8329-5',
      '8330-3',
      '8331-1',
      '8332-9',
      '8333-7',
      '8334-5',
      '91371-5',
      '98657-0',
      '98663-8',
    ],
  ],
  [LOINC, BODY_HEIGHT, ['8302-2', '3137-7', '3138-5', '8306-3', '8308-9']],
  [LOINC, HEAD_CIRCUM, ['9843-4', '8287-5']],
  [LOINC, BODY_WEIGHT, ['29463-7', '3141-9', '3142-7', '75292-3', '79348-9', '8350-1', '8351-9']],
  [LOINC, BMI, ['39156-5', '59574-4', '89270-3']],
  [LOINC, BLOOD_PRESSURE, ['85354-9', '35094-2', '8459-0', '76534-7', '55284-4', '8480-6']],
  [SNOMED, PANEL, ['46680005']],
  [SNOMED, HEART_RATE, ['271306003', '249043002', '444981005', '399017001', '251670001', '429525003', '429614003']],
  [SNOMED, OXYGEN_SAT, ['103228002', '442349007', '442476006', '442440005', '431314004', '442734002', '713194001']],
  [
    SNOMED,
    BODY_TEMP,
    [
      '386725007',
      '276885007',
      '300076005',
      '1222808002',
      '364246006',
      '307047009',
      '708499008',
      '431598003',
      '698831002',
      '698832009',
      '415882003',
      '415974002',
      '415929009',
      '415945006',
    ],
  ],
  [SNOMED, BODY_HEIGHT, ['1153637007', '1162419008', '50373000', '1162418000', '1230278008', '1162392001', '1162417005']],
  [SNOMED, HEAD_CIRCUM, ['363812007', '169876006', '1269262007', '363811000']],
  [SNOMED, BODY_WEIGHT, ['60621009', '735395000', '425024002', '424927000', '784399000', '1162416001', '1162415002']],
  [
    SNOMED,
    BLOOD_PRESSURE,
    [
      '75367002',
      '251076008',
      '163033001',
      '163035008',
      '386534000',
      '386536003',
      '271649006',
      '271650006',
      '407556006',
      '407554009',
      '716579001',
      '399304008',
    ],
  ],
];

/** system -> code -> [profile, rank]: the first list a code is in wins, and any LOINC list before any SNOMED CT one. */
const BY_SYSTEM = new Map<string, Map<string, readonly [VitalSign, number]>>([
  [LOINC, new Map()],
  [SNOMED, new Map()],
]);
TRIGGERS.forEach(([system, sign, codes], rank) => {
  const bySystem = BY_SYSTEM.get(system)!;
  for (const code of codes) if (!bySystem.has(code)) bySystem.set(code, [sign, rank]);
});

type Json = Record<string, unknown>;
const fail = (rule: string, message: string, ...at: (string | number)[]): RuleFailure => ({ rule, message, at });

interface Coding {
  readonly system?: unknown;
  readonly code?: unknown;
}
const codings = (concept: unknown): readonly Coding[] =>
  ((concept as { coding?: Coding[] } | undefined)?.coding ?? []).filter((c) => c !== null);

/** The vital sign an Observation's code makes it, LOINC codes before SNOMED CT ones, or null. */
export function vitalSignOf(code: unknown): VitalSign | null {
  const list = (code as { coding?: (Coding | null)[] } | undefined)?.coding;
  if (list === undefined) return null;
  let best: readonly [VitalSign, number] | undefined;
  for (const c of list) {
    if (c === null || typeof c.code !== 'string' || typeof c.system !== 'string') continue;
    const match = BY_SYSTEM.get(c.system)?.get(c.code);
    if (match !== undefined && (best === undefined || match[1] < best[1])) best = match;
  }
  return best === undefined ? null : best[0];
}

function quantityIssue(q: unknown, units: readonly string[], profile: string, ...at: (string | number)[]): RuleFailure | null {
  const quantity = q as Json;
  if (quantity.value === undefined) return fail('vital-signs', `a ${profile} quantity needs a value`, ...at, 'value');
  if (quantity.unit === undefined) return fail('vital-signs', `a ${profile} quantity needs a unit`, ...at, 'unit');
  if (quantity.system !== UCUM) return fail('vital-signs', `a ${profile} quantity needs the UCUM system`, ...at, 'system');
  if (units.length > 0 && !units.includes(quantity.code as string))
    return fail('vital-signs', `a ${profile} quantity's code must be one of ${units.join(', ')} (UCUM)`, ...at, 'code');
  return null;
}

function hasValue(v: Json): boolean {
  for (const key in v) if (key.length > 5 && key.startsWith('value') && key.charCodeAt(5) < 91) return true;
  return false;
}

export function vitalSignsIssue(v: Json): RuleFailure | null {
  const sign = vitalSignOf(v.code);
  if (sign === null) return null;
  const profile = `R4 ${sign.name} profile`;
  if (!codings(v.code).some((c) => c.system === LOINC && c.code === sign.loinc))
    return fail('vital-signs', `the ${profile} requires LOINC ${sign.loinc} in code (this code makes it a ${sign.name})`, 'code');
  const categories = (v.category ?? []) as unknown[];
  if (!categories.some((c) => codings(c).some((k) => k.system === CATEGORY && k.code === 'vital-signs')))
    return fail('vital-signs', `the ${profile} requires category vital-signs`, 'category');
  if (v.subject === undefined) return fail('vital-signs', `the ${profile} requires a subject`, 'subject');
  if (typeof v.effectiveDateTime === 'string' && v.effectiveDateTime.length < 10)
    return fail('vs-1', 'effectiveDateTime must be precise to the day', 'effectiveDateTime');
  const components = (v.component ?? []) as Json[];
  if (v.component === undefined && v.hasMember === undefined && v.dataAbsentReason === undefined && !hasValue(v))
    return fail('vs-2', 'a value, a dataAbsentReason, components or members are required');
  for (let i = 0; i < components.length; i++)
    if (components[i].dataAbsentReason === undefined && !hasValue(components[i]))
      return fail('vs-3', 'a component needs a value or a dataAbsentReason', 'component', i);
  if (sign.units.length > 0 && hasValue(v)) {
    if (v.valueQuantity === undefined) return fail('vital-signs', `the ${profile} allows only valueQuantity`, 'value[x]');
    return quantityIssue(v.valueQuantity, sign.units, profile, 'valueQuantity');
  }
  if (sign === BLOOD_PRESSURE) {
    for (const [loinc, part] of [
      ['8480-6', 'systolic'],
      ['8462-4', 'diastolic'],
    ] as const) {
      const i = components.findIndex((c) => codings(c.code).some((k) => k.system === LOINC && k.code === loinc));
      if (i < 0) return fail('vital-signs', `the ${profile} requires a ${part} component (LOINC ${loinc})`, 'component');
      if (components[i].valueQuantity !== undefined) {
        const issue = quantityIssue(components[i].valueQuantity, ['mm[Hg]'], profile, 'component', i, 'valueQuantity');
        if (issue !== null) return issue;
      }
    }
  }
  return null;
}
