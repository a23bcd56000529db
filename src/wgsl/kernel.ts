// WGSL generation for the fused retrieval kernel. One workgroup owns one query and runs every step
// of its retrieval without leaving the GPU: scores, normalizer, readout, post-transform, next step.
// Queries are independent and X is read-only, so no global synchronization is ever needed.
//
// The module is assembled from small pieces, each a function below that returns readable WGSL:
// bindings, reductions, the similarity pass over X tiles, the normalizer (online softmax, or a
// threshold search over a kept score row), the readout, the post-transform. The math of each part
// comes from src/wgsl/lowerings.ts.
import type { Model } from "../ir.ts";
import type { Plan } from "../plan/plan.ts";
import { RNG_WGSL } from "../parts/rng.ts";
import {
  type EntropyWgsl,
  entropyWgsl,
  f32,
  type MaskWgsl,
  maskWgsl,
  type PostWgsl,
  postWgsl,
  type SimilarityWgsl,
  similarityWgsl,
} from "./lowerings.ts";

/** Masked scores: far below any real score, yet finite (shaders may assume no infinities). */
export const MASKED = -1e30;

/** Binding indices of the retrieval kernel, shared with the runtime. */
export const BINDINGS = {
  shape: 0,
  memories: 1,
  memoryAux: 2,
  queries: 3,
  states: 4,
  weights: 5,
  scratch: 6,
  stepsRun: 7,
} as const;

interface Ctx {
  model: Model;
  plan: Plan;
  sim: SimilarityWgsl;
  ent: EntropyWgsl;
  mask: MaskWgsl;
  post: PostWgsl;
  /** vec4 chunks of a state. */
  d4: number;
  /** Chunks a thread owns in the readout (CPT) and row groups (G) that split the rows. */
  cpt: number;
  groups: number;
  /** Threads per row in the partial-score pass. */
  lanes: number;
}

export function generateKernel(model: Model, plan: Plan): string {
  const d4 = plan.paddedDim / 4;
  const wg = plan.workgroupSize;
  const ch = Math.min(d4, wg);
  const ctx: Ctx = {
    model,
    plan,
    sim: similarityWgsl(model.similarity),
    ent: entropyWgsl(model.entropy),
    mask: maskWgsl(model.mask),
    post: postWgsl(model.post, model.beta),
    d4,
    cpt: Math.ceil(d4 / wg),
    groups: Math.floor(wg / ch),
    lanes: Math.max(1, Math.floor(wg / plan.tileRows)),
  };
  return [
    header(ctx),
    constants(ctx),
    bindings(ctx),
    workgroupMemory(ctx),
    reductions(ctx),
    ctx.mask.kind === "random" ? RNG_WGSL.trim() + "\n" + randomMask(ctx) : "",
    rowAccess(ctx),
    postTransform(ctx),
    queryAux(ctx),
    scorePass(ctx),
    plan.family === "online" ? onlineStep(ctx) : thresholdStep(ctx),
    entryPoint(ctx),
  ].filter((s) => s.length > 0).join("\n");
}

// ---------------------------------------------------------------------------------------------

function header({ model, plan, sim, ent, post, mask }: Ctx): string {
  const lines = [
    `hopc retrieval kernel for model \`${model.name}\` (${model.source.file})`,
    ``,
    `  scores  = beta * similarity(X, q)     beta = ${model.beta}; ${sim.math}`,
    mask.kind !== "none" ? `  mask    = ${mask.math}` : "",
    `  weights = ${ent.math}`,
    `  q       = post(X^T weights)           ${post.math}`,
    `  steps   = ${
      model.steps.kind === "fixed"
        ? model.steps.count
        : `until |q_t - q_{t-1}| < ${model.steps.tol}, at most ${model.steps.max}`
    }`,
    ``,
    `plan: ${JSON.stringify({ ...plan, notes: undefined })}`,
    ...plan.notes.map((n) => `  - ${n}`),
    ``,
    `One workgroup per query runs all steps (no host round trip). Inputs: memories [M, D] and`,
    `queries [B, D] as vec4<f32> rows padded with zeros to ${plan.paddedDim}; output: states [B, D].`,
  ].filter((l, i, a) => l !== "" || a[i - 1] !== "");
  return lines.map((l) => `// ${l}`.trimEnd()).join("\n") + "\n";
}

function constants(c: Ctx): string {
  const { plan, model } = c;
  const maxSteps = model.steps.kind === "fixed" ? model.steps.count : model.steps.max;
  return `const WG: u32 = ${plan.workgroupSize}u;           // threads per workgroup
const D4: u32 = ${c.d4}u;            // vec4 chunks per state (D padded to ${plan.paddedDim})
const TILE: u32 = ${plan.tileRows}u;          // rows of X staged in workgroup memory at a time
const LANES: u32 = ${c.lanes}u;         // threads that share one row's dot product
const CH: u32 = ${
    Math.min(c.d4, plan.workgroupSize)
  }u;            // chunks covered by one row group in the readout
const GROUPS: u32 = ${c.groups}u;        // row groups that split the readout rows
const CPT: u32 = ${c.cpt}u;           // chunks per thread in the readout
const BETA: f32 = ${f32(model.beta)};
const MAX_STEPS: u32 = ${maxSteps}u;
${
    model.steps.kind === "until"
      ? `const TOL: f32 = ${f32(model.steps.tol)};\n`
      : ""
  }const MASKED: f32 = ${f32(MASKED)};    // score of a memory the normalizer must not see
const NO_MAX: f32 = -3.0e38;   // below every score, even masked ones
`;
}

function bindings(c: Ctx): string {
  const b = BINDINGS;
  return `struct Shape {
  M: u32,              // memories
  D: u32,              // true dimension (<= 4 * D4)
  B: u32,              // queries
  write_weights: u32,  // 1: store the final weights of every query
  first_query: u32,    // index in the batch of this dispatch's first query
  rows_in_scratch: u32, // queries this dispatch covers (its slice of scratch)
}
@group(0) @binding(${b.shape}) var<uniform> shape: Shape;
@group(0) @binding(${b.memories}) var<storage, read> memories: array<vec4<f32>>;   // [M, D4]
@group(0) @binding(${b.memoryAux}) var<storage, read> memory_aux: array<f32>;      // [M] ${
    c.sim.memoryAux === "none" ? "(unused)" : c.sim.memoryAux
  }
@group(0) @binding(${b.queries}) var<storage, read> queries: array<vec4<f32>>;     // [B, D4]
@group(0) @binding(${b.states}) var<storage, read_write> states: array<vec4<f32>>; // [B, D4]
@group(0) @binding(${b.weights}) var<storage, read_write> weights: array<f32>;     // [B, M] when write_weights
@group(0) @binding(${b.scratch}) var<storage, read_write> scratch: array<f32>;     // [B, M] ${
    c.plan.scores === "storage" ? "score rows" : "(unused)"
  }
@group(0) @binding(${b.stepsRun}) var<storage, read_write> steps_run: array<u32>;  // [B]
`;
}

function workgroupMemory(c: Ctx): string {
  const { plan } = c;
  const lines = [
    `var<workgroup> state: array<vec4<f32>, D4>;        // the query's current state q`,
    `var<workgroup> o: array<vec4<f32>, D4>;            // readout X^T p before the post-transform`,
    `var<workgroup> xt: array<vec4<f32>, ${plan.tileRows * c.d4}>;     // TILE rows of X`,
    `var<workgroup> ts: array<f32, TILE>;               // scores of the tile's rows`,
    `var<workgroup> ps: array<f32, WG>;                 // partial dot products`,
    `var<workgroup> red: array<f32, WG>;                // reductions`,
  ];
  if (c.groups > 1) {
    lines.push(`var<workgroup> part: array<vec4<f32>, WG>;          // per-group readout partials`);
  }
  if (plan.family === "online" && c.groups > 1) {
    lines.push(`var<workgroup> group_max: array<f32, GROUPS>;`);
    lines.push(`var<workgroup> group_sum: array<f32, GROUPS>;`);
  }
  if (plan.family === "online") {
    lines.push(`var<workgroup> softmax_max_sum: vec2<f32>;      // (max, sum) of the step`);
  }
  if (c.mask.kind === "random" || c.mask.kind === "topk") {
    lines.push(`var<workgroup> redu: array<u32, WG>;               // u32 reductions`);
  }
  if (plan.scores === "workgroup") {
    lines.push(
      `var<workgroup> row: array<f32, ${plan.rowCapacity}>;     // the query's score row, then its weights`,
    );
  }
  lines.push(`var<private> query: u32;`);
  return lines.join("\n") + "\n";
}

function reductions(c: Ctx): string {
  // Tree reductions over one value per thread. The result comes back through workgroupUniformLoad,
  // so decisions taken on it (bisection, stopping) are uniform and barriers stay legal.
  const tree = (name: string, ty: string, arr: string, op: (a: string, b: string) => string) =>
    `fn ${name}(lid: u32, v: ${ty}) -> ${ty} {
  ${arr}[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { ${arr}[lid] = ${op(`${arr}[lid]`, `${arr}[lid + s]`)}; }
    workgroupBarrier();
  }
  let r = workgroupUniformLoad(&${arr}[0]);
  workgroupBarrier();
  return r;
}
`;
  const out = [
    tree("reduce_sum", "f32", "red", (a, b) => `${a} + ${b}`),
    tree("reduce_max", "f32", "red", (a, b) => `max(${a}, ${b})`),
    tree("reduce_min", "f32", "red", (a, b) => `min(${a}, ${b})`),
  ];
  if (c.mask.kind === "random" || c.mask.kind === "topk") {
    out.push(tree("reduce_sum_u", "u32", "redu", (a, b) => `${a} + ${b}`));
    out.push(tree("reduce_min_u", "u32", "redu", (a, b) => `min(${a}, ${b})`));
  }
  return out.join("");
}

function randomMask(c: Ctx): string {
  if (c.mask.kind !== "random") return "";
  const keepAll = c.model.mask.kind === "random" && c.model.mask.keep >= 1;
  return `// Random mask: a counter-based hash decides, per (seed, query, memory), without any state.
const MASK_SEED: u32 = ${c.mask.seed}u;
const KEEP_BELOW: u32 = ${c.mask.threshold}u;   // keep * 2^32
var<private> fallback: u32;   // the kept memory when the hash keeps none (smallest hash)

fn is_kept(i: u32) -> bool {
  return ${keepAll ? "true" : "hash3(MASK_SEED, query, i) < KEEP_BELOW || i == fallback"};
}

// A query whose hashes keep no memory keeps the one with the smallest hash (lowest index on ties),
// exactly as the reference does.
fn choose_fallback(lid: u32) {
  fallback = 0xffffffffu;
  var kept = 0u;
  var best = 0xffffffffu;
  for (var i = lid; i < shape.M; i = i + WG) {
    let h = hash3(MASK_SEED, query, i);
    kept = kept + select(0u, 1u, h < KEEP_BELOW);
    best = min(best, h);
  }
  let total = reduce_sum_u(lid, kept);
  let smallest = reduce_min_u(lid, best);
  var first = 0xffffffffu;
  for (var i = lid; i < shape.M; i = i + WG) {
    if (hash3(MASK_SEED, query, i) == smallest) { first = min(first, i); }
  }
  let index = reduce_min_u(lid, first);
  if (total == 0u) { fallback = index; }
}
`;
}

function rowAccess(c: Ctx): string {
  if (c.plan.family !== "threshold") return "";
  if (c.plan.scores === "workgroup") {
    return `fn row_get(i: u32) -> f32 { return row[i]; }
fn row_set(i: u32, v: f32) { row[i] = v; }
fn row_barrier() { workgroupBarrier(); }
`;
  }
  return `// The score row lives in a storage scratch buffer: M does not fit in workgroup memory.
fn row_get(i: u32) -> f32 { return scratch[(query - shape.first_query) * shape.M + i]; }
fn row_set(i: u32, v: f32) { scratch[(query - shape.first_query) * shape.M + i] = v; }
fn row_barrier() { storageBarrier(); workgroupBarrier(); }
`;
}

function postTransform(c: Ctx): string {
  const { post } = c;
  const needsNorm = post.needs.includes("sq_norm");
  const needsMeanVar = post.needs.includes("mean_var");
  const tracksChange = c.model.steps.kind === "until";
  return `// Real dimensions of chunk ch are 1, padding is 0 (padding must stay exactly 0).
fn valid_lanes(ch: u32) -> vec4<f32> {
  let d = vec4<u32>(4u * ch, 4u * ch + 1u, 4u * ch + 2u, 4u * ch + 3u);
  return select(vec4<f32>(0.0), vec4<f32>(1.0), d < vec4<u32>(shape.D));
}

// state <- post(o). ${post.math}. Returns |new state - old state|^2.
fn post_transform(lid: u32) -> f32 {
${
    needsNorm
      ? `  var part_sq = 0.0;
  for (var ch = lid; ch < D4; ch = ch + WG) { part_sq = part_sq + dot(o[ch], o[ch]); }
  let sq_norm = reduce_sum(lid, part_sq);
`
      : ""
  }${
    needsMeanVar
      ? `  var part_sum = 0.0;
  for (var ch = lid; ch < D4; ch = ch + WG) { part_sum = part_sum + dot(o[ch], vec4<f32>(1.0)); }
  let mean = reduce_sum(lid, part_sum) / f32(shape.D);
  var part_var = 0.0;
  for (var ch = lid; ch < D4; ch = ch + WG) {
    let centred = (o[ch] - vec4<f32>(mean)) * valid_lanes(ch);
    part_var = part_var + dot(centred, centred);
  }
  let variance = reduce_sum(lid, part_var) / f32(shape.D);
`
      : ""
  }  var moved = 0.0;
  for (var ch = lid; ch < D4; ch = ch + WG) {
    let v = o[ch];
    let valid = valid_lanes(ch);
    let next = ${post.chunk};
    ${
    tracksChange
      ? "let delta = next - state[ch];\n    moved = moved + dot(delta, delta);\n    "
      : ""
  }state[ch] = next;
  }
  ${tracksChange ? "return reduce_sum(lid, moved);" : "workgroupBarrier();\n  return moved;"}
}
`;
}

function queryAux(c: Ctx): string {
  if (c.sim.queryAux === "none") return "";
  return `// ${
    c.sim.queryAux === "norm" ? "|q|" : "|q|^2 / 2"
  } of the current state, needed by the similarity.
fn query_aux_of_state(lid: u32) -> f32 {
  var part_sq = 0.0;
  for (var ch = lid; ch < D4; ch = ch + WG) { part_sq = part_sq + dot(state[ch], state[ch]); }
  let sq = reduce_sum(lid, part_sq);
  return ${c.sim.queryAux === "norm" ? "sqrt(sq)" : "0.5 * sq"};
}
`;
}

/**
 * The pass over X in tiles: stage TILE rows in workgroup memory (each row read once from storage),
 * then LANES threads per row add up the chunks of one score. Leaves beta * score (or MASKED) in
 * ts[r] for the tile's rows. Called by both families.
 */
function scorePass(c: Ctx): string {
  const masked = c.mask.kind === "random";
  return `// Stage rows [tile0, tile0 + rows) of X and score them; ts[r] = beta * s(x_{tile0 + r}, q).
fn score_tile(lid: u32, tile0: u32, rows: u32, query_aux: f32) {
  for (var e = lid; e < rows * D4; e = e + WG) {
    xt[e] = memories[tile0 * D4 + e];
  }
  workgroupBarrier();
  let r = lid / LANES;
  let lane = lid % LANES;
  var partial = 0.0;
  if (r < rows${masked ? " && is_kept(tile0 + r)" : ""}) {
    for (var ch = lane; ch < D4; ch = ch + LANES) {
      let x = xt[r * D4 + ch];
      let q = state[ch];
      partial = partial + ${c.sim.accumulate};
    }
  }
  ps[lid] = partial;
  workgroupBarrier();
  if (lid < rows) {
    var acc = 0.0;
    for (var l = 0u; l < LANES; l = l + 1u) { acc = acc + ps[lid * LANES + l]; }
${c.sim.memoryAux === "none" ? "" : "    let mem_aux = memory_aux[tile0 + lid];\n"}    ts[lid] = ${
    masked
      ? "select(MASKED, BETA * (" + c.sim.finish + "), is_kept(tile0 + lid))"
      : `BETA * (${c.sim.finish})`
  };
  }
  workgroupBarrier();
}
`;
}

/** Readout accumulators: thread lid owns chunks (lid % CH) + k * WG of row group lid / CH. */
function readoutOwnership(): string {
  return `  let row_group = lid / CH;
  let first_chunk = lid % CH;
  var acc: array<vec4<f32>, CPT>;
  for (var k = 0u; k < CPT; k = k + 1u) { acc[k] = vec4<f32>(0.0); }`;
}

/** Combine the groups' readout partials into o (scaled per group by `scale_expr`). */
function combineGroups(c: Ctx, scaleExpr: (g: string) => string, divide: string): string {
  if (c.groups === 1) {
    return `  for (var k = 0u; k < CPT; k = k + 1u) {
    let ch = first_chunk + k * WG;
    if (ch < D4) { o[ch] = acc[k] / ${divide}; }
  }
  workgroupBarrier();`;
  }
  return `  if (row_group < GROUPS) { part[lid] = acc[0]; }
  workgroupBarrier();
  if (lid < D4) {
    var total = vec4<f32>(0.0);
    for (var g = 0u; g < GROUPS; g = g + 1u) { total = total + ${
    scaleExpr("g")
  } * part[g * D4 + lid]; }
    o[lid] = total / ${divide};
  }
  workgroupBarrier();`;
}

function onlineStep(c: Ctx): string {
  const zero = c.ent.kind === "exp" && c.ent.zeroMemory;
  const hasAux = c.sim.queryAux !== "none";
  const combine = c.groups === 1
    ? `  // One group saw every row: its running max and sum are the step's.
  var final_max = run_max;${
      zero ? "\n  final_max = max(final_max, 0.0);  // the zero-score no-op memory" : ""
    }
  let rescale = exp(run_max - final_max);
  let final_sum = run_sum * rescale${zero ? " + exp(-final_max)" : ""};
  for (var k = 0u; k < CPT; k = k + 1u) { acc[k] = acc[k] * rescale; }
${combineGroups(c, () => "1.0", "final_sum")}`
    : `  // Each row group ran its own online softmax; rescale them to the common max.
  if (row_group < GROUPS && first_chunk == 0u) {
    group_max[row_group] = run_max;
    group_sum[row_group] = run_sum;
  }
  workgroupBarrier();
  var final_max = NO_MAX;
  for (var g = 0u; g < GROUPS; g = g + 1u) { final_max = max(final_max, group_max[g]); }${
      zero ? "\n  final_max = max(final_max, 0.0);  // the zero-score no-op memory" : ""
    }
  var final_sum = ${zero ? "exp(-final_max)" : "0.0"};
  for (var g = 0u; g < GROUPS; g = g + 1u) { final_sum = final_sum + exp(group_max[g] - final_max) * group_sum[g]; }
${combineGroups(c, (g) => `exp(group_max[${g}] - final_max)`, "final_sum")}`;
  return `// One step of online softmax retrieval (MATH.md 3.1): a running max and sum per row group, the
// readout accumulated in the same pass over each X tile, rescaled whenever the max grows.
fn retrieval_step(lid: u32) {
  let query_aux = ${hasAux ? "query_aux_of_state(lid)" : "0.0"};
${readoutOwnership()}
  var run_max = NO_MAX;
  var run_sum = 0.0;
  for (var tile0 = 0u; tile0 < shape.M; tile0 = tile0 + TILE) {
    let rows = min(TILE, shape.M - tile0);
    score_tile(lid, tile0, rows, query_aux);
    if (shape.write_weights == 1u && lid < rows) { weights[query * shape.M + tile0 + lid] = ts[lid]; }
    if (row_group < GROUPS) {
      for (var r = row_group; r < rows; r = r + GROUPS) {
        let s = ts[r];
        if (s <= MASKED) { continue; }
        if (s > run_max) {
          let rescale = exp(run_max - s);
          run_sum = run_sum * rescale;
          for (var k = 0u; k < CPT; k = k + 1u) { acc[k] = acc[k] * rescale; }
          run_max = s;
        }
        let e = exp(s - run_max);
        run_sum = run_sum + e;
        for (var k = 0u; k < CPT; k = k + 1u) {
          let ch = first_chunk + k * WG;
          if (ch < D4) { acc[k] = acc[k] + e * xt[r * D4 + ch]; }
        }
      }
    }
    workgroupBarrier();  // the next tile overwrites xt and ts
  }
${combine}
  if (lid == 0u) { softmax_max_sum = vec2<f32>(final_max, final_sum); }
  if (shape.write_weights == 1u) {
    // The stored raw scores become weights p_i = exp(s_i - max) / sum.
    storageBarrier();
    workgroupBarrier();
    let ms = softmax_max_sum;
    for (var i = lid; i < shape.M; i = i + WG) {
      let s = weights[query * shape.M + i];
      weights[query * shape.M + i] = select(exp(s - ms.x) / ms.y, 0.0, s <= MASKED);
    }
  }
}
`;
}

function topkSelection(c: Ctx): string {
  if (c.mask.kind !== "topk") return "";
  return `// Top-K mask without sorting: binary search, bit by bit, for the K-th largest score's
// order-preserving u32 key, then a binary search over indices for the ties (lowest index wins).
fn order_key(s: f32) -> u32 {
  let b = bitcast<u32>(s);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn count_at_least(lid: u32, key: u32) -> u32 {
  var n = 0u;
  for (var i = lid; i < shape.M; i = i + WG) { n = n + select(0u, 1u, order_key(row_get(i)) >= key); }
  return reduce_sum_u(lid, n);
}

fn topk_mask(lid: u32) {
  let K = ${c.mask.k}u;
  var kth = 0u;
  for (var bit = 31i; bit >= 0i; bit = bit - 1i) {
    let candidate = kth | (1u << u32(bit));
    if (count_at_least(lid, candidate) >= K) { kth = candidate; }
  }
  // Entries equal to the K-th key: keep the first (K - #greater) of them by index.
  let greater = select(count_at_least(lid, kth + 1u), 0u, kth == 0xffffffffu);
  let need = K - greater;
  var lo = 0u;
  var hi = shape.M;      // smallest cut with #{i < cut : key_i == kth} >= need lies in [lo, hi]
  loop {
    if (lo >= hi) { break; }
    let mid = (lo + hi) / 2u;
    var n = 0u;
    for (var i = lid; i < mid; i = i + WG) { n = n + select(0u, 1u, order_key(row_get(i)) == kth); }
    if (reduce_sum_u(lid, n) >= need) { hi = mid; } else { lo = mid + 1u; }
  }
  let cut = lo;
  for (var i = lid; i < shape.M; i = i + WG) {
    let key = order_key(row_get(i));
    if (!(key > kth || (key == kth && i < cut))) { row_set(i, MASKED); }
  }
  row_barrier();
}
`;
}

function normalizeRow(c: Ctx): string {
  const ent = c.ent;
  if (ent.kind === "exp") {
    const zero = ent.zeroMemory;
    return `  // ${ent.math}
  var part_sum = 0.0;
  ${zero ? "let shift = max(m, 0.0);  // the no-op memory scores 0" : "let shift = m;"}
  for (var i = lid; i < shape.M; i = i + WG) {
    let s = row_get(i);
    if (s > MASKED) { part_sum = part_sum + exp(s - shift); }
  }
  let total = reduce_sum(lid, part_sum)${zero ? " + exp(-shift)" : ""};
  for (var i = lid; i < shape.M; i = i + WG) {
    let s = row_get(i);
    row_set(i, select(0.0, exp(s - shift) / total, s > MASKED));
  }
  row_barrier();`;
  }
  return `  // ${ent.math}
  // Bisection on tau (MATH.md 3.4-3.7): f(tau) = sum summand(x_i, tau) - target decreases in tau.
  let n = reduce_sum(lid, part_count);
  var lo = 0.0;
  var hi = 0.0;
  {
    ${ent.bracket}
  }
  for (var it = 0u; it < ${c.plan.bisectionIterations}u; it = it + 1u) {
    let tau = 0.5 * (lo + hi);
    var part_f = 0.0;
    for (var i = lid; i < shape.M; i = i + WG) {
      let s = row_get(i);
      if (s > MASKED) {
        let x = ${ent.shift};
        part_f = part_f + ${ent.summand};
      }
    }
    if (reduce_sum(lid, part_f) >= ${ent.target}) { lo = tau; } else { hi = tau; }
  }
  // Weights at tau = lo, where the sum is at least the target (so the support is never empty).
  let tau = lo;
  var part_w = 0.0;
  for (var i = lid; i < shape.M; i = i + WG) {
    let s = row_get(i);
    var w = 0.0;
    if (s > MASKED) {
      let x = ${ent.shift};
      w = ${ent.weight};
    }
    part_w = part_w + w;
    row_set(i, w);
  }
  ${
    ent.normalize
      ? "let total = reduce_sum(lid, part_w);\n  row_barrier();\n  for (var i = lid; i < shape.M; i = i + WG) { row_set(i, row_get(i) / total); }"
      : "_ = part_w;"
  }
  row_barrier();`;
}

function thresholdStep(c: Ctx): string {
  const hasAux = c.sim.queryAux !== "none";
  const needsMin = c.ent.kind === "threshold" && c.ent.bracket.includes("x_min");
  return `${topkSelection(c)}
// One step of retrieval through a kept score row: scores, ${
    c.mask.kind === "topk" ? "top-K selection, " : ""
  }normalizer, sparse readout.
fn retrieval_step(lid: u32) {
  let query_aux = ${hasAux ? "query_aux_of_state(lid)" : "0.0"};
  for (var tile0 = 0u; tile0 < shape.M; tile0 = tile0 + TILE) {
    let rows = min(TILE, shape.M - tile0);
    score_tile(lid, tile0, rows, query_aux);
    if (lid < rows) { row_set(tile0 + lid, ts[lid]); }
  }
  row_barrier();
${c.mask.kind === "topk" ? "  topk_mask(lid);\n" : ""}  var part_max = NO_MAX;
  var part_count = 0.0;${needsMin ? "\n  var part_min = 0.0;" : ""}
  for (var i = lid; i < shape.M; i = i + WG) {
    let s = row_get(i);
    part_max = max(part_max, s);
    part_count = part_count + select(0.0, 1.0, s > MASKED);
  }
  let m = reduce_max(lid, part_max);${
    needsMin
      ? `
  for (var i = lid; i < shape.M; i = i + WG) {
    let s = row_get(i);
    if (s > MASKED) { part_min = min(part_min, ${c.ent.kind === "threshold" ? c.ent.shift : "s"}); }
  }
  let x_min = reduce_min(lid, part_min);`
      : ""
  }
${normalizeRow(c)}
  if (shape.write_weights == 1u) {
    for (var i = lid; i < shape.M; i = i + WG) { weights[query * shape.M + i] = row_get(i); }
  }
  // Readout over the support only: rows with weight exactly 0 are never read.
${readoutOwnership()}
  if (row_group < GROUPS) {
    for (var i = row_group; i < shape.M; i = i + GROUPS) {
      let p = row_get(i);
      if (p == 0.0) { continue; }
      for (var k = 0u; k < CPT; k = k + 1u) {
        let ch = first_chunk + k * WG;
        if (ch < D4) { acc[k] = acc[k] + p * memories[i * D4 + ch]; }
      }
    }
  }
${combineGroups(c, () => "1.0", "1.0")}
}
`;
}

function entryPoint(c: Ctx): string {
  const until = c.model.steps.kind === "until";
  return `@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32,
        @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) grid: vec3<u32>) {
  query = shape.first_query + wid.y * grid.x + wid.x;
  if (query >= shape.B || query - shape.first_query >= shape.rows_in_scratch) { return; }   // uniform: the whole workgroup leaves together
${
    c.mask.kind === "random"
      ? "  choose_fallback(lid);\n"
      : ""
  }  for (var ch = lid; ch < D4; ch = ch + WG) { o[ch] = queries[query * D4 + ch]; }
  workgroupBarrier();
${
    c.post.transformsInputs
      ? "  _ = post_transform(lid);    // queries are post-transformed like the memories (MATH.md 2.2)\n"
      : "  for (var ch = lid; ch < D4; ch = ch + WG) { state[ch] = o[ch]; }\n  workgroupBarrier();\n"
  }  var steps_taken = 0u;
  for (var t = 0u; t < MAX_STEPS; t = t + 1u) {
    retrieval_step(lid);
    ${until ? "let moved = post_transform(lid);" : "_ = post_transform(lid);"}
    steps_taken = t + 1u;
    ${until ? "if (sqrt(moved) < TOL) { break; }   // uniform: moved comes from a reduction" : ""}
  }
  for (var ch = lid; ch < D4; ch = ch + WG) { states[query * D4 + ch] = state[ch]; }
  if (lid == 0u) { steps_run[query] = steps_taken; }
}
`;
}
