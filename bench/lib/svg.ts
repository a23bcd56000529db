// A small, dependency-free SVG line-plot writer for benchmark reports.
//
// The benchmarks write their figures as standalone SVG files, so a report can be viewed in any
// browser without Python, a plotting library or a network connection. It draws only what the
// reports need: line plots with linear or logarithmic axes, round tick values, a legend and the
// colour-blind-safe Okabe–Ito palette, and a way to place several plots side by side.

export interface Series {
  label: string;
  x: number[];
  y: number[];
  dashed?: boolean;
}

/** Okabe–Ito colours, ordered so that the first few are the easiest to tell apart. */
const PALETTE = [
  "#0072B2",
  "#D55E00",
  "#009E73",
  "#CC79A7",
  "#E69F00",
  "#56B4E9",
  "#000000",
  "#F0E442",
];

/** Escapes text for use in SVG content and attribute values. */
function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

function fmt(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e6) return String(Number(v.toPrecision(6)));
  return v.toExponential().replace(/\.?0+e/, "e").replace("e+", "e");
}

interface Axis {
  lo: number;
  hi: number;
  ticks: number[];
  labels: string[];
}

/** Linear axis: ticks at 1, 2 or 5 times a power of 10, about five of them. */
function linearAxis(lo: number, hi: number): Axis {
  if (lo === hi) [lo, hi] = lo === 0 ? [-1, 1] : [lo - Math.abs(lo) / 2, hi + Math.abs(hi) / 2];
  const raw = (hi - lo) / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const first = Math.floor(lo / step + 1e-9), last = Math.ceil(hi / step - 1e-9);
  const ticks: number[] = [];
  for (let k = first; k <= last; k++) ticks.push(Number((k * step).toPrecision(12)));
  return { lo: first * step, hi: last * step, ticks, labels: ticks.map(fmt) };
}

/**
 * Log axis. Ticks at powers of 2 suit ranges of sizes and counts (1, 4, 16, ..., 1024); ticks at
 * powers of 10 suit wide ranges and small values such as errors (1e-4 ... 1), so powers of 10 are
 * used when at least three fall in the range and the range is wider than 2^16 or goes below 1.
 * With too many powers only every k-th one is a tick; with too few the range grows to the
 * nearest powers.
 */
function logAxis(lo: number, hi: number): Axis {
  const count = (base: number) =>
    Math.floor(Math.log(hi) / Math.log(base) + 1e-9) -
    Math.ceil(Math.log(lo) / Math.log(base) - 1e-9) + 1;
  const base = count(10) >= 3 && (lo < 1 || count(2) > 16) ? 10 : 2;
  const lg = (v: number) => Math.log(v) / Math.log(base);
  let a = Math.ceil(lg(lo) - 1e-9), b = Math.floor(lg(hi) + 1e-9);
  if (b - a < 1) {
    a = Math.floor(lg(lo) + 1e-9);
    b = Math.max(Math.ceil(lg(hi) - 1e-9), a + 1);
    [lo, hi] = [Math.min(lo, base ** a), Math.max(hi, base ** b)];
  }
  const stride = Math.ceil((b - a + 1) / 8);
  const exps: number[] = [];
  for (let k = Math.ceil(a / stride) * stride; k <= b; k += stride) exps.push(k);
  const ticks = exps.map((k) => base ** k);
  const labels = exps.map((k, i) => {
    if (base === 10) return k >= -3 && k <= 5 ? fmt(ticks[i]) : `1e${k}`;
    const plain = String(ticks[i]);
    return plain.length <= 6 ? plain : `2^${k}`;
  });
  return { lo, hi, ticks, labels };
}

/** Standalone SVG line plot; points that are not finite (or not positive on a log axis) are
 * skipped and break the line. */
export function linePlot(opts: {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  logX?: boolean;
  logY?: boolean;
  width?: number;
  height?: number;
}): string {
  const { title, xLabel, yLabel, series, logX = false, logY = false } = opts;
  const width = opts.width ?? 640, height = opts.height ?? 400;
  const ok = (v: number, log: boolean) => Number.isFinite(v) && (!log || v > 0);
  const pts = series.map((s) =>
    s.x.map((x, i) => [x, s.y[i]]).map(([x, y]) => (ok(x, logX) && ok(y, logY) ? [x, y] : null))
  );
  const all = pts.flat().filter((p): p is number[] => p !== null);
  const range = (vs: number[], log: boolean) =>
    vs.length ? [Math.min(...vs), Math.max(...vs)] : log ? [1, 10] : [0, 1];
  const [x0, x1] = range(all.map((p) => p[0]), logX);
  const [y0, y1] = range(all.map((p) => p[1]), logY);
  const ax = logX ? logAxis(x0, x1) : linearAxis(x0, x1);
  const ay = logY ? logAxis(y0, y1) : linearAxis(y0, y1);

  const legendW = 150;
  const left = 70, right = width - legendW - 10, top = 40, bottom = height - 50;
  const pos = (v: number, a: Axis, log: boolean, p0: number, p1: number) => {
    const t = log
      ? (Math.log(v) - Math.log(a.lo)) / (Math.log(a.hi) - Math.log(a.lo))
      : (v - a.lo) / (a.hi - a.lo);
    return Number((p0 + t * (p1 - p0)).toFixed(2));
  };
  const px = (v: number) => pos(v, ax, logX, left, right);
  const py = (v: number) => pos(v, ay, logY, bottom, top);

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${(left + right) / 2}" y="22" text-anchor="middle" font-size="15">${
      esc(title)
    }</text>`,
  ];
  ax.ticks.forEach((t, i) => {
    const x = px(t);
    out.push(
      `<line x1="${x}" y1="${top}" x2="${x}" y2="${bottom}" stroke="#e5e5e5"/>`,
      `<text x="${x}" y="${bottom + 16}" text-anchor="middle">${esc(ax.labels[i])}</text>`,
    );
  });
  ay.ticks.forEach((t, i) => {
    const y = py(t);
    out.push(
      `<line x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="#e5e5e5"/>`,
      `<text x="${left - 6}" y="${y + 4}" text-anchor="end">${esc(ay.labels[i])}</text>`,
    );
  });
  out.push(
    `<rect x="${left}" y="${top}" width="${right - left}" height="${bottom - top}" ` +
      `fill="none" stroke="black"/>`,
    `<text x="${(left + right) / 2}" y="${height - 12}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text transform="translate(16 ${(top + bottom) / 2}) rotate(-90)" text-anchor="middle">${
      esc(yLabel)
    }</text>`,
  );
  series.forEach((s, k) => {
    const colour = PALETTE[k % PALETTE.length];
    const dash = s.dashed ? ` stroke-dasharray="6 4"` : "";
    // One polyline per run of plottable points.
    const runs: number[][][] = [[]];
    for (const p of pts[k]) {
      if (p) runs[runs.length - 1].push(p);
      else if (runs[runs.length - 1].length) runs.push([]);
    }
    out.push(`<g stroke="${colour}" fill="${colour}">`);
    for (const run of runs.filter((r) => r.length > 1)) {
      const coords = run.map(([x, y]) => `${px(x)},${py(y)}`).join(" ");
      out.push(`<polyline points="${coords}" fill="none" stroke-width="1.5"${dash}/>`);
    }
    for (const [x, y] of runs.flat()) out.push(`<circle cx="${px(x)}" cy="${py(y)}" r="2.5"/>`);
    const ly = top + 10 + 18 * k;
    out.push(
      `<line x1="${right + 12}" y1="${ly}" x2="${right + 36}" y2="${ly}" stroke-width="2"${dash}/>`,
      `<text x="${right + 42}" y="${ly + 4}" stroke="none" fill="black">${esc(s.label)}</text>`,
      `</g>`,
    );
  });
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}

/** Places SVG plots (each from linePlot) on a grid with `columns` columns, in one SVG. */
export function panels(plots: string[], columns: number): string {
  const size = plots.map((p) => {
    const attr = (name: string) =>
      Number(p.match(new RegExp(`<svg[^>]*\\s${name}="([\\d.]+)"`))?.[1]);
    const [w, h] = [attr("width"), attr("height")];
    if (!(w > 0 && h > 0)) throw new Error("panels: a plot has no width/height on its <svg>");
    return [w, h];
  });
  const cellW = Math.max(0, ...size.map((s) => s[0]));
  const cellH = Math.max(0, ...size.map((s) => s[1]));
  const cols = Math.max(1, Math.min(columns, plots.length));
  const rows = Math.ceil(plots.length / cols);
  const [width, height] = [cols * cellW, rows * cellH];
  const inner = plots.map((p, i) =>
    p.trim().replace(/^<\?xml[^>]*>\s*/, "").replace(
      /^<svg/,
      `<svg x="${(i % cols) * cellW}" y="${Math.floor(i / cols) * cellH}"`,
    )
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}">`,
    ...inner,
    `</svg>`,
  ].join("\n") + "\n";
}
