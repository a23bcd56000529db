// The UNFUSED baseline of the benchmark: retrieval as a chain of separate WebGPU kernels, the way a
// tensor library (tfjs, onnxruntime-web) executes it. Per step:
//
//   (1) scores     S  = beta · Q · Xᵀ        tiled GEMM, writes S [B, M] to a storage buffer
//   (2) normalizer P  = norm(S) row by row   one workgroup per row, reads S, writes P [B, M]
//   (3) readout    Q' = P · X                tiled GEMM, writes the next state [B, D]
//
// so every step is 3 dispatches with the [B, M] intermediates going through storage. The GEMMs are
// register-blocked (4 x 4 outputs per thread, 32 x 32 per workgroup) in two variants: "shared"
// stages 32-wide K tiles of A and B in workgroup memory between barriers (the tfjs/ORT shape, the
// default), "register" reads storage directly with no barriers (faster on CPU WebGPU, where
// barriers are expensive). The benchmark times both and uses the faster. All dispatches
// of a call and the readback copy are encoded into ONE command submission and the result is mapped
// once: the comparison with hopc's fused kernel is about kernel fusion, not host round trips.
//
// The normalizers compute exactly what the fused kernel computes (src/wgsl/kernel.ts, MATH.md
// 3.4-3.5), from the same WGSL lowerings (src/wgsl/lowerings.ts): softmax with the max subtracted;
// 1.5-entmax / sparsemax / γ-normmax by 30 bisection halvings of tau over the stored row, max
// subtracted first, weights at tau = lo, then divided by their sum. Top-k softmax (mask topk(k))
// finds the k-th largest score of the row exactly (k rounds of "the largest score below the last",
// then the lowest indices among ties, as src/parts/mask/topk.ts orders them) and takes the softmax
// over the kept entries.
//
// Scope: dot similarity, identity post-transform, no mask or topk(k) with softmax, a fixed number
// of steps; entropies shannon, tsallis, sparsemax, normmax. Anything else is rejected (the
// benchmark needs no more).
import { checkText } from "../../src/check.ts";
import type { Model } from "../../src/ir.ts";
import type { Mat } from "../../src/parts/types.ts";
import { acquireDevice, type GpuContext } from "../../src/runtime/device.ts";
import { readback } from "../../src/runtime/buffers.ts";
import { type CachedPipeline, makeBindGroup, PipelineCache } from "../../src/runtime/pipelines.ts";
import { entropyWgsl } from "../../src/wgsl/lowerings.ts";
import { loopBudgetFor } from "../../src/runtime/blocked/plan.ts";

/** GEMM tiling: a workgroup of TX x TY threads, each computing R x R outputs; K tiles of TK. */
export const GEMM_TILE = { TX: 8, TY: 8, R: 4, TK: 32 } as const;
const TILE_M = GEMM_TILE.TY * GEMM_TILE.R; // rows of C per workgroup
const TILE_N = GEMM_TILE.TX * GEMM_TILE.R; // columns of C per workgroup
/** Threads of the row-normalizer workgroup (a power of two for the tree reductions). */
const NORM_THREADS = 256;
/** Bisection halvings of the thresholded normalizers (as the fused plan: src/plan/plan.ts). */
export const BISECTION_ITERATIONS = 30;

/**
 * C[m, n] = alpha · Σ_k A[m, k] · B'[k, n] with A row-major [Mc, K] and B' = Bᵀ (B row-major
 * [Nc, K], `transB`) or B (row-major [K, Nc]). Register-blocked R x R per thread, A and B tiles of
 * TK along K staged in workgroup memory (the tfjs/ORT "packed" matmul shape).
 */
export function gemmWgsl(transB: boolean): string {
  const { TX, TY, R, TK } = GEMM_TILE;
  const threads = TX * TY;
  const aLoads = (TILE_M * TK) / threads;
  const bLoads = (TILE_N * TK) / threads;
  // B tile element `idx` of this thread: (k, n) within the tile and its global address.
  const bTile = transB
    ? `let n = idx / ${TK}u; let k = idx % ${TK}u;
      let gn = n0 + n; let gk = k0 + k;
      var v = 0.0;
      if (gn < u.n && gk < u.k) { v = b[gn * u.k + gk]; }`
    : `let k = idx / ${TILE_N}u; let n = idx % ${TILE_N}u;
      let gn = n0 + n; let gk = k0 + k;
      var v = 0.0;
      if (gn < u.n && gk < u.k) { v = b[gk * u.n + gn]; }`;
  return `// hopc bench, unfused GEMM: C = alpha * A * ${transB ? "B^T" : "B"}
struct Gemm { m: u32, n: u32, k: u32, alpha: f32 }
@group(0) @binding(0) var<uniform> u: Gemm;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

// Tiles stored k-major as vec4 over R consecutive rows (A) or columns (B).
var<workgroup> as_: array<vec4<f32>, ${(TK * TILE_M) / 4}>;
var<workgroup> bs_: array<vec4<f32>, ${(TK * TILE_N) / 4}>;

fn set_a(k: u32, m: u32, v: f32) { as_[k * ${TILE_M / 4}u + m / 4u][m % 4u] = v; }
fn set_b(k: u32, n: u32, v: f32) { bs_[k * ${TILE_N / 4}u + n / 4u][n % 4u] = v; }

@compute @workgroup_size(${TX}, ${TY})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {
  let lid = l.y * ${TX}u + l.x;
  let m0 = wg.y * ${TILE_M}u;
  let n0 = wg.x * ${TILE_N}u;
  var acc: array<vec4<f32>, ${R}>;
  for (var k0 = 0u; k0 < u.k; k0 = k0 + ${TK}u) {
    for (var i = 0u; i < ${aLoads}u; i = i + 1u) {
      let idx = lid + i * ${threads}u;
      let m = idx / ${TK}u; let k = idx % ${TK}u;
      let gm = m0 + m; let gk = k0 + k;
      var v = 0.0;
      if (gm < u.m && gk < u.k) { v = a[gm * u.k + gk]; }
      set_a(k, m, v);
    }
    for (var i = 0u; i < ${bLoads}u; i = i + 1u) {
      let idx = lid + i * ${threads}u;
      ${bTile}
      set_b(k, n, v);
    }
    workgroupBarrier();
    for (var k = 0u; k < ${TK}u; k = k + 1u) {
      let av = as_[k * ${TILE_M / 4}u + l.y];
      let bv = bs_[k * ${TILE_N / 4}u + l.x];
${Array.from({ length: R }, (_, r) => `      acc[${r}] = acc[${r}] + av[${r}] * bv;`).join("\n")}
    }
    workgroupBarrier();
  }
  for (var r = 0u; r < ${R}u; r = r + 1u) {
    let gm = m0 + l.y * ${R}u + r;
    if (gm >= u.m) { continue; }
    for (var cc = 0u; cc < ${R}u; cc = cc + 1u) {
      let gn = n0 + l.x * ${R}u + cc;
      if (gn < u.n) { c[gm * u.n + gn] = u.alpha * acc[r][cc]; }
    }
  }
}
`;
}

/**
 * The same GEMM without workgroup memory or barriers: each thread reads its R rows of A and R
 * columns of B' straight from storage and keeps the R x R block in registers. Same output tile
 * per workgroup as `gemmWgsl`, so the dispatch is identical. (On Mesa llvmpipe/lavapipe workgroup
 * barriers are expensive; see ENVIRONMENT.md. The benchmark uses whichever variant is faster.)
 */
export function gemmRegisterWgsl(transB: boolean, vec4 = false): string {
  const { TX, TY, R } = GEMM_TILE;
  const rows = Array.from({ length: R }, (_, r) => r);
  const lines = (f: (r: number) => string) => rows.map(f).join("\n");
  const bIndex = (c: number) => transB ? `gn${c} * u.k + k` : `k * u.n + gn${c}`;
  const elem = vec4 ? "vec4<f32>" : "f32";
  // Scalar loads work for any shape. With vec4 (K a multiple of 4, and N too when B is not
  // transposed) four consecutive values along K (or N) come in one load.
  const loop = !vec4
    ? `${lines((r) => `  let gm${r} = min(m0 + ${r}u, u.m - 1u) * u.k;`)}
${lines((r) => `  let gn${r} = min(n0 + ${r}u, u.n - 1u);`)}
  for (var k = 0u; k < u.k; k = k + 1u) {
    let bv = vec4<f32>(${rows.map((c) => `b[${bIndex(c)}]`).join(", ")});
${lines((r) => `    acc[${r}] = acc[${r}] + a[gm${r} + k] * bv;`)}
  }`
    : transB
    ? `  let k4 = u.k / 4u;
${lines((r) => `  let gm${r} = min(m0 + ${r}u, u.m - 1u) * k4;`)}
${lines((r) => `  let gn${r} = min(n0 + ${r}u, u.n - 1u) * k4;`)}
  for (var k = 0u; k < k4; k = k + 1u) {
${lines((c) => `    let b${c} = b[gn${c} + k];`)}
${
      lines((r) =>
        `    let a${r} = a[gm${r} + k];\n    acc[${r}] = acc[${r}] + vec4<f32>(${
          rows.map((c) => `dot(a${r}, b${c})`).join(", ")
        });`
      )
    }
  }`
    : `  let k4 = u.k / 4u;
  let n4 = u.n / 4u;
${lines((r) => `  let gm${r} = min(m0 + ${r}u, u.m - 1u) * k4;`)}
  let gn = min(n0, u.n - 4u) / 4u;  // n0 is a multiple of 4, as is N
  for (var k = 0u; k < k4; k = k + 1u) {
    let kb = 4u * k * n4 + gn;
${lines((j) => `    let b${j} = b[kb + ${j}u * n4];`)}
${
      lines((r) =>
        `    let a${r} = a[gm${r} + k];\n    acc[${r}] = acc[${r}] + ${
          rows.map((j) => `a${r}[${j}] * b${j}`).join(" + ")
        };`
      )
    }
  }`;
  return `// hopc bench, unfused GEMM (registers only${
    vec4 ? ", vec4 loads" : ""
  }): C = alpha * A * ${transB ? "B^T" : "B"}
struct Gemm { m: u32, n: u32, k: u32, alpha: f32 }
@group(0) @binding(0) var<uniform> u: Gemm;
@group(0) @binding(1) var<storage, read> a: array<${elem}>;
@group(0) @binding(2) var<storage, read> b: array<${elem}>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

@compute @workgroup_size(${TX}, ${TY})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {
  let m0 = wg.y * ${TILE_M}u + l.y * ${R}u;
  let n0 = wg.x * ${TILE_N}u + l.x * ${R}u;
  // Out-of-range rows and columns read the last valid one (no branch in the loop); never written.
  var acc: array<vec4<f32>, ${R}>;
${loop}
  for (var r = 0u; r < ${R}u; r = r + 1u) {
    let gm = m0 + r;
    if (gm >= u.m) { continue; }
    for (var cc = 0u; cc < ${R}u; cc = cc + 1u) {
      let gn = n0 + cc;
      if (gn < u.n) { c[gm * u.n + gn] = u.alpha * acc[r][cc]; }
    }
  }
}
`;
}

/**
 * Loop iterations one invocation of a GEMM variant runs for a reduced dimension K: the shared
 * variant's K tiles (each with its tile loads and TK multiply-adds), the register variant's K
 * (K / 4 with vec4 loads), and the R x R write loop.
 */
export function gemmLoopIterations(variant: GemmVariant, K: number, vec4: boolean): number {
  const { TX, TY, R, TK } = GEMM_TILE;
  const threads = TX * TY;
  const write = R + R * R;
  if (variant === "shared") {
    return Math.ceil(K / TK) * (1 + (TILE_M * TK) / threads + (TILE_N * TK) / threads + TK) + write;
  }
  return (vec4 ? Math.ceil(K / 4) : K) + write;
}

/** The entropies the unfused pipeline implements. */
export type UnfusedEntropy = Extract<
  Model["entropy"],
  { kind: "shannon" | "tsallis" | "sparsemax" | "normmax" }
>;

/**
 * Row normalizer: one workgroup per row of S [rows, cols], writing P. With `topk` (softmax only),
 * the entries outside the row's `topk` largest scores get weight 0 and the softmax is taken over
 * the kept ones.
 */
export function normalizerWgsl(entropy: UnfusedEntropy, topk?: number): string {
  const ent = entropyWgsl(entropy);
  const W = NORM_THREADS;
  let body: string;
  if (topk !== undefined) {
    if (ent.kind !== "exp") throw new Error("the unfused top-k normalizer is softmax only");
    const K = topk;
    body = `  // top-k (k = ${K}), then ${ent.math} over the kept entries.
  // thr: the k-th largest score, by ${K} rounds of "the largest score below the last one"; ge
  // counts the entries >= thr. Fixed trip counts keep every barrier in uniform control flow.
  var thr = 3.4e38;
  var ge = 0.0;
  for (var r = 0u; r < ${K}u; r = r + 1u) {
    var part_next = -3.4e38;
    for (var i = lid; i < u.cols; i = i + WG) {
      let v = s[base + i];
      if (v < thr) { part_next = max(part_next, v); }
    }
    let next = reduce_max(lid, part_next);
    if (ge < ${K}.0 && next > -3.4e38) { thr = next; }
    var part_ge = 0.0;
    for (var i = lid; i < u.cols; i = i + WG) { if (s[base + i] >= thr) { part_ge = part_ge + 1.0; } }
    ge = reduce_sum(lid, part_ge);
  }
  // Entries above thr are kept; of those equal to it, the first (k - above) by index: the smallest
  // cut with count(s == thr, index < cut) >= k - above, by bisection on the index.
  var part_eq = 0.0;
  for (var i = lid; i < u.cols; i = i + WG) { if (s[base + i] == thr) { part_eq = part_eq + 1.0; } }
  let need = ${K}.0 - (ge - reduce_sum(lid, part_eq));
  var lo = 0u;
  var hi = u.cols;
  let bits = 32u - countLeadingZeros(u.cols);
  for (var it = 0u; it < bits; it = it + 1u) {
    let mid = (lo + hi) / 2u;
    var part_n = 0.0;
    for (var i = lid; i < min(mid, u.cols); i = i + WG) {
      if (s[base + i] == thr) { part_n = part_n + 1.0; }
    }
    if (reduce_sum(lid, part_n) >= need) { hi = mid; } else { lo = mid; }
  }
  var cut = hi;
  if (ge <= ${K}.0) { cut = u.cols; }
  var part_sum = 0.0;
  for (var i = lid; i < u.cols; i = i + WG) {
    let v = s[base + i];
    if (v > thr || (v == thr && i < cut)) { part_sum = part_sum + exp(v - m); }
  }
  let total = reduce_sum(lid, part_sum);
  for (var i = lid; i < u.cols; i = i + WG) {
    let v = s[base + i];
    var w = 0.0;
    if (v > thr || (v == thr && i < cut)) { w = exp(v - m) / total; }
    p[base + i] = w;
  }`;
  } else if (ent.kind === "exp") {
    body = `  // ${ent.math}
  var part_sum = 0.0;
  for (var i = lid; i < u.cols; i = i + WG) { part_sum = part_sum + exp(s[base + i] - m); }
  let total = reduce_sum(lid, part_sum);
  for (var i = lid; i < u.cols; i = i + WG) { p[base + i] = exp(s[base + i] - m) / total; }`;
  } else {
    body = `  // ${ent.math}
  // Bisection on tau over the stored row (MATH.md 3.4-3.5), max subtracted first.
  let n = f32(u.cols);
  var lo = 0.0;
  var hi = 0.0;
  {
    ${ent.bracket}
  }
  for (var it = 0u; it < ${BISECTION_ITERATIONS}u; it = it + 1u) {
    let tau = 0.5 * (lo + hi);
    var part_f = 0.0;
    for (var i = lid; i < u.cols; i = i + WG) {
      let x = shifted(s[base + i], m);
      part_f = part_f + ${ent.summand};
    }
    if (reduce_sum(lid, part_f) >= ${ent.target}) { lo = tau; } else { hi = tau; }
  }
  // Weights at tau = lo, where the sum is at least the target (the support is never empty).
  let tau = lo;
  var part_w = 0.0;
  for (var i = lid; i < u.cols; i = i + WG) {
    let x = shifted(s[base + i], m);
    part_w = part_w + ${ent.weight};
  }
  let total = ${ent.normalize ? "reduce_sum(lid, part_w)" : "1.0"};
  for (var i = lid; i < u.cols; i = i + WG) {
    let x = shifted(s[base + i], m);
    p[base + i] = ${ent.weight} / total;
  }`;
  }
  return `// hopc bench, unfused row normalizer: ${
    topk === undefined ? "" : `top-${topk}, then `
  }${ent.math}
struct Rows { rows: u32, cols: u32 }
@group(0) @binding(0) var<uniform> u: Rows;
@group(0) @binding(1) var<storage, read> s: array<f32>;
@group(0) @binding(2) var<storage, read_write> p: array<f32>;

const WG = ${W}u;
var<workgroup> red: array<f32, ${W}>;

fn reduce_sum(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    if (lid < w) { red[lid] = red[lid] + red[lid + w]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn reduce_max(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var w = WG / 2u; w > 0u; w = w / 2u) {
    if (lid < w) { red[lid] = max(red[lid], red[lid + w]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
${
    ent.kind === "threshold"
      ? `
fn shifted(s: f32, m: f32) -> f32 { return ${ent.shift}; }
`
      : ""
  }
@compute @workgroup_size(${W})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) l: vec3<u32>) {
  let row = wg.x;
  let lid = l.x;
  if (row >= u.rows) { return; }  // uniform per workgroup: barriers stay legal
  let base = row * u.cols;
  var part_max = -3.0e38;
  for (var i = lid; i < u.cols; i = i + WG) { part_max = max(part_max, s[base + i]); }
  let m = reduce_max(lid, part_max);
${body}
}
`;
}

/** Why a model cannot run on the unfused pipeline, or null when it can. */
export function unfusedUnsupported(model: Model): string | null {
  if (model.memory.kind !== "discrete") return "continuous memory";
  if (model.similarity.kind !== "dot") return `similarity ${model.similarity.kind} (dot only)`;
  if (model.post.kind !== "identity") return `post ${model.post.kind} (identity only)`;
  if (model.mask.kind !== "none" && model.mask.kind !== "topk") {
    return `mask ${model.mask.kind} (none or topk only)`;
  }
  if (model.steps.kind !== "fixed") return "steps until (a fixed count only)";
  const e = model.entropy.kind;
  if (e !== "shannon" && e !== "tsallis" && e !== "sparsemax" && e !== "normmax") {
    return `entropy ${e}`;
  }
  if (model.mask.kind === "topk" && e !== "shannon") return `mask topk with ${e} (softmax only)`;
  return null;
}

export interface UnfusedResult {
  /** Final states, B x D (float32). */
  states: Float32Array;
}

export interface UnfusedOptions {
  /**
   * GEMM kernel: "shared" stages A and B tiles in workgroup memory (the tfjs/ORT shape),
   * "register" reads storage directly with no barriers. Both are register-blocked 4 x 4.
   */
  gemm?: GemmVariant;
  /** Let the register GEMMs load vec4 where D and M are multiples of 4 (default true). */
  vec4?: boolean;
  /**
   * Loop iterations one invocation may run (default: the adapter's, src/runtime/blocked/plan.ts
   * loopBudgetFor). Mesa's llvmpipe ends an invocation's loops after 65535 iterations in all, so
   * a GEMM over a long K (the readout's K is M) silently drops its tail; loadUnfused refuses a
   * GEMM whose loops would run past this budget (gemmLoopIterations).
   */
  loopBudget?: number;
}
export type GemmVariant = "shared" | "register";

export interface UnfusedRetriever {
  readonly gemm: GemmVariant;
  readonly shapes: { M: number; D: number };
  readonly steps: number;
  /** Dispatches per call: 3 per step. */
  readonly dispatchesPerCall: number;
  retrieve(Q: Mat): Promise<UnfusedResult>;
  destroy(): void;
}

const caches = new WeakMap<GPUDevice, PipelineCache>();

const layout = (uniform: boolean, reads: number, writes: number): GPUBindGroupLayoutEntry[] => [
  ...(uniform
    ? [{ binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: "uniform" as const } }]
    : []),
  ...Array.from({ length: reads }, (_, i) => ({
    binding: 1 + i,
    visibility: GPUShaderStage.COMPUTE,
    buffer: { type: "read-only-storage" as const },
  })),
  ...Array.from({ length: writes }, (_, i) => ({
    binding: 1 + reads + i,
    visibility: GPUShaderStage.COMPUTE,
    buffer: { type: "storage" as const },
  })),
];

/** Upload the memories once and build the three pipelines; `retrieve` then runs whole calls. */
export async function loadUnfused(
  model: Model,
  X: Mat,
  ctx?: GpuContext,
  opts: UnfusedOptions = {},
): Promise<UnfusedRetriever> {
  const gemm = opts.gemm ?? "shared";
  const why = unfusedUnsupported(model);
  if (why) throw new Error(`the unfused bench pipeline does not support ${why}`);
  ctx ??= await acquireDevice();
  const device = ctx.device;
  const M = X.rows, D = X.cols;
  const steps = model.steps.kind === "fixed" ? model.steps.count : 0;
  const limit = ctx.limits.maxStorageBufferBindingSize;
  if (M * D * 4 > limit) throw new Error(`memories of ${M * D * 4} bytes exceed the binding limit`);

  let cache = caches.get(device);
  if (!cache) caches.set(device, cache = new PipelineCache(device));
  const entropy = model.entropy as UnfusedEntropy;
  const topk = model.mask.kind === "topk" ? model.mask.k : undefined;
  // vec4 loads in the register GEMMs where the reduced dimension (and N of P·X) allow them.
  const vecScores = D % 4 === 0 && opts.vec4 !== false;
  const vecReadout = D % 4 === 0 && M % 4 === 0 && opts.vec4 !== false;
  const loopBudget = opts.loopBudget ?? loopBudgetFor(ctx.info);
  for (const [what, K, vec] of [["scores", D, vecScores], ["readout", M, vecReadout]] as const) {
    const n = gemmLoopIterations(gemm, K, vec);
    if (n > loopBudget) {
      throw new Error(
        `the ${gemm} GEMM of the ${what} (K = ${K}) would run ${n} loop iterations per ` +
          `invocation, over this adapter's budget of ${loopBudget}`,
      );
    }
  }
  const [scoresGemm, readoutGemm, normalizer]: CachedPipeline[] = await Promise.all([
    cache.get(`bench gemm ${gemm} A*B^T${vecScores ? " vec4" : ""}`, () => ({
      code: gemm === "shared" ? gemmWgsl(true) : gemmRegisterWgsl(true, vecScores),
      entryPoint: "main",
      layout: [layout(true, 2, 1)],
    })),
    cache.get(`bench gemm ${gemm} A*B${vecReadout ? " vec4" : ""}`, () => ({
      code: gemm === "shared" ? gemmWgsl(false) : gemmRegisterWgsl(false, vecReadout),
      entryPoint: "main",
      layout: [layout(true, 2, 1)],
    })),
    cache.get(`bench normalizer ${JSON.stringify(entropy)} topk ${topk ?? "none"}`, () => ({
      code: normalizerWgsl(entropy, topk),
      entryPoint: "main",
      layout: [layout(true, 1, 1)],
    })),
  ]);

  const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const memories = device.createBuffer({
    label: "bench X",
    size: Math.max(16, M * D * 4),
    usage: storage,
  });
  device.queue.writeBuffer(memories, 0, toF32(X.data));
  const uniforms = {
    scores: device.createBuffer({
      label: "bench u scores",
      size: 16,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    }),
    norm: device.createBuffer({
      label: "bench u norm",
      size: 16,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    }),
    readout: device.createBuffer({
      label: "bench u readout",
      size: 16,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    }),
  };

  // Per batch size: the intermediate buffers and bind groups, made once and reused by every call.
  interface Batch {
    B: number;
    buffers: GPUBuffer[];
    states: [GPUBuffer, GPUBuffer];
    groups: {
      scores: [GPUBindGroup, GPUBindGroup];
      norm: GPUBindGroup;
      readout: [GPUBindGroup, GPUBindGroup];
    };
  }
  let batch: Batch | undefined;
  const batchFor = (B: number): Batch => {
    if (batch?.B === B) return batch;
    if (batch) { for (const b of batch.buffers) b.destroy(); }
    if (B * M * 4 > limit) {
      throw new Error(
        `the score buffer [${B}, ${M}] exceeds the storage binding limit of ${limit}`,
      );
    }
    const make = (label: string, bytes: number) =>
      device.createBuffer({ label, size: Math.max(16, bytes), usage: storage });
    const states: [GPUBuffer, GPUBuffer] = [
      make("bench Q a", B * D * 4),
      make("bench Q b", B * D * 4),
    ];
    const S = make("bench S", B * M * 4);
    const P = make("bench P", B * M * 4);
    const sg = scoresGemm.bindGroupLayout(0), rg = readoutGemm.bindGroupLayout(0);
    batch = {
      B,
      buffers: [...states, S, P],
      states,
      groups: {
        // Step t reads states[t % 2] and writes states[(t + 1) % 2].
        scores: [
          makeBindGroup(device, sg, [uniforms.scores, states[0], memories, S]),
          makeBindGroup(device, sg, [uniforms.scores, states[1], memories, S]),
        ],
        norm: makeBindGroup(device, normalizer.bindGroupLayout(0), [uniforms.norm, S, P]),
        readout: [
          makeBindGroup(device, rg, [uniforms.readout, P, memories, states[1]]),
          makeBindGroup(device, rg, [uniforms.readout, P, memories, states[0]]),
        ],
      },
    };
    const u32f32 = (a: number, b: number, c: number, alpha: number) => {
      const buf = new ArrayBuffer(16);
      new Uint32Array(buf, 0, 3).set([a, b, c]);
      new Float32Array(buf, 12, 1)[0] = alpha;
      return buf;
    };
    device.queue.writeBuffer(uniforms.scores, 0, u32f32(B, M, D, model.beta));
    device.queue.writeBuffer(uniforms.norm, 0, new Uint32Array([B, M, 0, 0]));
    device.queue.writeBuffer(uniforms.readout, 0, u32f32(B, D, M, 1));
    return batch;
  };

  const maxGroups = ctx.limits.maxComputeWorkgroupsPerDimension;
  return {
    gemm,
    shapes: { M, D },
    steps,
    dispatchesPerCall: 3 * steps,
    async retrieve(Q) {
      if (Q.cols !== D) throw new Error(`queries have ${Q.cols} columns, memories ${D}`);
      const B = Q.rows;
      if (B > maxGroups) throw new Error(`B = ${B} exceeds ${maxGroups} workgroups per dimension`);
      const bt = batchFor(B);
      device.queue.writeBuffer(bt.states[0], 0, toF32(Q.data));
      const encoder = device.createCommandEncoder({ label: "bench unfused" });
      const pass = encoder.beginComputePass();
      for (let t = 0; t < steps; t++) {
        const cur = t % 2;
        pass.setPipeline(scoresGemm.pipeline);
        pass.setBindGroup(0, bt.groups.scores[cur]);
        pass.dispatchWorkgroups(Math.ceil(M / TILE_N), Math.ceil(B / TILE_M));
        pass.setPipeline(normalizer.pipeline);
        pass.setBindGroup(0, bt.groups.norm);
        pass.dispatchWorkgroups(B);
        pass.setPipeline(readoutGemm.pipeline);
        pass.setBindGroup(0, bt.groups.readout[cur]);
        pass.dispatchWorkgroups(Math.ceil(D / TILE_N), Math.ceil(B / TILE_M));
      }
      pass.end();
      const final = bt.states[steps % 2];
      const [states] = await readback(
        device,
        [{ buffer: final, offset: 0, size: B * D * 4 }],
        encoder,
      );
      return { states };
    },
    destroy() {
      if (batch) { for (const b of batch.buffers) b.destroy(); }
      batch = undefined;
      memories.destroy();
      for (const u of Object.values(uniforms)) u.destroy();
    },
  };
}

function toF32(data: Float64Array): Float32Array<ArrayBuffer> {
  return Float32Array.from(data) as Float32Array<ArrayBuffer>;
}

/**
 * The maps the benchmark compares: the hopc source text of their `entropy` line and, for top-k
 * softmax, of their `mask` line.
 */
export const BENCH_NORMALIZERS = {
  softmax: { entropy: "shannon" },
  "1.5-entmax": { entropy: "tsallis(alpha = 1.5)" },
  sparsemax: { entropy: "sparsemax" },
  "2-normmax": { entropy: "normmax(gamma = 2)" },
  "topk-softmax": { entropy: "shannon", mask: "topk(k = 32)" },
} as const satisfies Record<string, { entropy: string; mask?: string }>;
export type BenchNormalizer = keyof typeof BENCH_NORMALIZERS;

/** A checked model: dot similarity, identity post, the map's mask (or none), `steps` fixed steps. */
export function benchModel(normalizer: BenchNormalizer, beta: number, steps: number): Model {
  const spec: { entropy: string; mask?: string } = BENCH_NORMALIZERS[normalizer];
  const text = `model bench_${normalizer.replace(/\W/g, "_")} {\n  entropy ${spec.entropy}\n${
    spec.mask ? `  mask ${spec.mask}\n` : ""
  }  beta ${beta}\n  steps ${steps}\n}\n`;
  const { models, diagnostics } = checkText(text, "bench.hop");
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (errors.length > 0 || models.length !== 1) {
    throw new Error(`bench model does not check: ${errors.map((d) => d.message).join("; ")}`);
  }
  return models[0];
}
