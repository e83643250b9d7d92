import { Stack, Stage, Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { RULE_ID } from './acknowledge';

const PACK = /^(AwsSolutions|HIPAA\.Security|NIST\.800\.53\.R5|CloudFormation-Validate)/;

/** One acknowledgement as recorded on the construct tree. */
export interface AcknowledgedFinding {
  readonly rule: string;
  /** `AwsSolutions`, `HIPAA.Security`, `NIST.800.53.R5` or `CloudFormation-Validate`. */
  readonly pack: string;
  /** Construct path inside its stack, e.g. `Database/Instance`. */
  readonly resource: string;
  /** The stack's construct id (`Network`, `Data`, `Audit`, `SharedTrail`). */
  readonly stack: string;
  /** The stage id, or '' for a stack outside any stage. */
  readonly stage: string;
  readonly reason: string;
}

/** Every acknowledgement made through `acknowledge()` below a scope (CDK's own are left out). */
export function acknowledgedFindings(scope: IConstruct): AcknowledgedFinding[] {
  const found: AcknowledgedFinding[] = [];
  for (const construct of scope.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY || !entry.data) continue;
      for (const [key, reason] of Object.entries(entry.data as Record<string, string>)) {
        const rule = key.replace(/^annotation::/i, '');
        if (!RULE_ID.test(rule)) continue;
        const stack = Stack.of(construct);
        const stage = Stage.of(stack);
        const resource = construct.node.path.slice(stack.node.path.length + 1);
        found.push({
          rule,
          pack: PACK.exec(rule)![1],
          resource,
          stack: stack.node.id,
          // Only the App has no scope: a stack directly in the App is in no stage.
          stage: stage?.node.scope ? stage.node.id : '',
          reason,
        });
      }
    }
  }
  return found;
}

/** Counts of distinct (rule, resource) acknowledgements per pack. */
export function countByPack(findings: AcknowledgedFinding[]): Record<string, number> {
  const distinct = new Map<string, string>();
  for (const f of findings) distinct.set(`${f.stack}/${f.resource}|${f.rule}`, f.pack);
  const counts: Record<string, number> = {};
  for (const pack of distinct.values()) counts[pack] = (counts[pack] ?? 0) + 1;
  return counts;
}

/** Which part of the product an acknowledgement concerns. */
export type RegisterSection = 'workload' | 'tooling';

/** Stacks of the delivery tooling (no PHI); every other stack belongs to the PHI workload. */
const TOOLING_STACKS = new Set(['Pipeline', 'Previews', 'PreviewSandbox']);

export function sectionOf(f: AcknowledgedFinding): RegisterSection {
  // A stage inside the pipeline stack is an environment: its stacks are workload.
  return f.stage === '' && TOOLING_STACKS.has(f.stack) ? 'tooling' : 'workload';
}

/** `HIPAA.Security-IAMNoInlinePolicy` -> pack, rule and the finding in brackets (IAM5's resource or action). */
export function splitRule(id: string): { pack: string; rule: string; finding?: string } {
  const m = /^(AwsSolutions|HIPAA\.Security|NIST\.800\.53\.R5|CloudFormation-Validate)(?:-|::)([A-Za-z0-9]+)(?:\[(.+)\])?$/.exec(id);
  if (!m) throw new Error(`not a rule id: ${id}`);
  return { pack: m[1], rule: m[2], ...(m[3] !== undefined ? { finding: m[3] } : {}) };
}

/** One decision: one reason, the rules it answers (packs merged), and every resource it is applied to. */
export interface Decision {
  readonly section: RegisterSection;
  readonly reason: string;
  /** Rule name -> packs that report it (HIPAA.Security and NIST.800.53.R5 share many rules). */
  readonly rules: ReadonlyMap<string, ReadonlySet<string>>;
  /** `Stack/path` -> where it applies (stage or stack ids) and the specific findings (IAM5 resources). */
  readonly resources: ReadonlyMap<string, { readonly where: ReadonlySet<string>; readonly findings: ReadonlySet<string> }>;
}

/** Groups acknowledgements into decisions: one per (section, reason), in a stable order. */
export function decisions(findings: readonly AcknowledgedFinding[]): Decision[] {
  const byKey = new Map<
    string,
    {
      section: RegisterSection;
      reason: string;
      rules: Map<string, Set<string>>;
      resources: Map<string, { where: Set<string>; findings: Set<string> }>;
    }
  >();
  for (const f of findings) {
    const section = sectionOf(f);
    const key = `${section}|${f.reason}`;
    const d = byKey.get(key) ?? { section, reason: f.reason, rules: new Map(), resources: new Map() };
    const { pack, rule, finding } = splitRule(f.rule);
    d.rules.set(rule, (d.rules.get(rule) ?? new Set()).add(pack));
    const resource = `${f.stack}/${f.resource}`;
    const entry = d.resources.get(resource) ?? { where: new Set<string>(), findings: new Set<string>() };
    entry.where.add(f.stage || f.stack);
    if (finding !== undefined) entry.findings.add(finding);
    d.resources.set(resource, entry);
    byKey.set(key, d);
  }
  const first = (d: Decision) => [...d.rules.keys()].sort()[0];
  return [...byKey.values()].sort(
    (a, b) =>
      (a.section === b.section ? 0 : a.section === 'workload' ? -1 : 1) ||
      first(a).localeCompare(first(b)) ||
      a.reason.localeCompare(b.reason),
  );
}

const SECTION_TITLES: Readonly<Record<RegisterSection, string>> = {
  workload: 'PHI workload (the stacks of every environment, and the shared trail)',
  tooling: 'Delivery tooling (the pipeline and the preview pipelines, no PHI)',
};

/**
 * The compliance register as Markdown: per section, one entry per decision with the rules it covers
 * (packs merged), its reason, and the resources it is applied to (with where each applies).
 */
export function complianceRegister(findings: readonly AcknowledgedFinding[]): string {
  const all = decisions(findings);
  const lines: string[] = [];
  let n = 0;
  for (const section of ['workload', 'tooling'] as const) {
    const ofSection = all.filter((d) => d.section === section);
    lines.push(`## ${SECTION_TITLES[section]}`, '', `${ofSection.length} decisions.`, '');
    for (const d of ofSection) {
      n++;
      const rules = [...d.rules.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([rule, packs]) => `\`${rule}\` (${[...packs].sort().join(', ')})`);
      lines.push(`### D${n}. ${rules.join(', ')}`, '', d.reason, '');
      for (const [resource, { where, findings: specific }] of [...d.resources.entries()].sort(([a], [b]) => a.localeCompare(b))) {
        const detail =
          specific.size > 0
            ? `: ${[...specific]
                .sort()
                .map((x) => `\`${x.replace(/\|/g, '\\|')}\``)
                .join(', ')}`
            : '';
        lines.push(`- \`${resource}\` (${[...where].sort().join(', ')})${detail}`);
      }
      lines.push('');
    }
  }
  return lines.join('\n').trimEnd();
}
