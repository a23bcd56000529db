// Shared pieces of the separation functions (UHN, MATH.md 7.2; HFYN DAM baselines, MATH.md 2.6).
// A separation maps the score row s (NOT multiplied by beta: HFYN puts beta only inside the tanh
// post, MATH.md 2.6) to weights p, optionally followed by UHN's sum-normalization p / Σp.

import { oneOf } from "../signature.ts";

/** UHN's sum-normalization switch, shared by every separation (raw: none, the default). */
export const NORMALIZE = oneOf(["raw", "sum"], "raw");

/** The largest finite float32; unnormalized weights are clamped to ±F32_MAX so the GPU never
 * returns Inf/NaN for finite input (the authors' float32 code overflows here, MATH.md 2.6). */
export const F32_MAX = 3.4028234663852886e38;

export function clampF32(v: number): number {
  return v > F32_MAX ? F32_MAX : v < -F32_MAX ? -F32_MAX : v;
}

/**
 * UHN's sum-normalization p / Σp over the unmasked entries. When Σp = 0 (e.g. linear on scores
 * that sum to zero) the quotient is undefined: hopc then returns all-zero weights (the state's
 * readout is 0), not NaN. A sum that cancels to nearly 0 (signed weights: linear, odd poly) can
 * make the quotient huge: it is clamped to ±F32_MAX like the unnormalized weights.
 */
export function sumNormalize(p: Float64Array): Float64Array {
  let sum = 0;
  for (const v of p) sum += v;
  if (sum === 0 || !Number.isFinite(sum)) return p.fill(0);
  return p.map((v) => clampF32(v / sum));
}

/**
 * x^n for a whole n as WGSL, by square-and-multiply with n known when the kernel is written
 * (pow() is undefined for x < 0 and its exp2/log2 form loses digits): the name of a function
 * `sep_power(x: f32) -> f32` and its text. With |x| > 1 the partial products never exceed |x|^n,
 * so the caller checks that for overflow first.
 */
export function powerWgsl(n: number): string {
  const lines: string[] = [];
  let e = n, first = true;
  lines.push("  var base = x;");
  lines.push("  var acc = 1.0;");
  while (e > 0) {
    if (e & 1) lines.push(first ? "  acc = base;" : "  acc = acc * base;"), (first = false);
    e = Math.floor(e / 2);
    if (e > 0) lines.push("  base = base * base;");
  }
  return `// x^${n} by square-and-multiply (exact sign for odd n; no pow(), undefined for x < 0).
fn sep_power(x: f32) -> f32 {
${lines.join("\n")}
  return acc;
}`;
}

/** The largest |s| over the unmasked (finite) entries; 0 when there are none. */
export function maxAbs(s: Float64Array): number {
  let m = 0;
  for (const v of s) if (Number.isFinite(v) && Math.abs(v) > m) m = Math.abs(v);
  return m;
}
