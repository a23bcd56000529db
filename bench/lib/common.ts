// What every benchmark program shares: timing calls the same way, comparing states with the
// float64 reference, deterministic data, and naming result files after the adapter.
import type { GpuContext } from "../../src/runtime/device.ts";
import { median, type Timing } from "../../src/runtime/timing.ts";

// The timing helpers live in src/ (`hopc bench` uses them too); re-exported for bench/.
export { median, relativeError, timeCalls, type Timing } from "../../src/runtime/timing.ts";

/** Standard normal draws (Box–Muller over mulberry32), deterministic in the seed. */
export function gaussianRng(seed: number): () => number {
  let s = seed >>> 0;
  const uniform = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** Cosine of row b of `a` with row b of `b` (both rows x cols), for every row. */
export function rowCosines(a: ArrayLike<number>, b: ArrayLike<number>, rows: number, cols: number) {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let ab = 0, aa = 0, bb = 0;
    for (let c = 0; c < cols; c++) {
      const x = a[r * cols + c], y = b[r * cols + c];
      ab += x * y;
      aa += x * x;
      bb += y * y;
    }
    out.push(aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0);
  }
  return out;
}

/** A CPU adapter (Mesa llvmpipe / lavapipe, SwiftShader, WARP): slow, and sized down for. */
export function isCpuAdapter(ctx: GpuContext): boolean {
  const info = ctx.adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  return info.isFallbackAdapter === true ||
    /llvmpipe|lavapipe|swiftshader|softpipe|warp|software/i.test(ctx.info);
}

/** The adapter's description as a file-name part. */
export function slug(s: string): string {
  return s.toLowerCase().replace(/\[.*?\]/g, "").replace(/[^a-z0-9]+/g, "-").replace(
    /^-+|-+$/g,
    "",
  ).slice(0, 60) || "adapter";
}

/** YYYY-MM-DD, and with `time` also -HHMM (local time). */
export function dateStamp(d: Date, time = false): string {
  const p = (n: number) => String(n).padStart(2, "0");
  const day = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
  return time ? `${day}-${p(d.getHours())}${p(d.getMinutes())}` : day;
}

export interface InterleavedPath {
  name: string;
  fn: () => Promise<unknown>;
}

export interface InterleavedResult {
  /** The warm-up call's result. */
  first?: unknown;
  timing?: Timing;
  /** What the path threw (it then leaves the rounds). */
  error?: unknown;
}

/**
 * Times several paths alternately: one warm-up call of each (in order), then rounds that call
 * every path once, the order rotated by one each round (round-robin), until at least 3 rounds
 * were timed and the rounds took about `minTime` seconds in all; each path's median is reported.
 * A path that throws is dropped from the rounds with its error; the others go on.
 */
export async function timeInterleaved(
  paths: InterleavedPath[],
  minTime: number,
): Promise<{ results: Map<string, InterleavedResult>; rounds: number }> {
  const results = new Map<string, InterleavedResult>();
  const times = new Map<string, number[]>();
  const warmups = new Map<string, number>();
  for (const p of paths) {
    const t = performance.now();
    try {
      results.set(p.name, { first: await p.fn() });
      warmups.set(p.name, performance.now() - t);
      times.set(p.name, []);
    } catch (e) {
      results.set(p.name, { error: e });
    }
  }
  let live = paths.filter((p) => times.has(p.name));
  let rounds = 0;
  const start = performance.now();
  while (
    live.length > 0 &&
    (rounds < 3 || (performance.now() - start < minTime * 1000 && rounds < 1000))
  ) {
    for (let i = 0; i < live.length; i++) {
      const p = live[(i + rounds) % live.length];
      const t = performance.now();
      try {
        await p.fn();
        times.get(p.name)!.push(performance.now() - t);
      } catch (e) {
        results.get(p.name)!.error = e;
        times.delete(p.name);
      }
    }
    live = live.filter((p) => times.has(p.name));
    rounds++;
  }
  for (const [name, ts] of times) {
    if (ts.length === 0) continue;
    results.get(name)!.timing = {
      ms: median(ts),
      min: Math.min(...ts),
      max: Math.max(...ts),
      n: ts.length,
      warmupMs: warmups.get(name)!,
    };
  }
  return { results, rounds };
}
