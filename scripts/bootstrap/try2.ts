import { readFileSync } from 'fs';
import { bootstrapPolicies } from '.';
const s = JSON.parse(readFileSync('/tmp/synth.json', 'utf8'));
for (const p of bootstrapPolicies(s))
  console.log(
    p.plan.account,
    p.kind,
    p.execution.map((d) => JSON.stringify(d).length),
    JSON.stringify(p.boundary).length,
  );
