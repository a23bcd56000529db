/// <reference lib="dom" />
// Pictures of a run: a state as a greyscale image, and small inline-SVG plots (a line per query
// over the steps; bars over the memories). Hand-written SVG keeps the page free of a plotting
// dependency; the plots only need axes, a few lines and a readable range.

/** The image of a D-vector: side x side when D is a square, else a 1-row strip. Min-max scaled. */
export function drawState(canvas: HTMLCanvasElement, v: ArrayLike<number>): void {
  const D = v.length;
  const side = Math.round(Math.sqrt(D));
  const [w, h] = side * side === D ? [side, side] : [D, 1];
  canvas.width = w;
  canvas.height = h;
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < D; i++) {
    lo = Math.min(lo, v[i]);
    hi = Math.max(hi, v[i]);
  }
  // A state of non-negative images keeps 0 black; signed states (tanh, layernorm) map lo to black.
  if (lo > 0) lo = 0;
  const span = hi - lo || 1;
  const ctx = canvas.getContext("2d")!;
  const img = ctx.createImageData(w, h);
  for (let i = 0; i < D; i++) {
    const g = Math.round(255 * (v[i] - lo) / span);
    img.data.set([g, g, g, 255], 4 * i);
  }
  ctx.putImageData(img, 0, 0);
}

export const COLOURS = [
  "#e6194b",
  "#3cb44b",
  "#4363d8",
  "#f58231",
  "#911eb4",
  "#42d4f4",
  "#f032e6",
  "#9a6324",
  "#808000",
  "#000075",
];

const NS = "http://www.w3.org/2000/svg";
const W = 320, H = 160, L = 52, R = 8, T = 18, Bm = 24;

function svgEl(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function fmt(v: number): string {
  return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(1) : v.toFixed(3);
}

function frame(svg: SVGSVGElement, title: string, lo: number, hi: number, xs: string[]): void {
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.append(svgEl("text", { x: L, y: T - 7, class: "title" }, title));
  svg.append(svgEl("line", { x1: L, y1: H - Bm, x2: W - R, y2: H - Bm, class: "axis" }));
  svg.append(svgEl("line", { x1: L, y1: T, x2: L, y2: H - Bm, class: "axis" }));
  svg.append(svgEl("text", { x: L - 4, y: T + 8, class: "tick end" }, fmt(hi)));
  svg.append(svgEl("text", { x: L - 4, y: H - Bm, class: "tick end" }, fmt(lo)));
  xs.forEach((label, i) => {
    const x = L + (xs.length === 1 ? 0 : i * (W - L - R) / (xs.length - 1));
    svg.append(svgEl("text", { x, y: H - Bm + 14, class: "tick mid" }, label));
  });
}

/** One line per series over x = 0..n-1 (null values break the line). */
export function linePlot(svg: SVGSVGElement, title: string, series: (number | null)[][]): void {
  const values = series.flat().filter((v): v is number => v !== null && Number.isFinite(v));
  const n = Math.max(1, ...series.map((s) => s.length));
  let lo = Math.min(...values), hi = Math.max(...values);
  if (values.length === 0) lo = hi = 0;
  if (hi - lo < 1e-12) [lo, hi] = [lo - 0.5, hi + 0.5];
  const xs = Array.from({ length: n }, (_, i) => String(i));
  frame(svg, title, lo, hi, n > 12 ? xs.map((x, i) => (i % Math.ceil(n / 12) ? "" : x)) : xs);
  const px = (i: number) => L + (n === 1 ? 0 : i * (W - L - R) / (n - 1));
  const py = (v: number) => H - Bm - (v - lo) / (hi - lo) * (H - Bm - T);
  series.forEach((s, k) => {
    let d = "";
    s.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) return;
      d += `${d && s[i - 1] !== null ? "L" : "M"}${px(i).toFixed(1)},${py(v).toFixed(1)}`;
      svg.append(svgEl("circle", { cx: px(i), cy: py(v), r: 2, fill: COLOURS[k % 10] }));
    });
    svg.append(svgEl("path", { d, stroke: COLOURS[k % 10], class: "series" }));
  });
}

/** Bars of one query's weights over the memories; the source memory's bar is outlined. */
export function weightsPlot(
  svg: SVGSVGElement,
  title: string,
  w: ArrayLike<number>,
  mark: number,
): void {
  let hi = 0;
  for (let i = 0; i < w.length; i++) hi = Math.max(hi, w[i]);
  frame(svg, title, 0, hi || 1, ["0", String(w.length - 1)]);
  const bw = (W - L - R) / w.length;
  for (let i = 0; i < w.length; i++) {
    if (w[i] === 0 && i !== mark) continue;
    const h = (w[i] / (hi || 1)) * (H - Bm - T);
    svg.append(svgEl("rect", {
      x: L + i * bw,
      y: H - Bm - h,
      width: Math.max(bw, 1),
      height: Math.max(h, i === mark ? 1 : 0),
      class: i === mark ? "bar source" : "bar",
    }));
  }
}
