// WGSL generation for the fused retrieval kernel. One workgroup owns one query and runs every step
// of its retrieval without leaving the GPU: scores, normalizer, readout, post-transform, next step.
// Queries are independent and X is read-only, so no global synchronization is ever needed.
//
// The module is assembled from small pieces, each a function below that returns readable WGSL:
// bindings, reductions, the similarity pass over X tiles, the normalizer (online softmax, or a
// threshold search over a kept score row), the readout, the post-transform. The math of each part
// comes from src/wgsl/lowerings.ts.
import type { Model } from "../ir.ts";
import { RNG_WGSL } from "../parts/rng.ts";
import { BINDINGS, type KernelSpec } from "../runtime/standalone.ts";
import { poolContinuous } from "../plan/continuous_pass.ts";
import { type KernelChoices, kernelChoices, stepsLine } from "../plan/choices.ts";

export { type KernelChoices, kernelChoices, stepsLine };
import { blockedParts } from "./blocked_parts.ts";
import { auxWgsl } from "../runtime/blocked/wgsl_common.ts";
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

export { BINDINGS };

export interface Ctx {
  model: Model;
  plan: KernelChoices;
  sim: SimilarityWgsl;
  ent: EntropyWgsl;
  mask: MaskWgsl;
  post: PostWgsl;
  /** Set when the kernel runs a continuous box/exact memory on its pooled rows. */
  pooled?: { functions: number; ridge: number; betaScale: number } | null;
}

/**
 * What the runtime needs besides the WGSL, for the models that score memory rows (online and
 * threshold families; src/wgsl/spec.ts picks the family).
 */
export function workgroupSpec(model: Model): KernelSpec {
  const family = kernelChoices(model).family;
  if (family === "features" || family === "quadrature") {
    throw new Error(`model \`${model.name}\` scores projections: see src/wgsl/projected.ts`);
  }
  // Box + exact continuous memory is the discrete kernel over its N pooled rows (MATH.md 4.2),
  // which the host fits at load (hopc_host.ts).
  const pooled = poolContinuous(model);
  // Separation functions are lowered into the blocked kernels only (their weights pass).
  const separation = model.separation.kind !== "fenchel_young"
    ? `separation \`${model.separation.kind}\` runs on the blocked kernels only: the one-workgroup-per-query kernel has no lowering of it`
    : undefined;
  const spec: KernelSpec = {
    name: model.name,
    wgsl: separation ? `// ${separation}\n` : workgroupKernel(model),
    ...(separation ? { workgroupUnsupported: separation } : {}),
    family,
    memoryAux: similarityWgsl(model.similarity).memoryAux,
    transformsInputs: postWgsl(model.post, model.beta).transformsInputs,
    mask: model.mask.kind,
    minMemories: Math.max(
      1,
      model.mask.kind === "topk" ? model.mask.k : 1,
      model.entropy.kind === "ksubsets" ? model.entropy.k : 1,
    ),
    blocked: blockedParts(model) ?? undefined,
  };
  if (pooled) {
    const { basis, functions, width, ridge, points } = pooled.spec;
    spec.hostPrep = {
      kind: "continuous",
      spec: { basis, functions, width, ridge, points },
      pointAux: "none",
    };
  }
  return spec;
}

/**
 * The one-workgroup-per-query kernel of a model that scores memory rows: the same text for every
 * shape (shapes arrive as override constants).
 */
export function workgroupKernel(model: Model): string {
  const plan = kernelChoices(model);
  // The pooled pass scales the scores' beta by N^(1 - alpha); tanh(beta z) keeps the model's beta.
  const pooled = poolContinuous(model);
  const ctx: Ctx = {
    model: pooled?.model ?? model,
    plan,
    sim: similarityWgsl(model.similarity),
    ent: entropyWgsl(model.entropy),
    mask: maskWgsl(model.mask),
    post: postWgsl(model.post, model.beta),
    pooled: pooled
      ? { functions: pooled.spec.functions, ridge: pooled.spec.ridge, betaScale: pooled.betaScale }
      : null,
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
    readoutPieces(ctx),
    plan.family === "online" ? onlineStep(ctx) : thresholdStep(ctx),
    entryPoints(ctx),
  ].filter((s) => s.length > 0).join("\n");
}

// ---------------------------------------------------------------------------------------------

function header({ model, plan, sim, ent, post, mask, pooled }: Ctx): string {
  const lines = [
    `hopc retrieval kernel for model \`${model.name}\` (${model.source.file})`,
    ``,
    ...(pooled
      ? [
        `continuous memory, box basis, exact quadrature: the compiler's pooled pass (MATH.md 4.2)`,
        `makes it a discrete memory over the ${pooled.functions} rows b_n = sum_bin x / (c_n + ${pooled.ridge}),`,
        `fitted once per load on the host, with beta scaled by N^(1 - alpha) = ${pooled.betaScale}.`,
        ``,
      ]
      : []),
    `  scores  = beta * similarity(X, q)     beta = ${model.beta}; ${sim.math}`,
    ...(mask.kind !== "none" ? [`  mask    = ${mask.math}`] : []),
    `  weights = ${ent.math}`,
    `  q       = post(X^T weights)           ${post.math}`,
    `  steps   = ${stepsLine(model)}`,
    ``,
    `plan: ${
      plan.family === "online"
        ? "online softmax: one pass over X tiles per step computes scores and accumulates the readout"
        : `threshold: keep each query's score row, ${
          ent.kind === "threshold"
            ? `bisect tau (${plan.bisectionIterations} halvings)`
            : "normalize"
        }, read out the support`
    }`,
    `One workgroup per query runs every step: no host round trip, no global synchronization.`,
    `Shapes arrive as override constants (planned at load by hopc_runtime.ts planShapes) and`,
    `uniforms (M, D, B), so one text serves every shape. Memories and queries are vec4<f32> rows`,
    `zero-padded to 4 * D4.`,
  ].filter((l, i, a) => l !== "" || a[i - 1] !== "");
  return lines.map((l) => `// ${l}`.trimEnd()).join("\n") + "\n";
}

/** Whether the family scores X rows in staged tiles (online, threshold) or reads projections. */
function tiled(c: Ctx): boolean {
  return c.plan.family === "online" || c.plan.family === "threshold";
}

export function constants(c: Ctx): string {
  const { model } = c;
  const maxSteps = model.steps.kind === "fixed" ? model.steps.count : model.steps.max;
  return `override WG: u32 = 64u;                // threads per workgroup
override D4: u32 = 1u;                 // vec4 chunks per state
${
    tiled(c)
      ? `override TILE: u32 = 1u;               // rows of X staged in workgroup memory at a time
override LANES: u32 = 64u;             // threads that share one row's dot product
`
      : ""
  }override CH: u32 = 1u;                 // chunks one row group covers in the readout
override GROUPS: u32 = 64u;            // row groups that split the readout's rows
${
    c.plan.family === "threshold"
      ? `override ROW_CAPACITY: u32 = 1u;       // length of the workgroup score row
override ROW_IN_WORKGROUP: bool = true; // false: score rows live in the scratch buffer
`
      : ""
  }const BETA: f32 = ${f32(model.beta)};
const MAX_STEPS: u32 = ${maxSteps}u;
${model.steps.kind === "until" ? `const TOL: f32 = ${f32(model.steps.tol)};\n` : ""}${
    tiled(c)
      ? `const MASKED: f32 = -1.0e30;   // score of a memory the normalizer must not see (finite on purpose)
const NO_MAX: f32 = -3.0e38;   // below every score, even masked ones
`
      : ""
  }`;
}

export function bindings(c: Ctx): string {
  const b = BINDINGS;
  const family = c.plan.family;
  const auxNote = family === "features"
    ? "[F + 1] ksum, then the keys' shift c_k (from the host)"
    : family === "quadrature"
    ? (c.sim.memoryAux === "none"
      ? "(unused)"
      : `[P] ${c.sim.memoryAux} of the signal at each point (from the host)`)
    : `[M] ${c.sim.memoryAux === "none" ? "(unused)" : c.sim.memoryAux}`;
  const scratchNote = family === "threshold"
    ? "[B, M] score rows when they do not fit in workgroup memory"
    : family === "features"
    ? "[B, F] each query's features phi(q)"
    : family === "quadrature"
    ? "[B, N + P] each query's r = B q (then E[psi]) and its points' masses"
    : "(unused)";
  return `struct Shape {
  M: u32,              // ${tiled(c) ? "memories" : "rows of the memory buffer"}
  D: u32,              // true dimension (<= 4 * D4)
  B: u32,              // queries
  write_weights: u32,  // 1: store the final weights of every query
  first_query: u32,    // index in the batch of this dispatch's first query
  rows_in_scratch: u32, // queries this dispatch covers (its slice of scratch)
  raw_queries: u32,    // 1: queries still need the input post-transform (0 when resuming a trace)
}
@group(0) @binding(${b.shape}) var<uniform> shape: Shape;
@group(0) @binding(${b.memories}) var<storage, read> memories: array<vec4<f32>>;   // [M, D4]
@group(0) @binding(${b.memoryAux}) var<storage, read> memory_aux: array<f32>;      // ${auxNote}
@group(0) @binding(${b.queries}) var<storage, read> queries: array<vec4<f32>>;     // [B, D4]
@group(0) @binding(${b.states}) var<storage, read_write> states: array<vec4<f32>>; // [B, D4]
@group(0) @binding(${b.weights}) var<storage, read_write> weights: array<f32>;     // [B, ${
    family === "quadrature" ? "N" : "M"
  }] when write_weights
@group(0) @binding(${b.scratch}) var<storage, read_write> scratch: array<f32>;     // ${scratchNote}
@group(0) @binding(${b.stepsRun}) var<storage, read_write> steps_run: array<u32>;  // [B]
`;
}

export function workgroupMemory(c: Ctx): string {
  const { plan } = c;
  const lines = [
    `var<workgroup> state: array<vec4<f32>, D4>;         // the query's current state q`,
    `var<workgroup> o: array<vec4<f32>, D4>;             // readout X^T p before the post-transform`,
    `var<workgroup> acc: array<vec4<f32>, GROUPS * D4>;  // readout partials per (row group, chunk)`,
    ...(tiled(c)
      ? [
        `var<workgroup> xt: array<vec4<f32>, TILE * D4>;     // TILE rows of X`,
        `var<workgroup> ts: array<f32, TILE>;                // scores of the tile's rows`,
        `var<workgroup> ps: array<f32, WG>;                  // partial dot products`,
      ]
      : []),
    `var<workgroup> red: array<f32, WG>;                 // reductions`,
  ];
  if (plan.family === "online") {
    lines.push(
      `var<workgroup> group_max: array<f32, GROUPS>;       // running max of each row group`,
    );
    lines.push(
      `var<workgroup> group_sum: array<f32, GROUPS>;       // running sum of each row group`,
    );
    lines.push(`var<workgroup> softmax_max_sum: vec2<f32>;          // (max, sum) of the step`);
  }
  if (c.mask.kind !== "none") {
    lines.push(`var<workgroup> redu: array<u32, WG>;                // u32 reductions`);
  }
  if (plan.family === "threshold") {
    lines.push(
      `var<workgroup> row: array<f32, ROW_CAPACITY>;       // the score row, then the weights`,
    );
  }
  lines.push(`var<private> query: u32;`);
  return lines.join("\n") + "\n";
}

export function reductions(c: Ctx): string {
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
  if (c.mask.kind !== "none") {
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
  return `// A query's score row: in workgroup memory when M fits, else its slice of the scratch buffer.
fn row_get(i: u32) -> f32 {
  if (ROW_IN_WORKGROUP) { return row[i]; }
  return scratch[(query - shape.first_query) * shape.M + i];
}
fn row_set(i: u32, v: f32) {
  if (ROW_IN_WORKGROUP) { row[i] = v; } else { scratch[(query - shape.first_query) * shape.M + i] = v; }
}
fn row_barrier() {
  storageBarrier();
  workgroupBarrier();
}
`;
}

export function postTransform(c: Ctx): string {
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

export function queryAux(c: Ctx): string {
  if (c.sim.queryAux === "none") return "";
  const aux = auxWgsl(c.sim.queryAux);
  return `// ${aux.label} of the current state, needed by the similarity.
fn query_aux_of_state(lid: u32) -> f32 {
  var part = 0.0;
  for (var ch = lid; ch < D4; ch = ch + WG) { part = part + ${aux.chunk("state[ch]")}; }
  let total = reduce_sum(lid, part);
  return ${aux.final("total")};
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
  const keptFlags = masked
    ? `  // Random mask: decide each row's fate first, so dropped rows are neither loaded nor scored
  // and the cost falls with \`keep\`.
  if (lid < rows) { ts[lid] = select(MASKED, 0.0, is_kept(tile0 + lid)); }
  workgroupBarrier();
`
    : "";
  const kept = (r: string) => masked ? ` && ts[${r}] > MASKED` : "";
  return `// Stage rows [tile0, tile0 + rows) of X and score them; ts[r] = beta * s(x_{tile0 + r}, q).
fn score_tile(lid: u32, tile0: u32, rows: u32, query_aux: f32) {
${keptFlags}  for (var e = lid; e < rows * D4; e = e + WG) {
    ${
    masked
      ? "if (ts[e / D4] > MASKED) { xt[e] = memories[tile0 * D4 + e]; }"
      : "xt[e] = memories[tile0 * D4 + e];"
  }
  }
  workgroupBarrier();
  let r = lid / LANES;
  let lane = lid % LANES;
  var partial = 0.0;
  if (r < rows${kept("r")}) {
    let xa = ${c.sim.memoryAux === "none" ? "0.0" : "memory_aux[tile0 + r]"};
    let qa = query_aux;
    for (var ch = lane; ch < D4; ch = ch + LANES) {
      let x = xt[r * D4 + ch];
      let q = state[ch];
      partial = partial + ${c.sim.accumulate};
    }
  }
  ps[lid] = partial;
  workgroupBarrier();
  if (lid < rows${kept("lid")}) {
    var total = 0.0;
    for (var l = 0u; l < LANES; l = l + 1u) { total = total + ps[lid * LANES + l]; }
    let acc = total;
${
    c.sim.memoryAux === "none"
      ? ""
      : "    let mem_aux = memory_aux[tile0 + lid];\n"
  }    ts[lid] = BETA * (${c.sim.finish});
  }
  workgroupBarrier();
}
`;
}

export function readoutPieces(_c: Ctx): string {
  // The tile pieces exist only where the scores stage X tiles (online and threshold families).
  const tiled = _c.plan.family === "online" || _c.plan.family === "threshold";
  return `// Readout X^T p: thread lid accumulates chunks (lid % CH) + k CH of row group lid / CH into
// its own slots of acc; row groups split the rows, so small D still keeps every thread busy.
fn clear_partials(lid: u32) {
  let row_group = lid / CH;
  if (row_group < GROUPS) {
    for (var ch = lid % CH; ch < D4; ch = ch + CH) { acc[row_group * D4 + ch] = vec4<f32>(0.0); }
  }
}

${
    tiled
      ? `fn scale_partials(lid: u32, factor: f32) {
  let row_group = lid / CH;
  if (row_group < GROUPS) {
    for (var ch = lid % CH; ch < D4; ch = ch + CH) { acc[row_group * D4 + ch] = acc[row_group * D4 + ch] * factor; }
  }
}

// Row r of the staged tile added with a weight.
fn add_tile_row(lid: u32, weight: f32, r: u32) {
  let row_group = lid / CH;
  for (var ch = lid % CH; ch < D4; ch = ch + CH) {
    acc[row_group * D4 + ch] = acc[row_group * D4 + ch] + weight * xt[r * D4 + ch];
  }
}
`
      : ""
  }
// Memory i, read from storage, added with a weight.
fn add_memory_row(lid: u32, weight: f32, i: u32) {
  let row_group = lid / CH;
  for (var ch = lid % CH; ch < D4; ch = ch + CH) {
    acc[row_group * D4 + ch] = acc[row_group * D4 + ch] + weight * memories[i * D4 + ch];
  }
}

// o = sum over row groups of scale(group) * partials, divided by \`divide\`.
fn combine_partials(lid: u32, final_max: f32, divide: f32) {
  workgroupBarrier();
  for (var ch = lid; ch < D4; ch = ch + WG) {
    var total = vec4<f32>(0.0);
    for (var g = 0u; g < GROUPS; g = g + 1u) {
      let scale = ${_c.plan.family === "online" ? "exp(group_max[g] - final_max)" : "1.0"};
      total = total + scale * acc[g * D4 + ch];
    }
    o[ch] = total / divide;
  }
  workgroupBarrier();
}
`;
}

function onlineStep(c: Ctx): string {
  const zero = c.ent.kind === "exp" && c.ent.zeroMemory;
  const hasAux = c.sim.queryAux !== "none";
  return `// One step of online softmax retrieval (MATH.md 3.1): each row group keeps a running max and
// sum over its rows and rescales its readout partials whenever the max grows; the groups are then
// rescaled to the common max (as in split-K flash decoding).
fn retrieval_step(lid: u32) {
  let query_aux = ${hasAux ? "query_aux_of_state(lid)" : "0.0"};
  let row_group = lid / CH;
  clear_partials(lid);
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
          scale_partials(lid, rescale);
          run_max = s;
        }
        let e = exp(s - run_max);
        run_sum = run_sum + e;
        add_tile_row(lid, e, r);
      }
    }
    workgroupBarrier();  // the next tile overwrites xt and ts
  }
  if (row_group < GROUPS && lid % CH == 0u) {
    group_max[row_group] = run_max;
    group_sum[row_group] = run_sum;
  }
  workgroupBarrier();
  var final_max = NO_MAX;
  for (var g = 0u; g < GROUPS; g = g + 1u) { final_max = max(final_max, group_max[g]); }${
    zero ? "\n  final_max = max(final_max, 0.0);  // the zero-score no-op memory of softmax1" : ""
  }
  var final_sum = ${zero ? "exp(-final_max)" : "0.0"};
  for (var g = 0u; g < GROUPS; g = g + 1u) { final_sum = final_sum + exp(group_max[g] - final_max) * group_sum[g]; }
  combine_partials(lid, final_max, final_sum);
  if (shape.write_weights == 1u) {
    // The stored raw scores become weights p_i = exp(s_i - max) / sum.
    storageBarrier();
    workgroupBarrier();
    for (var i = lid; i < shape.M; i = i + WG) {
      let s = weights[query * shape.M + i];
      weights[query * shape.M + i] = select(exp(s - final_max) / final_sum, 0.0, s <= MASKED);
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
        part_f = part_f + summand(shifted(s, m), tau);
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
      w = weight(shifted(s, m), tau);
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

function thresholdMap(c: Ctx): string {
  if (c.ent.kind !== "threshold") return "";
  return `// ${c.ent.math}
// x: the score with the row max m subtracted (and scaled); the threshold equation is
// sum_i summand(x_i, tau) = ${c.ent.target}; the weights are weight(x_i, tau)${
    c.ent.normalize ? " / their sum" : ""
  }.
fn shifted(s: f32, m: f32) -> f32 { return ${c.ent.shift}; }
fn summand(x: f32, tau: f32) -> f32 { return ${c.ent.summand}; }
fn weight(x: f32, tau: f32) -> f32 { return ${c.ent.weight}; }
`;
}

function thresholdStep(c: Ctx): string {
  const hasAux = c.sim.queryAux !== "none";
  const needsMin = c.ent.kind === "threshold" && c.ent.bracket.includes("x_min");
  return `${thresholdMap(c)}${topkSelection(c)}
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
    if (s > MASKED) { part_min = min(part_min, shifted(s, m)); }
  }
  let x_min = reduce_min(lid, part_min);`
      : ""
  }
${normalizeRow(c)}
  if (shape.write_weights == 1u) {
    for (var i = lid; i < shape.M; i = i + WG) { weights[query * shape.M + i] = row_get(i); }
  }
  // Readout over the support only: rows with weight exactly 0 are never read.
  let row_group = lid / CH;
  clear_partials(lid);
  if (row_group < GROUPS) {
    for (var i = row_group; i < shape.M; i = i + GROUPS) {
      let p = row_get(i);
      if (p != 0.0) { add_memory_row(lid, p, i); }
    }
  }
  combine_partials(lid, 0.0, 1.0);
}
`;
}

export function entryPoints(c: Ctx): string {
  const until = c.model.steps.kind === "until";
  const copy = "for (var ch = lid; ch < D4; ch = ch + WG) { state[ch] = o[ch]; }";
  const loadInput = c.post.transformsInputs
    ? "  _ = post_transform(lid);    // inputs are post-transformed like the memories (MATH.md 2.2)\n"
    : `  ${copy}\n  workgroupBarrier();\n`;
  const loadQuery = c.post.transformsInputs
    ? `  if (shape.raw_queries == 1u) {
    _ = post_transform(lid);  // queries are post-transformed like the memories (MATH.md 2.2)
  } else {
    ${copy}
    workgroupBarrier();
  }
`
    : loadInput;
  const aux = c.sim.memoryAux;
  return `// Retrieval: workgroup (wid.x, wid.y) runs every step of one query.
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32,
        @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) grid: vec3<u32>) {
  // Tested on a let, not on the private \`query\`: uniformity analysis (Tint) takes every read of a
  // private variable as non-uniform, which would make each later barrier non-uniform.
  let index = shape.first_query + wid.y * grid.x + wid.x;
  if (index >= shape.B || index - shape.first_query >= shape.rows_in_scratch) { return; }  // uniform
  query = index;
${
    c.mask.kind === "random"
      ? "  choose_fallback(lid);\n"
      : ""
  }  for (var ch = lid; ch < D4; ch = ch + WG) { o[ch] = queries[query * D4 + ch]; }
  workgroupBarrier();
${loadQuery}  var steps_taken = 0u;
  for (var t = 0u; t < MAX_STEPS; t = t + 1u) {
    retrieval_step(lid);
    ${until ? "let moved = post_transform(lid);" : "_ = post_transform(lid);"}
    steps_taken = t + 1u;${
    until
      ? "\n    if (sqrt(moved) < TOL) { break; }   // uniform: moved comes from a reduction"
      : ""
  }
  }
  for (var ch = lid; ch < D4; ch = ch + WG) { states[query * D4 + ch] = state[ch]; }
  if (lid == 0u) { steps_run[query] = steps_taken; }
}

// Load-time preparation of the memories, run once per load with queries = raw memories:
// states[i] = ${c.post.transformsInputs ? "post(x_i)" : "x_i"}${
    aux === "none" ? "" : `, weights[i] = ${auxWgsl(aux).label} of x_i`
  }.
@compute @workgroup_size(WG)
fn prepare(@builtin(local_invocation_index) lid: u32,
           @builtin(workgroup_id) wid: vec3<u32>,
           @builtin(num_workgroups) grid: vec3<u32>) {
  let index = wid.y * grid.x + wid.x;
  if (index >= shape.B) { return; }  // uniform (see main)
  query = index;
  for (var ch = lid; ch < D4; ch = ch + WG) { o[ch] = queries[query * D4 + ch]; }
  workgroupBarrier();
${loadQuery}  var part = 0.0;
  for (var ch = lid; ch < D4; ch = ch + WG) {
    states[query * D4 + ch] = state[ch];
    part = part + ${auxWgsl(aux).chunk("state[ch]")};
  }
  let total = reduce_sum(lid, part);
  if (lid == 0u) { weights[query] = ${auxWgsl(aux).final("total")}; }
}
`;
}
