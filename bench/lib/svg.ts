/**
 * A plain SVG bar chart of the side-by-side results (no dependencies): one row per set-up, a bar for QoS 0 and
 * one for QoS 1, the median as the bar, min..max as a whisker, the figure at the end of the bar.
 */

export interface ChartRow {
  label: string;
  qos0: { median: number; min: number; max: number };
  qos1: { median: number; min: number; max: number };
  highlight?: boolean;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function barChartSvg(title: string, subtitle: string, rows: ChartRow[]): string {
  const W = 960;
  const left = 330;
  const right = 110;
  const top = 70;
  const rowH = 54;
  const barH = 18;
  const plotW = W - left - right;
  const H = top + rows.length * rowH + 60;
  const max = niceMax(Math.max(...rows.flatMap((r) => [r.qos0.max, r.qos1.max, r.qos0.median, r.qos1.median])));
  const x = (v: number) => left + (Math.max(0, v) / max) * plotW;
  const colors = { q0: '#1f77b4', q1: '#ff7f0e' };
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="13">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${W / 2}" y="26" text-anchor="middle" font-size="17" font-weight="bold">${esc(title)}</text>`,
    `<text x="${W / 2}" y="46" text-anchor="middle" font-size="12" fill="#555">${esc(subtitle)}</text>`,
  );
  // grid and axis
  const ticks = 5;
  for (let i = 0; i <= ticks; i++) {
    const v = (max / ticks) * i;
    const gx = x(v);
    out.push(
      `<line x1="${gx}" y1="${top - 6}" x2="${gx}" y2="${top + rows.length * rowH}" stroke="#e3e3e3"/>`,
      `<text x="${gx}" y="${top + rows.length * rowH + 18}" text-anchor="middle" fill="#555" font-size="11">${fmt(v)}</text>`,
    );
  }
  out.push(
    `<text x="${left + plotW / 2}" y="${top + rows.length * rowH + 38}" text-anchor="middle" fill="#333">messages per second delivered to the subscriber (median of rounds; whisker: min..max)</text>`,
  );
  rows.forEach((r, i) => {
    const y0 = top + i * rowH + 6;
    out.push(
      `<text x="${left - 10}" y="${y0 + barH + 4}" text-anchor="end" ${r.highlight ? 'font-weight="bold"' : ''}>${esc(r.label)}</text>`,
    );
    (
      [
        ['q0', r.qos0, y0],
        ['q1', r.qos1, y0 + barH + 2],
      ] as const
    ).forEach(([k, s, y]) => {
      const c = colors[k];
      out.push(`<rect x="${left}" y="${y}" width="${Math.max(1, x(s.median) - left)}" height="${barH}" fill="${c}"/>`);
      if (Number.isFinite(s.min) && Number.isFinite(s.max)) {
        const ym = y + barH / 2;
        out.push(
          `<line x1="${x(s.min)}" y1="${ym}" x2="${x(s.max)}" y2="${ym}" stroke="#222" stroke-width="1.2"/>`,
          `<line x1="${x(s.min)}" y1="${ym - 4}" x2="${x(s.min)}" y2="${ym + 4}" stroke="#222" stroke-width="1.2"/>`,
          `<line x1="${x(s.max)}" y1="${ym - 4}" x2="${x(s.max)}" y2="${ym + 4}" stroke="#222" stroke-width="1.2"/>`,
        );
      }
      out.push(
        `<text x="${Math.max(x(s.median), x(s.max)) + 6}" y="${y + barH - 4}" font-size="12" fill="#222">${fmt(s.median)}</text>`,
      );
    });
  });
  // legend
  const ly = top - 22;
  out.push(
    `<rect x="${left}" y="${ly}" width="14" height="12" fill="${colors.q0}"/>`,
    `<text x="${left + 20}" y="${ly + 11}">QoS 0</text>`,
    `<rect x="${left + 90}" y="${ly}" width="14" height="12" fill="${colors.q1}"/>`,
    `<text x="${left + 110}" y="${ly + 11}">QoS 1</text>`,
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}
