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

/**
 * A Markdown table, one row per (rule, resource), listing where it applies (stage ids or
 * stacks outside a stage). Rows are sorted so the table is stable.
 */
export function findingsTable(findings: AcknowledgedFinding[]): string {
  const rows = new Map<string, { rule: string; resource: string; where: Set<string>; reason: string }>();
  for (const f of findings) {
    const resource = `${f.stack}/${f.resource}`;
    const key = `${resource}|${f.rule}`;
    const row = rows.get(key) ?? { rule: f.rule, resource, where: new Set<string>(), reason: f.reason };
    row.where.add(f.stage || f.stack);
    rows.set(key, row);
  }
  const escape = (s: string) => s.replace(/\|/g, '\\|');
  const lines = [...rows.values()]
    .sort((a, b) => a.resource.localeCompare(b.resource) || a.rule.localeCompare(b.rule))
    .map((r) => `| \`${escape(r.rule)}\` | \`${r.resource}\` | ${[...r.where].sort().join(', ')} | ${escape(r.reason)} |`);
  return ['| Rule | Resource | Applies to | Reason |', '| --- | --- | --- | --- |', ...lines].join('\n');
}
