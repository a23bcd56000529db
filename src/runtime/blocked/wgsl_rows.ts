// WGSL of the per-query passes (one workgroup of WGR threads per query): preparing queries and
// memories, the random mask's fallback, top-K selection, the normalizer on a stored score row
// (candidates, threshold search, weights), and the finish pass that merges the M splits and
// applies the post-transform. Self-contained (see ./types.ts).
import type { BlockedParts, BlockedPlan } from "./types.ts";
import { f32 } from "./wgsl_common.ts";

/** The query of this workgroup (uniform), or return. */
const WHICH = `  let local = wid.x + wid.y * grid.x;
  if (local >= shape.nq) { return; }  // uniform: the same for the whole workgroup
  let q = shape.q0 + local;`;

const ARGS = `@builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>`;

export function preparePasses(parts: BlockedParts): string {
  const t = parts.post.transformsInputs;
  const body = (aux: string) =>
    `  for (var ch = lid; ch < D4; ch = ch + WGR) { o[ch] = queries[q * D4 + ch]; state[ch] = vec4<f32>(0.0); }
  workgroupBarrier();
${
      t
        ? `  if ((shape.flags & 2u) != 0u) {
    _ = post_transform(lid, q${
          (parts.relax ?? 1) !== 1 ? ", 1.0" : ""
        });  // inputs are post-transformed like every state (MATH.md 2.2)
  } else {
    for (var ch = lid; ch < D4; ch = ch + WGR) { state[ch] = o[ch]; }
    workgroupBarrier();
  }`
        : `  for (var ch = lid; ch < D4; ch = ch + WGR) { state[ch] = o[ch]; }
  workgroupBarrier();`
    }
  for (var ch = lid; ch < D4; ch = ch + WGR) { states[q * D4 + ch] = state[ch]; }
  let aux = state_aux(lid);
${aux}`;
  return `// Queries of this slice: state = ${
    t ? "post(q) (raw queries) or q" : "q"
  }, its similarity number, counters reset.
@compute @workgroup_size(WGR)
fn prepare_queries(${ARGS}) {
${WHICH}
${
    body(`  if (lid == 0u) {
    qinfo[q * QINFO + AUX] = aux;
    qinfo[q * QINFO + DONE] = 0.0;
    qinfo[q * QINFO + STEPS] = 0.0;
    qinfo[q * QINFO + FALLBACK] = bitcast<f32>(NO_FALLBACK);
    qinfo[q * QINFO + OVERFLOW] = 0.0;
  }`)
  }
}

// Memory rows at load (queries = raw rows, states = prepared rows, weights = their norms).
@compute @workgroup_size(WGR)
fn prepare_memories(${ARGS}) {
${WHICH}
${body("  if (lid == 0u) { weights[q] = aux; }")}
}
`;
}

/** Random mask: the kept memory of a query whose hashes keep none (smallest hash, lowest index). */
export function fallbackPass(parts: BlockedParts): string {
  if (parts.mask.kind !== "random") return "";
  return `@compute @workgroup_size(WGR)
fn choose_fallback(${ARGS}) {
${WHICH}
  var kept = 0u;
  var best = 0xffffffffu;
  for (var i = lid; i < shape.M; i = i + WGR) {
    let h = hash3(MASK_SEED, q, i);
    kept = kept + select(0u, 1u, h < KEEP_BELOW);
    best = min(best, h);
  }
  let total = reduce_sum_u(lid, kept);
  let smallest = reduce_min_u(lid, best);
  var first = 0xffffffffu;
  for (var i = lid; i < shape.M; i = i + WGR) {
    if (hash3(MASK_SEED, q, i) == smallest) { first = min(first, i); }
  }
  let index = reduce_min_u(lid, first);
  if (lid == 0u && total == 0u) { qinfo[q * QINFO + FALLBACK] = bitcast<f32>(index); }
}
`;
}

/** Top-K by radix select on order-preserving keys: 4 histogram passes of 8 bits, then ties. */
export function selectPass(parts: BlockedParts): string {
  if (parts.mask.kind !== "topk") return "";
  return `var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> pick: vec2<u32>;   // (digit, entries above it)

fn order_key(s: f32) -> u32 {
  let b = bitcast<u32>(s);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

// Keep the K = ${parts.mask.k} largest scores of the row (ties: lowest index), mask the rest.
@compute @workgroup_size(WGR)
fn row_select(${ARGS}) {
${WHICH}
  if (query_done(lid, q)) { return; }
  let base = local * shape.M;
  let i0 = block_start(lid, shape.M);
  let i1 = block_end(lid, shape.M);
  var prefix = 0u;       // the K-th largest key, 8 bits at a time from the top
  var known = 0u;        // the bits of prefix found so far
  var need = ${parts.mask.k}u;  // entries still to take at or below the prefix
  for (var round = 0u; round < 4u; round = round + 1u) {
    let shift = 24u - 8u * round;
    for (var b = lid; b < 256u; b = b + WGR) { atomicStore(&hist[b], 0u); }
    workgroupBarrier();
    for (var i = i0; i < i1; i = i + 1u) {
      let key = order_key(scratch[base + i]);
      if ((key & known) == prefix) { atomicAdd(&hist[(key >> shift) & 255u], 1u); }
    }
    workgroupBarrier();
    if (lid == 0u) {
      var above = 0u;
      var digit = 0u;
      for (var b = 255i; b >= 0i; b = b - 1i) {
        let c = atomicLoad(&hist[u32(b)]);
        if (above + c >= need) { digit = u32(b); break; }
        above = above + c;
      }
      pick = vec2<u32>(digit, above);
    }
    let chosen = workgroupUniformLoad(&pick);
    prefix = prefix | (chosen.x << shift);
    known = known | (255u << shift);
    need = need - chosen.y;
  }
  // Entries equal to the K-th key: the first \`need\` of them by index stay.
  var equal = 0u;
  for (var i = i0; i < i1; i = i + 1u) { equal = equal + select(0u, 1u, order_key(scratch[base + i]) == prefix); }
  var seen = exclusive_scan(lid, equal);
  for (var i = i0; i < i1; i = i + 1u) {
    let key = order_key(scratch[base + i]);
    let tie = key == prefix;
    if (!(key > prefix || (tie && seen < need))) { scratch[base + i] = MASKED; }
    seen = seen + select(0u, 1u, tie);
  }
}
`;
}

/**
 * The exp maps on the stored row, in one pass (one dispatch per step fewer than a separate max
 * pass: at small shapes the fixed cost of a dispatch dominates): the max, then
 * p_i = exp(s_i - max) / sum, in place.
 */
function expPasses(parts: BlockedParts): string {
  const zero = parts.ent.kind === "exp" && parts.ent.zeroMemory;
  return `// p_i = exp(s_i - shift) / sum with shift the row max${
    zero ? " (at least 0: softmax1's no-op memory scores 0, and the sum includes it)" : ""
  }; masked entries exactly 0. Every unmasked entry gets weight, so nothing is compacted.
@compute @workgroup_size(WGR)
fn row_weights(${ARGS}) {
${WHICH}
  if (query_done(lid, q)) { return; }
  let base = local * shape.M;
  var part_max = NO_MAX;
  for (var i = lid; i < shape.M; i = i + WGR) { part_max = max(part_max, scratch[base + i]); }
  let shift = ${zero ? "max(reduce_max(lid, part_max), 0.0)" : "reduce_max(lid, part_max)"};
  var part_w = 0.0;
  for (var i = lid; i < shape.M; i = i + WGR) {
    let s = scratch[base + i];
    let w = select(0.0, exp(s - shift), s > MASKED);
    scratch[base + i] = w;
    part_w = part_w + w;
  }
  let total = reduce_sum(lid, part_w)${zero ? " + exp(-shift)" : ""};
  let write_weights = (shape.flags & 1u) != 0u;
  for (var i = lid; i < shape.M; i = i + WGR) {
    let p = scratch[base + i] / total;
    scratch[base + i] = p;
    if (write_weights) { weights[q * shape.M + i] = p; }
  }
}
`;
}

/**
 * A separation function on the stored row (scores without beta), in one pass: the row statistic,
 * the weights, their sum-normalization, then the row divided by a power of two `scale` so that
 * the readout sums weight * x in f32 without overflow however large the weights (they are
 * clamped to +-F32_MAX); the finish pass multiplies the scale back.
 */
function separationPass(parts: BlockedParts): string {
  if (parts.ent.kind !== "separation") throw new Error("unreachable: not a separation");
  const { stat, normalize } = parts.ent;
  const statistic = {
    none: "  let m = 0.0;\n",
    max: `  var part_m = NO_MAX;
  for (var i = lid; i < shape.M; i = i + WGR) { part_m = max(part_m, scratch[base + i]); }
  let m = reduce_max(lid, part_m);  // the largest score (masked entries are far below)
`,
    max_abs: `  var part_m = 0.0;
  for (var i = lid; i < shape.M; i = i + WGR) {
    let s = scratch[base + i];
    if (s > MASKED) { part_m = max(part_m, abs(s)); }
  }
  let m = reduce_max(lid, part_m);  // the largest |score|; 0: every weight is 0
`,
    argmax: `  var part_m = NO_MAX;
  for (var i = lid; i < shape.M; i = i + WGR) { part_m = max(part_m, scratch[base + i]); }
  let m = reduce_max(lid, part_m);
  var part_first = 0xffffffffu;     // the lowest index holding the max (ties: lowest index)
  for (var i = lid; i < shape.M; i = i + WGR) {
    let s = scratch[base + i];
    if (s > MASKED && s == m) { part_first = min(part_first, i); }
  }
  let pick = reduce_min_u(lid, part_first);  // 0xffffffff when every entry is masked
`,
  }[stat];
  const weight = stat === "argmax"
    ? "select(0.0, 1.0, i == pick)"
    : stat === "max_abs"
    ? "select(0.0, separate(s, m), s > MASKED && m > 0.0)"
    : "select(0.0, separate(s, m), s > MASKED)";
  return `// ${parts.ent.math}: masked entries exactly 0, every weight finite.
@compute @workgroup_size(WGR)
fn row_weights(${ARGS}) {
${WHICH}
  if (query_done(lid, q)) { return; }
  let base = local * shape.M;
${statistic}  var part_w = 0.0;
  var part_big = 0.0;
  var part_bad = 0.0;
  for (var i = lid; i < shape.M; i = i + WGR) {
    let s = scratch[base + i];
    let w = ${weight};
    scratch[base + i] = w;
    part_w = part_w + w;
    part_big = max(part_big, abs(w));
    // A score that is no finite float32 (x . q overflowed: Inf, or NaN from Inf - Inf) has no
    // weight here; the query is marked and the host reports it instead of an answer.
    part_bad = max(part_bad, select(0.0, 1.0, !(s <= MASKED) && !(abs(s) <= F32_MAX)));
  }
  if (reduce_max(lid, part_bad) > 0.0 && lid == 0u) { qinfo[q * QINFO + OVERFLOW] = 1.0; }
${
    normalize
      ? `  // Sum-normalized: the weights above are at most 1 in size, so p = w / total stays finite
  // unless the sum is 0 or below f32's smallest normal (signed weights that cancel): then every
  // weight is 0, as the reference does for a zero sum.
  let total = reduce_sum(lid, part_w);
  let usable = abs(total) >= 1.1754944e-38;
  let inv = select(0.0, 1.0 / total, usable);
  let big = reduce_max(lid, part_big) * abs(inv);
`
      : `  _ = part_w;
  let inv = 1.0;
  let big = reduce_max(lid, part_big);
`
  }  // scale: the power of two that brings the largest |p| to at most 2 (1 when it is already).
  let scale = select(1.0, exp2(min(ceil(log2(big)), 127.0)), big > 2.0);
  let write_weights = (shape.flags & 1u) != 0u;
  for (var i = lid; i < shape.M; i = i + WGR) {
    let p = scratch[base + i] * inv;
    scratch[base + i] = p / scale;
    if (write_weights) { weights[q * shape.M + i] = p; }
  }
  if (lid == 0u) { qinfo[q * QINFO + SCALE] = scale; }
}
`;
}

/** The threshold maps on the stored row: candidates, threshold search, weights. */
export function normalizerPasses(parts: BlockedParts): string {
  if (parts.ent.kind === "exp") return expPasses(parts);
  if (parts.ent.kind === "separation") return separationPass(parts);
  const ent = parts.ent;
  const needsMin = ent.bracket.includes("x_min");
  const candidate = "s > MASKED && shifted(s, m) > lo";
  return `// Candidates: entries above the bracket's low end (tau >= lo, so no other entry can get weight),
// compacted in index order into the query's candidate list (x, index); the row is cleared to
// become the weight row.
@compute @workgroup_size(WGR)
fn row_init(${ARGS}) {
${WHICH}
  if (query_done(lid, q)) { return; }
  let base = local * shape.M;
  let cand_x = shape.nq * shape.M + base;
  let cand_i = 2u * shape.nq * shape.M + base;
  let i0 = block_start(lid, shape.M);
  let i1 = block_end(lid, shape.M);
  var part_max = NO_MAX;
  var part_count = 0.0;
  for (var i = i0; i < i1; i = i + 1u) {
    let s = scratch[base + i];
    part_max = max(part_max, s);
    part_count = part_count + select(0.0, 1.0, s > MASKED);
  }
  let m = reduce_max(lid, part_max);
  let n = reduce_sum(lid, part_count);
${
    needsMin
      ? `  var part_min = 0.0;
  for (var i = i0; i < i1; i = i + 1u) {
    let s = scratch[base + i];
    if (s > MASKED) { part_min = min(part_min, shifted(s, m)); }
  }
  let x_min = reduce_min(lid, part_min);
`
      : ""
  }  var lo = 0.0;
  var hi = 0.0;
  {
    ${ent.bracket}
  }
  var mine = 0u;
  for (var i = i0; i < i1; i = i + 1u) {
    let s = scratch[base + i];
    mine = mine + select(0u, 1u, ${candidate});
  }
  var j = exclusive_scan(lid, mine);
  let total = reduce_sum_u(lid, mine);
  let clear_weights = (shape.flags & 1u) != 0u;
  for (var i = i0; i < i1; i = i + 1u) {
    let s = scratch[base + i];
    if (${candidate}) {
      scratch[cand_x + j] = shifted(s, m);
      scratch[cand_i + j] = bitcast<f32>(i);
      j = j + 1u;
    }
    scratch[base + i] = 0.0;
    if (clear_weights) { weights[q * shape.M + i] = 0.0; }
  }
  if (lid == 0u) {
    qinfo[q * QINFO + LO] = lo;
    qinfo[q * QINFO + HI] = hi;
    qinfo[q * QINFO + SHIFT] = m;
    qinfo[q * QINFO + COUNT] = bitcast<f32>(total);
  }
}

// shape.halvings halvings of [lo, hi] over the candidates: f(tau) = sum summand(x, tau) - ${ent.target}
// decreases in tau (MATH.md 3.4-3.7). Further dispatches continue from the stored bracket.
@compute @workgroup_size(WGR)
fn row_bisect(${ARGS}) {
${WHICH}
  if (query_done(lid, q)) { return; }
  let cand_x = shape.nq * shape.M + local * shape.M;
  let count = bitcast<u32>(qinfo[q * QINFO + COUNT]);
  var lo = qinfo[q * QINFO + LO];
  var hi = qinfo[q * QINFO + HI];
  for (var it = 0u; it < shape.halvings; it = it + 1u) {
    let tau = 0.5 * (lo + hi);
    var part_f = 0.0;
    for (var j = lid; j < count; j = j + WGR) { part_f = part_f + summand(scratch[cand_x + j], tau); }
    if (reduce_sum(lid, part_f) >= ${ent.target}) { lo = tau; } else { hi = tau; }
  }
  if (lid == 0u) {
    qinfo[q * QINFO + LO] = lo;
    qinfo[q * QINFO + HI] = hi;
  }
}

// Weights of the candidates at tau = lo (where the sum is at least the target: never empty),
// written into the weight row${ent.normalize ? " after normalizing" : ""}.
@compute @workgroup_size(WGR)
fn row_weights(${ARGS}) {
${WHICH}
  if (query_done(lid, q)) { return; }
  let base = local * shape.M;
  let cand_x = shape.nq * shape.M + base;
  let cand_i = 2u * shape.nq * shape.M + base;
  let count = bitcast<u32>(qinfo[q * QINFO + COUNT]);
  let tau = qinfo[q * QINFO + LO];
  var part_w = 0.0;
  for (var j = lid; j < count; j = j + WGR) { part_w = part_w + weight(scratch[cand_x + j], tau); }
  let total = reduce_sum(lid, part_w);
  let write_weights = (shape.flags & 1u) != 0u;
  for (var j = lid; j < count; j = j + WGR) {
    let w = weight(scratch[cand_x + j], tau);
    let p = ${ent.normalize ? "w / total" : "w"};
    let i = bitcast<u32>(scratch[cand_i + j]);
    scratch[base + i] = p;
    if (write_weights) { weights[q * shape.M + i] = p; }
  }
}
`;
}

/** Merge the M splits of each query, post-transform, stop test; fused weights at the end. */
export function finishPass(parts: BlockedParts, plan: BlockedPlan): string {
  const fused = plan.schedule === "fused";
  const zero = parts.ent.kind === "exp" && parts.ent.zeroMemory;
  const until = parts.tol !== null;
  const separation = parts.ent.kind === "separation";
  const rescale = separation && parts.post.needs.length > 0;
  return `// The new state of each query: o = merge of the split partials${
    fused ? " (rescaled to the common max, as in flash decoding)" : " (their sum)"
  }, q = post(o).
@compute @workgroup_size(WGR)
fn finish(${ARGS}) {
${WHICH}
  if (query_done(lid, q)) { return; }
  for (var ch = lid; ch < D4; ch = ch + WGR) { state[ch] = states[q * D4 + ch]; }
${
    fused
      ? `  var m = NO_MAX;
  for (var s = 0u; s < shape.splits; s = s + 1u) {
    m = max(m, partials[(s * shape.nq + local) * (D4 + 1u) + D4].x);
  }
${zero ? "  m = max(m, 0.0);  // softmax1: the zero-score no-op memory\n" : ""}  var sum = ${
        zero ? "exp(-m)" : "0.0"
      };
  for (var s = 0u; s < shape.splits; s = s + 1u) {
    let stats = partials[(s * shape.nq + local) * (D4 + 1u) + D4];
    sum = sum + exp(stats.x - m) * stats.y;
  }
  for (var ch = lid; ch < D4; ch = ch + WGR) {
    var total = vec4<f32>(0.0);
    for (var s = 0u; s < shape.splits; s = s + 1u) {
      let base = (s * shape.nq + local) * (D4 + 1u);
      total = total + exp(partials[base + D4].x - m) * partials[base + ch];
    }
    o[ch] = total / sum;
  }`
      : separation
      ? `  // The weights were divided by scale (a power of two): multiply it back, clamping to
  // +-F32_MAX, so the readout is finite for every finite input (the reference clamps the same).
  let scale = qinfo[q * QINFO + SCALE];
  let limit = vec4<f32>(F32_MAX / scale);
  for (var ch = lid; ch < D4; ch = ch + WGR) {
    var total = vec4<f32>(0.0);
    for (var s = 0u; s < shape.splits; s = s + 1u) { total = total + partials[(s * shape.nq + local) * (D4 + 1u) + ch]; }
    o[ch] = select(total * scale, sign(total) * F32_MAX, abs(total) > limit);
  }${
        rescale
          ? `
  workgroupBarrier();
  // ${parts.post.math} does not change when o is scaled (at these sizes its epsilon is far below
  // the variance), so a readout past 2^50 is scaled down by a power of two first: the post's
  // sums of squares would overflow f32 from about 2^63.
  var part_big = 0.0;
  for (var ch = lid; ch < D4; ch = ch + WGR) {
    let a = abs(o[ch]);
    part_big = max(part_big, max(max(a.x, a.y), max(a.z, a.w)));
  }
  let big = reduce_max(lid, part_big);
  if (big > 1.0e15) {
    let down = exp2(-ceil(log2(big)) + 50.0);
    for (var ch = lid; ch < D4; ch = ch + WGR) { o[ch] = o[ch] * down; }
  }`
          : ""
      }`
      : `  for (var ch = lid; ch < D4; ch = ch + WGR) {
    var total = vec4<f32>(0.0);
    for (var s = 0u; s < shape.splits; s = s + 1u) { total = total + partials[(s * shape.nq + local) * (D4 + 1u) + ch]; }
    o[ch] = total;
  }`
  }
  workgroupBarrier();
  let moved = post_transform(lid, q${(parts.relax ?? 1) !== 1 ? `, ${f32(parts.relax!)}` : ""});
  for (var ch = lid; ch < D4; ch = ch + WGR) { states[q * D4 + ch] = state[ch]; }
  let aux = state_aux(lid);
  if (lid == 0u) {
    qinfo[q * QINFO + AUX] = aux;
    qinfo[q * QINFO + STEPS] = qinfo[q * QINFO + STEPS] + 1.0;
${
    fused
      ? "    qinfo[q * QINFO + LO] = m;     // kept for the weights\n    qinfo[q * QINFO + HI] = sum;\n"
      : ""
  }${
    until ? "    if (sqrt(moved) < TOL) { qinfo[q * QINFO + DONE] = 1.0; }\n" : "    _ = moved;\n"
  }  }
}
${
    fused
      ? `
// The fused pass stored raw scores as weights in each query's last step: p = exp(s - max) / sum.
@compute @workgroup_size(WGR)
fn fused_weights(${ARGS}) {
${WHICH}
  let m = qinfo[q * QINFO + LO];
  let sum = qinfo[q * QINFO + HI];
  for (var i = lid; i < shape.M; i = i + WGR) {
    let s = weights[q * shape.M + i];
    weights[q * shape.M + i] = select(exp(s - m) / sum, 0.0, s <= MASKED);
  }
}
`
      : ""
  }`;
}
