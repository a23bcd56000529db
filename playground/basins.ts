/// <reference lib="dom" />
// The 2-D mode: a few memories placed with the mouse, and for each normalizer a map whose every
// pixel is a query (all G*G of them in one GPU call) coloured by the memory its retrieved state
// ends nearest to, as in the figures of Hopfield-Fenchel-Young networks: softmax's basins share
// wide pale borders of mixtures, the sparse maps snap to single memories sooner.
import { checkText, HopError, load, type Mat, type Model } from "./hopc_api.ts";
import { device } from "./gpu.ts";
import { COLOURS } from "./plots.ts";

/** The square of the plane shown: [-EXTENT, EXTENT]^2. */
export const EXTENT = 1.25;
/** A state farther than this from every memory is a mixture, painted pale. */
const MIXTURE = 0.1;

export const NORMALIZERS: { label: string; entropy: string }[] = [
  { label: "softmax", entropy: "shannon" },
  { label: "1.5-entmax", entropy: "tsallis(alpha = 1.5)" },
  { label: "sparsemax", entropy: "sparsemax" },
  { label: "2-normmax", entropy: "normmax(gamma = 2)" },
];

export interface BasinSettings {
  similarity: string;
  beta: number;
  steps: number;
  /** Pixels per side of a map (size^2 queries in one call). */
  size: number;
}

export interface BasinMap {
  label: string;
  /** Pixels per side. */
  size: number;
  /** Per pixel (row-major, y up from the bottom row): the nearest memory, or -1 for a mixture. */
  basinOf: Int32Array;
  ms: number;
}

/** A normalizer's model, written in the language and checked by hopc like the editor's text. */
export function basinModel(entropy: string, s: BasinSettings): Model {
  const text = `model basins {
  similarity ${s.similarity}
  entropy    ${entropy}
  beta       ${s.beta}
  steps      ${s.steps}
}`;
  const { models, diagnostics } = checkText(text, "basins.hop");
  if (diagnostics.length > 0) throw new HopError(diagnostics);
  return models[0];
}

/** The plane point of pixel (px, py) of a G x G map, py counted from the top as on a canvas. */
export function pixelPoint(px: number, py: number, G: number): [number, number] {
  return [
    -EXTENT + (px + 0.5) * 2 * EXTENT / G,
    EXTENT - (py + 0.5) * 2 * EXTENT / G,
  ];
}

/** Every pixel's point, as a G*G x 2 query matrix (row-major from the top-left). */
export function gridQueries(G: number): Mat {
  const data = new Float64Array(G * G * 2);
  for (let py = 0; py < G; py++) {
    for (let px = 0; px < G; px++) data.set(pixelPoint(px, py, G), 2 * (py * G + px));
  }
  return { rows: G * G, cols: 2, data };
}

export async function basinMap(
  label: string,
  model: Model,
  memories: [number, number][],
  G: number,
): Promise<BasinMap> {
  const X = { rows: memories.length, cols: 2, data: Float64Array.from(memories.flat()) };
  const t0 = performance.now();
  const r = await load(model, X, await device());
  let states: Float32Array;
  try {
    states = (await r.retrieve(gridQueries(G))).states;
  } finally {
    r.destroy();
  }
  const ms = performance.now() - t0;
  const basinOf = classify(states, memories);
  return { label, size: G, basinOf, ms };
}

/**
 * Per final state: the index of the memory it ends within MIXTURE of, else -1 - (nearest index)
 * for a mixture. Shared with the browser test, which classifies the reference's states the same.
 */
export function classify(states: ArrayLike<number>, memories: [number, number][]): Int32Array {
  const basinOf = new Int32Array(states.length / 2);
  for (let p = 0; p < basinOf.length; p++) {
    let best = -1, bestD = Infinity;
    memories.forEach(([x, y], i) => {
      const d = Math.hypot(states[2 * p] - x, states[2 * p + 1] - y);
      if (d < bestD) [best, bestD] = [i, d];
    });
    basinOf[p] = bestD <= MIXTURE ? best : -1 - best;
  }
  return basinOf;
}

function hex(c: string): [number, number, number] {
  return [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)) as [number, number, number];
}

/** Canvas pixels per side: maps of any size are scaled up to it, so the markers stay sharp. */
const VIEW = 240;

/** Paints a map (or, with null, only the memories) on a canvas. */
export function paintMap(
  canvas: HTMLCanvasElement,
  map: BasinMap | null,
  memories: [number, number][],
): void {
  canvas.width = canvas.height = VIEW;
  const ctx = canvas.getContext("2d")!;
  ctx.fillStyle = "#f5f5f5";
  ctx.fillRect(0, 0, VIEW, VIEW);
  if (map) {
    const G = map.size;
    const img = new ImageData(G, G);
    for (let p = 0; p < G * G; p++) {
      const b = map.basinOf[p];
      const c = hex(COLOURS[(b >= 0 ? b : -1 - b) % COLOURS.length]);
      // Mixtures: the nearest memory's colour, mostly white.
      const rgb = b >= 0 ? c : c.map((v) => Math.round(0.3 * v + 0.7 * 255));
      img.data.set([...rgb, 255], 4 * p);
    }
    const small = new OffscreenCanvas(G, G);
    small.getContext("2d")!.putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(small, 0, 0, VIEW, VIEW);
  }
  memories.forEach(([x, y], i) => {
    const px = (x + EXTENT) / (2 * EXTENT) * VIEW, py = (EXTENT - y) / (2 * EXTENT) * VIEW;
    ctx.beginPath();
    ctx.arc(px, py, 5, 0, 2 * Math.PI);
    ctx.fillStyle = map ? "#fff" : COLOURS[i % COLOURS.length];
    ctx.fill();
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 1.5;
    ctx.stroke();
  });
}

/** The plane point under a mouse event on a map canvas. */
export function eventPoint(canvas: HTMLCanvasElement, e: MouseEvent): [number, number] {
  const r = canvas.getBoundingClientRect();
  const fx = (e.clientX - r.left) / r.width, fy = (e.clientY - r.top) / r.height;
  return [-EXTENT + fx * 2 * EXTENT, EXTENT - fy * 2 * EXTENT];
}
