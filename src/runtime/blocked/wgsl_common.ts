// WGSL shared by every pass of the query-blocked kernels: the header, constants, bindings, the
// per-query workgroup helpers (reductions, scan, post-transform) and the part snippets as
// functions. Self-contained (see ./types.ts).
import type { AuxKind, BlockedParts, BlockedPlan } from "./types.ts";

/** f32 literal that WGSL accepts (always has a decimal point or exponent). */
export function f32(v: number): string {
  if (!Number.isFinite(v)) throw new Error(`non-finite constant ${v}`);
  const s = Math.fround(v).toString();
  return /[.eE]/.test(s) ? s : `${s}.0`;
}

/**
 * The WGSL of an aux number: `chunk` is the partial of one vec4 chunk `v` (summed over chunks,
 * zero padding adds 0), `final` the number from that sum `s`; `label` for comments.
 */
export function auxWgsl(
  kind: AuxKind,
): { label: string; chunk: (v: string) => string; final: (s: string) => string } {
  switch (kind) {
    case "norm":
      return { label: "|v|", chunk: (v) => `dot(${v}, ${v})`, final: (s) => `sqrt(${s})` };
    case "half_sq_norm":
      return { label: "|v|^2 / 2", chunk: (v) => `dot(${v}, ${v})`, final: (s) => `0.5 * ${s}` };
    case "l1":
      return {
        label: "sum_j |v_j|",
        chunk: (v) => `dot(abs(${v}), vec4<f32>(1.0))`,
        final: (s) => s,
      };
    case "inv_sum":
      return {
        label: "1 / sum_j v_j (0 if the sum is not positive)",
        chunk: (v) => `dot(${v}, vec4<f32>(1.0))`,
        final: (s) => `select(0.0, 1.0 / ${s}, ${s} > 0.0)`,
      };
    case "host":
      // Given by the host at load; the prepare pass never writes it (BlockedRetrieval.load).
      return { label: "given by the host", chunk: (v) => `dot(${v}, ${v})`, final: (s) => s };
    case "none":
      return { label: "none needed", chunk: (v) => `dot(${v}, ${v})`, final: (s) => s };
  }
}

/** Floats per query in the `qinfo` buffer, and what each slot holds. */
export const QINFO = 9;
export const SLOT = {
  aux: 0, // the similarity's number of the current state (|q| or |q|^2 / 2)
  done: 1, // 1 once `until` stopped the query
  steps: 2, // steps run
  fallback: 3, // random mask: the memory kept when the hash keeps none (u32 bits)
  lo: 4, // threshold: bracket low end (tau); fused softmax: the final max
  hi: 5, // threshold: bracket high end; fused softmax: the final sum
  shift: 6, // the score subtracted before the normalizer (the row max)
  scale: 4, // separation: the power of two the weight row was divided by (finish multiplies back)
  count: 7, // candidates of the threshold search
  overflow: 8, // separation: 1 once a score was not a finite float32 (the host reports it)
} as const;

/** Binding indices (one layout serves every pass). */
export const BLOCKED_BINDINGS = {
  shape: 0,
  memories: 1,
  memoryAux: 2,
  queries: 3,
  states: 4,
  scratch: 5,
  partials: 6,
  qinfo: 7,
  weights: 8,
} as const;

/** u32 fields of the Shape uniform, in order (the runtime writes the same order). */
export const SHAPE_FIELDS = [
  "M",
  "D",
  "d4",
  "B",
  "q0",
  "nq",
  "row0",
  "rows",
  "split0",
  "splits",
  "rows_per_split",
  "qgroups",
  "flags",
  "dslices",
  "halvings",
  "chunk_splits",
] as const;
export type ShapeField = typeof SHAPE_FIELDS[number];

export function header(parts: BlockedParts, plan: BlockedPlan): string {
  const lines = [
    `hopc retrieval kernels for model \`${parts.name}\` (${parts.file}): query-blocked plan`,
    ``,
    ...parts.header,
    ``,
    `plan (${plan.source}): ${
      plan.schedule === "fused"
        ? "fused: each step is one pass over X (scores, online max/sum, readout) split over M, then a combine"
        : parts.projected
        ? "three passes per step: the projections of each state into a row per query, its weights from that row, the readout of the value rows"
        : "three passes per step: scores into a row per query, the normalizer on that row, the readout of the support"
    }.`,
    `A thread owns ${plan.queriesPerThread} queries (${
      plan.queriesPerThread / 4
    } mat4x4 of states, column k = query k) and scores ${plan.rowBlock} row(s)`,
    `of X per iteration, so each loaded element of X feeds ${
      plan.schedule === "fused" ? "the scores and readouts" : "the scores"
    } of all of them.`,
    `Every invocation stays within ${plan.loopBudget} loop iterations (llvmpipe silently ends every loop`,
    `past 65535 per invocation; GPU watchdogs bound a dispatch the same way): M is split across`,
    `invocations and the splits are merged exactly by the finish pass.`,
    ...plan.notes.map((n) => `note: ${n}`),
  ].filter((l, i, a) => l !== "" || a[i - 1] !== "");
  return lines.map((l) => `// ${l}`.trimEnd()).join("\n") + "\n";
}

export function constants(parts: BlockedParts, plan: BlockedPlan): string {
  return `const D4: u32 = ${plan.d4}u;             // vec4 chunks of a state (D zero-padded to 4 * D4)
const WG: u32 = ${plan.workgroupSize}u;             // threads of a blocked pass's workgroup
const WGR: u32 = ${plan.rowWorkgroupSize}u;            // threads of a per-query pass's workgroup
const DS: u32 = ${plan.readoutSlice}u;             // vec4 chunks one readout thread accumulates
const BETA: f32 = ${f32(parts.beta)};
const MASKED: f32 = -1.0e30;   // score of a memory the normalizer must not see (finite on purpose)
const NO_MAX: f32 = -3.0e38;   // below every score, even masked ones
const QINFO: u32 = ${QINFO}u;          // floats per query in qinfo
// "No fallback memory": past every row index, and the bits of a finite f32 (Tint rejects a
// constant bitcast that makes a NaN, such as 0xffffffff).
const NO_FALLBACK: u32 = 0x7f7fffffu;
${Object.entries(SLOT).map(([k, v]) => `const ${k.toUpperCase()}: u32 = ${v}u;`).join("\n")}
${parts.tol !== null ? `const TOL: f32 = ${f32(parts.tol)};\n` : ""}`;
}

export function bindings(): string {
  const b = BLOCKED_BINDINGS;
  return `struct Shape {
${SHAPE_FIELDS.map((f) => `  ${f}: u32,`).join("\n")}
}
// M memories in all; row0/rows: this dispatch's chunk of them (one storage buffer); q0/nq: this
// slice of the B queries; splits: partial slots per query, split0 the chunk's first;
// flags: bit 0 write the weights, bit 1 the queries are raw (apply the input post-transform),
// bit 2 clamp (queries rows B.. hold the 0/1 masks).
@group(0) @binding(${b.shape}) var<uniform> shape: Shape;
@group(0) @binding(${b.memories}) var<storage, read> memories: array<vec4<f32>>;       // [rows, D4] this chunk
@group(0) @binding(${b.memoryAux}) var<storage, read> memory_aux: array<f32>;          // [rows] norms, when the similarity needs them
@group(0) @binding(${b.queries}) var<storage, read> queries: array<vec4<f32>>;         // [B, D4] as given
@group(0) @binding(${b.states}) var<storage, read_write> states: array<vec4<f32>>;     // [B, D4] current states
@group(0) @binding(${b.scratch}) var<storage, read_write> scratch: array<f32>;         // [nq, M] score rows, then candidates (x, index)
@group(0) @binding(${b.partials}) var<storage, read_write> partials: array<vec4<f32>>; // [splits, nq, D4 + 1] readout partials, (max, sum)
@group(0) @binding(${b.qinfo}) var<storage, read_write> qinfo: array<f32>;             // [B, QINFO]
@group(0) @binding(${b.weights}) var<storage, read_write> weights: array<f32>;         // [B, M] final weights when asked
`;
}

/** The part snippets as WGSL functions. */
export function partFunctions(parts: BlockedParts): string {
  const { sim } = parts;
  const out = [
    `// similarity: ${sim.math}`,
    `fn finish_score(acc: f32, mem_aux: f32, query_aux: f32) -> f32 { return ${sim.finish}; }`,
    `fn accumulate(x: vec4<f32>, q: vec4<f32>, xa: f32, qa: f32) -> f32 { return ${sim.accumulate}; }`,
    `// The similarity of one memory chunk x (aux xa) with the thread's 4 queries (columns of qs, aux qa).`,
    sim.linear
      ? `fn accumulate4(x: vec4<f32>, qs: mat4x4<f32>, xa: f32, qa: vec4<f32>) -> vec4<f32> { return x * qs; }  // x . q_k for k = 0..3`
      : `fn accumulate4(x: vec4<f32>, qs: mat4x4<f32>, xa: f32, qa: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(accumulate(x, qs[0], xa, qa.x), accumulate(x, qs[1], xa, qa.y),
                   accumulate(x, qs[2], xa, qa.z), accumulate(x, qs[3], xa, qa.w));
}`,
    `fn scores4(t: vec4<f32>, mem_aux: f32, qaux: vec4<f32>) -> vec4<f32> {
  return BETA * vec4<f32>(finish_score(t.x, mem_aux, qaux.x), finish_score(t.y, mem_aux, qaux.y),
                          finish_score(t.z, mem_aux, qaux.z), finish_score(t.w, mem_aux, qaux.w));
}`,
  ];
  if (parts.mask.kind === "random") {
    out.push(parts.rngWgsl.trim());
    out.push(`// Random mask: ${parts.mask.math}; a query whose hashes keep none keeps its fallback.
const MASK_SEED: u32 = ${parts.mask.seed}u;
const KEEP_BELOW: u32 = ${parts.mask.threshold}u;   // keep * 2^32
fn is_kept(query: u32, i: u32, fallback: u32) -> bool {
  return ${
      parts.mask.threshold >= 0xffffffff
        ? "true"
        : "hash3(MASK_SEED, query, i) < KEEP_BELOW || i == fallback"
    };
}`);
  }
  if (parts.ent.kind === "threshold") {
    const e = parts.ent;
    out.push(`// normalizer: ${e.math}
// x: the score with the row max m subtracted (and scaled); sum_i summand(x_i, tau) = ${e.target}.
fn shifted(s: f32, m: f32) -> f32 { return ${e.shift}; }
fn summand(x: f32, tau: f32) -> f32 { return ${e.summand}; }
fn weight(x: f32, tau: f32) -> f32 { return ${e.weight}; }`);
  } else if (parts.ent.kind === "separation") {
    const e = parts.ent;
    out.push(`// separation: ${e.math}
// The weight of an unmasked score s (no beta), given the row's ${
      {
        none: "(unused) statistic m",
        max: "largest score m",
        max_abs: "largest |score| m",
        argmax: "(unused) statistic m",
      }[e.stat]
    }; finite for finite s.
const F32_MAX: f32 = 3.4028234e38;
${
      e.functions
        ? e.functions + "\n"
        : ""
    }fn separate(s: f32, m: f32) -> f32 { return ${e.weight}; }`);
  } else {
    out.push(`// normalizer: ${parts.ent.math}`);
  }
  return out.join("\n") + "\n";
}

/** Workgroup helpers of the per-query passes (one workgroup of WGR threads per query). */
export function rowHelpers(parts: BlockedParts): string {
  const tree = (name: string, ty: string, arr: string, op: (a: string, b: string) => string) =>
    `fn ${name}(lid: u32, v: ${ty}) -> ${ty} {
  ${arr}[lid] = v;
  workgroupBarrier();
  for (var s = WGR / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { ${arr}[lid] = ${op(`${arr}[lid]`, `${arr}[lid + s]`)}; }
    workgroupBarrier();
  }
  let r = workgroupUniformLoad(&${arr}[0]);
  return r;
}
`;
  return `var<workgroup> red: array<f32, WGR>;
var<workgroup> redu: array<u32, WGR>;
var<workgroup> flag: f32;
var<workgroup> o: array<vec4<f32>, D4>;      // a readout before the post-transform
var<workgroup> state: array<vec4<f32>, D4>;  // a query's state
// Tree reductions; the result comes back through workgroupUniformLoad, so decisions taken on it
// are uniform and later barriers stay legal.
${tree("reduce_sum", "f32", "red", (a, b) => `${a} + ${b}`)}${
    tree("reduce_max", "f32", "red", (a, b) => `max(${a}, ${b})`)
  }${tree("reduce_min", "f32", "red", (a, b) => `min(${a}, ${b})`)}${
    tree("reduce_sum_u", "u32", "redu", (a, b) => `${a} + ${b}`)
  }${tree("reduce_min_u", "u32", "redu", (a, b) => `min(${a}, ${b})`)}
// Exclusive prefix sum over the threads (Hillis-Steele): thread lid gets the sum of v below it.
fn exclusive_scan(lid: u32, v: u32) -> u32 {
  redu[lid] = v;
  workgroupBarrier();
  for (var off = 1u; off < WGR; off = off * 2u) {
    let below = select(0u, redu[max(lid, off) - off], lid >= off);
    workgroupBarrier();
    redu[lid] = redu[lid] + below;
    workgroupBarrier();
  }
  let inclusive = redu[lid];
  workgroupBarrier();
  return inclusive - v;
}

// Whether query q's retrieval already stopped (uniform over the workgroup).
fn query_done(lid: u32, q: u32) -> bool {
  if (lid == 0u) { flag = qinfo[q * QINFO + DONE]; }
  return workgroupUniformLoad(&flag) != 0.0;
}

// Contiguous block of a row owned by thread lid (so compaction keeps index order).
fn block_start(lid: u32, n: u32) -> u32 { return min(n, lid * ((n + WGR - 1u) / WGR)); }
fn block_end(lid: u32, n: u32) -> u32 { return min(n, (lid + 1u) * ((n + WGR - 1u) / WGR)); }

${postTransform(parts)}`;
}

function postTransform(parts: BlockedParts): string {
  const { post } = parts;
  const needsNorm = post.needs.includes("sq_norm");
  const needsMeanVar = post.needs.includes("mean_var");
  const aux = auxWgsl(parts.sim.queryAux);
  const relaxed = (parts.relax ?? 1) !== 1;
  return `// Real dimensions of chunk ch are 1, padding is 0 (padding must stay exactly 0).
fn valid_lanes(ch: u32) -> vec4<f32> {
  let d = vec4<u32>(4u * ch, 4u * ch + 1u, 4u * ch + 2u, 4u * ch + 3u);
  return select(vec4<f32>(0.0), vec4<f32>(1.0), d < vec4<u32>(shape.D));
}

// state <- post(o). ${post.math}. With flag 4 (clamp, src/extras.ts) the dims whose mask is 1
// (queries rows B + q) keep the given query's values (queries row q), so the change returned,
// |new state - old state|^2, counts the free dims only.
fn post_transform(lid: u32, q: u32${relaxed ? ", eta: f32" : ""}) -> f32 {
${
    needsNorm
      ? `  var part_sq = 0.0;
  for (var ch = lid; ch < D4; ch = ch + WGR) { part_sq = part_sq + dot(o[ch], o[ch]); }
  let sq_norm = reduce_sum(lid, part_sq);
`
      : ""
  }${
    needsMeanVar
      ? `  var part_sum = 0.0;
  for (var ch = lid; ch < D4; ch = ch + WGR) { part_sum = part_sum + dot(o[ch], vec4<f32>(1.0)); }
  let mean = reduce_sum(lid, part_sum) / f32(shape.D);
  var part_var = 0.0;
  for (var ch = lid; ch < D4; ch = ch + WGR) {
    let centred = (o[ch] - vec4<f32>(mean)) * valid_lanes(ch);
    part_var = part_var + dot(centred, centred);
  }
  let variance = reduce_sum(lid, part_var) / f32(shape.D);
`
      : ""
  }  var moved = 0.0;
  for (var ch = lid; ch < D4; ch = ch + WGR) {
    let v = o[ch];
    let valid = valid_lanes(ch);
    var next = ${post.chunk};${
    relaxed
      ? `
    // relax eta: the Euler step x <- x + eta (r - x) (1.0 from prepare_queries: no step there)
    if (eta != 1.0) { next = state[ch] + eta * (next - state[ch]); }`
      : ""
  }
    if ((shape.flags & 4u) != 0u) {
      let fixed = queries[(shape.B + q) * D4 + ch] > vec4<f32>(0.5);
      next = select(next, queries[q * D4 + ch], fixed);
    }
    let delta = next - state[ch];
    moved = moved + dot(delta, delta);
    state[ch] = next;
  }
  return reduce_sum(lid, moved);
}

// The similarity's number of the state (and, at load, of each memory row): ${aux.label}.
fn state_aux(lid: u32) -> f32 {
  var part = 0.0;
  for (var ch = lid; ch < D4; ch = ch + WGR) { part = part + ${aux.chunk("state[ch]")}; }
  let total = reduce_sum(lid, part);
  return ${aux.final("total")};
}
`;
}
