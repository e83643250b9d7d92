import { readFileSync } from 'fs';
import { referenceDashboard, renderSvg, SVG_PATH } from '../../../scripts/generators/render-dashboard';

describe('docs/dashboard.svg (npm run dashboard:render)', () => {
  const dashboard = referenceDashboard();
  const svg = renderSvg(dashboard);

  test('is the picture of the dashboard the compute stack synthesizes today', () => {
    // If this fails after changing the dashboard: npm run dashboard:render
    expect(readFileSync(SVG_PATH, 'utf8')).toBe(svg);
  });

  test('draws every widget title and every alarm of the body', () => {
    const titles = dashboard.widgets.map((w) => w.properties.title).filter((t): t is string => t !== undefined);
    expect(titles.length).toBeGreaterThan(10);
    for (const title of titles) expect(svg).toContain(`>${title.replace(/&/g, '&amp;')}</text>`);
    expect(dashboard.alarmNames).toEqual(expect.arrayContaining(['IteratorAgeHigh', 'ShardStuck', 'DatabaseAuthenticationFailures']));
    for (const name of dashboard.alarmNames) expect(svg).toContain(`>${name}</text>`);
  });
});
