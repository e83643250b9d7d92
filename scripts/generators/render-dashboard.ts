/**
 * Draws the operations dashboard of an environment as an SVG picture (docs/dashboard.svg), from the
 * dashboard body the compute stack synthesizes: every widget at its place on CloudWatch's 24-column
 * grid, with its title and the series it graphs. No AWS account is needed, so the picture shows the
 * layout and the metrics, not data.
 *
 *   npm run dashboard:render                 write docs/dashboard.svg (production profile, suffix "prod")
 *   npm run dashboard:render -- --check      exit 1 if docs/dashboard.svg is out of date
 */
import { readFileSync, writeFileSync } from 'fs';
import { join } from 'path';
import { Template } from 'aws-cdk-lib/assertions';
import { appSettings, plannedEnvironments, resolveApp } from '../../lib/config';
import { PipelineAppStage } from '../../stages/pipeline-app-stage';
import { cdkJsonApp } from '../shared/cdk-app';
import { parseFlags, runCli } from '../shared/cli';

export const USAGE = `usage: npm run dashboard:render -- [--check]
  (no flag)   write docs/dashboard.svg
  --check     exit 1 if docs/dashboard.svg is out of date`;

export const SVG_PATH = join(__dirname, '..', '..', 'docs', 'dashboard.svg');

interface Widget {
  readonly type: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly properties: { title?: string; markdown?: string; alarms?: unknown[]; metrics?: Array<Array<string | Record<string, unknown>>> };
}

/** The synthesized dashboard body of a production environment, references replaced by their kind. */
export function referenceDashboard(): { name: string; widgets: Widget[]; alarmNames: string[] } {
  const app = cdkJsonApp();
  const environments = { prod: { profile: 'production', sizing: { streamShardCount: 4 } } };
  const [config] = plannedEnvironments(resolveApp({ project: appSettings().project, environments }, {}, new Date()));
  const stage = new PipelineAppStage(app, 'prod', { config });
  const template = Template.fromStack(stage.compute).toJSON() as {
    Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
  };
  const [id, dashboard] = Object.entries(template.Resources).find(([, r]) => r.Type === 'AWS::CloudWatch::Dashboard')!;
  const body = dashboard.Properties.DashboardBody as { 'Fn::Join': [string, Array<string | Record<string, unknown>>] };
  const alarmNames: string[] = [];
  const text = body['Fn::Join'][1]
    .map((part) => {
      if (typeof part === 'string') return part;
      const getAtt = part['Fn::GetAtt'] as [string, string] | undefined;
      if (getAtt?.[1] === 'Arn' && template.Resources[getAtt[0]]?.Type === 'AWS::CloudWatch::Alarm') {
        alarmNames.push(getAtt[0].replace(/^ProcessorAlarms/, '').replace(/[0-9A-F]{8}$/, ''));
        return 'alarm';
      }
      if (part['Fn::GetStackOutput']) {
        const output = (part['Fn::GetStackOutput'] as { OutputName: string }).OutputName;
        if (/SecurityAlarms/.test(output)) alarmNames.push(output.replace(/^.*SecurityAlarms/, '').replace(/Alarm.*$/, ''));
        return /Alarm/.test(output) ? 'alarm' : 'ref';
      }
      return 'ref';
    })
    .join('');
  const parsed = JSON.parse(text) as { widgets: Widget[] };
  return { name: String(template.Resources[id].Properties.DashboardName as string), widgets: parsed.widgets, alarmNames };
}

const COLUMN = 44;
const ROW = 28;
const PAD = 6;
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** One series of a metric widget as a legend line: `Namespace MetricName (stat)` or the SEARCH it runs. */
function seriesLabel(row: Array<string | Record<string, unknown>>): string {
  const options = row[row.length - 1];
  const opts = typeof options === 'object' ? options : {};
  if (typeof opts.expression === 'string') {
    const m = /MetricName="([^"]+)"/.exec(opts.expression);
    const by = /\{[^,]+,([^,}]+),/.exec(opts.expression)?.[1];
    return `${m?.[1] ?? 'search'} per ${by ?? 'series'}`;
  }
  const strings = row.filter((x): x is string => typeof x === 'string');
  const label = typeof opts.label === 'string' ? ` "${opts.label}"` : '';
  const stat = typeof opts.stat === 'string' ? ` ${opts.stat}` : '';
  return `${strings[1]}${stat}${label}`;
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

export function renderSvg(dashboard: ReturnType<typeof referenceDashboard>): string {
  const rows = Math.max(...dashboard.widgets.map((w) => w.y + w.height));
  const width = 24 * COLUMN + 2 * PAD;
  const height = rows * ROW + 2 * PAD;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#f2f3f3"/>`,
  ];
  let alarmIndex = 0;
  for (const w of dashboard.widgets) {
    const x = PAD + w.x * COLUMN;
    const y = PAD + w.y * ROW;
    const wpx = w.width * COLUMN - 4;
    const hpx = w.height * ROW - 4;
    if (w.type === 'text' && /^#{1,2} /.test(w.properties.markdown ?? '') && w.height <= 2) {
      const [line, ...rest] = (w.properties.markdown ?? '').split('\n');
      const size = line.startsWith('# ') ? 17 : 14;
      out.push(
        `<text x="${x + 4}" y="${y + 19}" font-size="${size}" font-weight="bold" fill="#16191f">${esc(line.replace(/^#+ /, ''))}</text>`,
      );
      rest.forEach((more, i) =>
        out.push(`<text x="${x + 4}" y="${y + 38 + i * 15}" font-size="11" fill="#545b64">${esc(more.replace(/`/g, ''))}</text>`),
      );
      continue;
    }
    out.push(`<rect x="${x}" y="${y}" width="${wpx}" height="${hpx}" rx="3" fill="#ffffff" stroke="#d5dbdb"/>`);
    if (w.type === 'metric') {
      out.push(`<text x="${x + 8}" y="${y + 18}" font-size="12" font-weight="bold" fill="#16191f">${esc(w.properties.title ?? '')}</text>`);
      const chartTop = y + 28;
      const chartBottom = y + hpx - 14 - 13 * (w.properties.metrics ?? []).length;
      // Axes and gridlines only: the picture is drawn offline, without metric data.
      for (let i = 0; i <= 3; i++) {
        const gy = chartTop + ((chartBottom - chartTop) * i) / 3;
        out.push(`<line x1="${x + 10}" y1="${gy}" x2="${x + wpx - 10}" y2="${gy}" stroke="#eaeded"/>`);
      }
      (w.properties.metrics ?? []).forEach((row, i) => {
        const ly = chartBottom + 14 + i * 13;
        out.push(`<rect x="${x + 10}" y="${ly - 8}" width="10" height="3" fill="${PALETTE[i % PALETTE.length]}"/>`);
        out.push(`<text x="${x + 25}" y="${ly - 3}" font-size="10" fill="#545b64">${esc(seriesLabel(row))}</text>`);
      });
    } else if (w.type === 'alarm') {
      out.push(
        `<text x="${x + 8}" y="${y + 18}" font-size="12" font-weight="bold" fill="#16191f">${esc(w.properties.title ?? 'Alarms')}</text>`,
      );
      const count = w.properties.alarms?.length ?? 0;
      const perRow = 4;
      for (let i = 0; i < count; i++) {
        const ax = x + 10 + (i % perRow) * ((wpx - 20) / perRow);
        const ay = y + 32 + Math.floor(i / perRow) * 22;
        const name = dashboard.alarmNames[alarmIndex++] ?? `alarm ${i + 1}`;
        out.push(
          `<circle cx="${ax + 6}" cy="${ay + 6}" r="5" fill="#8d9999"/><text x="${ax + 16}" y="${ay + 10}" font-size="11" fill="#16191f">${esc(name)}</text>`,
        );
      }
    } else {
      (w.properties.markdown ?? '').split('\n').forEach((line, i) => {
        const shown = line
          .replace(/\[([^\]]+)\]\([^)]+\)/g, '$1')
          .replace(/`/g, '')
          .replace(/^#+ /, '');
        out.push(
          `<text x="${x + 8}" y="${y + 18 + i * 15}" font-size="${i === 0 ? 12 : 11}"${i === 0 ? ' font-weight="bold"' : ''} fill="#16191f">${esc(shown)}</text>`,
        );
      });
    }
  }
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function main(argv: string[]): number {
  const parsed = parseFlags(argv, { check: { type: 'boolean' } });
  if (!parsed) {
    console.log(USAGE);
    return 0;
  }
  const svg = renderSvg(referenceDashboard());
  if (parsed.flags.check) {
    if (readFileSync(SVG_PATH, 'utf8') !== svg) {
      console.error('docs/dashboard.svg is out of date: run npm run dashboard:render');
      return 1;
    }
    console.log('docs/dashboard.svg is up to date');
    return 0;
  }
  writeFileSync(SVG_PATH, svg);
  console.log('wrote docs/dashboard.svg');
  return 0;
}

if (require.main === module) runCli('render-dashboard', USAGE, async () => main(process.argv.slice(2)));
