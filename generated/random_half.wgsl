// hopc retrieval kernels for model `random_half` (examples/masks.hop): query-blocked plan
//
//   scores  = beta * similarity(X, q)     beta = 4; s_i = x_i . q
//   mask    = keep memory i of query b iff hash3(7, b, i) < 0.5 * 2^32
//   weights = p = softmax(s)
//   q       = post(X^T weights)           q = z
//   steps   = 1
//
// plan (rule): three passes per step: scores into a row per query, the normalizer on that row, the readout of the support.
// A thread owns 8 queries (2 mat4x4 of states, column k = query k) and scores 1 row(s)
// of X per iteration, so each loaded element of X feeds the scores of all of them.
// Every invocation stays within 60000 loop iterations (llvmpipe silently ends every loop
// past 65535 per invocation; GPU watchdogs bound a dispatch the same way): M is split across
// invocations and the splits are merged exactly by the finish pass.

const D4: u32 = 16u;             // vec4 chunks of a state (D zero-padded to 4 * D4)
const WG: u32 = 64u;             // threads of a blocked pass's workgroup
const WGR: u32 = 32u;            // threads of a per-query pass's workgroup
const DS: u32 = 4u;             // vec4 chunks one readout thread accumulates
const BETA: f32 = 4.0;
const MASKED: f32 = -1.0e30;   // score of a memory the normalizer must not see (finite on purpose)
const NO_MAX: f32 = -3.0e38;   // below every score, even masked ones
const QINFO: u32 = 9u;          // floats per query in qinfo
// "No fallback memory": past every row index, and the bits of a finite f32 (Tint rejects a
// constant bitcast that makes a NaN, such as 0xffffffff).
const NO_FALLBACK: u32 = 0x7f7fffffu;
const AUX: u32 = 0u;
const DONE: u32 = 1u;
const STEPS: u32 = 2u;
const FALLBACK: u32 = 3u;
const LO: u32 = 4u;
const HI: u32 = 5u;
const SHIFT: u32 = 6u;
const SCALE: u32 = 4u;
const COUNT: u32 = 7u;
const OVERFLOW: u32 = 8u;

struct Shape {
  M: u32,
  D: u32,
  d4: u32,
  B: u32,
  q0: u32,
  nq: u32,
  row0: u32,
  rows: u32,
  split0: u32,
  splits: u32,
  rows_per_split: u32,
  qgroups: u32,
  flags: u32,
  dslices: u32,
  halvings: u32,
  chunk_splits: u32,
}
// M memories in all; row0/rows: this dispatch's chunk of them (one storage buffer); q0/nq: this
// slice of the B queries; splits: partial slots per query, split0 the chunk's first;
// flags: bit 0 write the weights, bit 1 the queries are raw (apply the input post-transform),
// bit 2 clamp (queries rows B.. hold the 0/1 masks).
@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> memories: array<vec4<f32>>;       // [rows, D4] this chunk
@group(0) @binding(2) var<storage, read> memory_aux: array<f32>;          // [rows] norms, when the similarity needs them
@group(0) @binding(3) var<storage, read> queries: array<vec4<f32>>;         // [B, D4] as given
@group(0) @binding(4) var<storage, read_write> states: array<vec4<f32>>;     // [B, D4] current states
@group(0) @binding(5) var<storage, read_write> scratch: array<f32>;         // [nq, M] score rows, then candidates (x, index)
@group(0) @binding(6) var<storage, read_write> partials: array<vec4<f32>>; // [splits, nq, D4 + 1] readout partials, (max, sum)
@group(0) @binding(7) var<storage, read_write> qinfo: array<f32>;             // [B, QINFO]
@group(0) @binding(8) var<storage, read_write> weights: array<f32>;         // [B, M] final weights when asked

// similarity: s_i = x_i . q
fn finish_score(acc: f32, mem_aux: f32, query_aux: f32) -> f32 { return acc; }
fn accumulate(x: vec4<f32>, q: vec4<f32>, xa: f32, qa: f32) -> f32 { return dot(x, q); }
// The similarity of one memory chunk x (aux xa) with the thread's 4 queries (columns of qs, aux qa).
fn accumulate4(x: vec4<f32>, qs: mat4x4<f32>, xa: f32, qa: vec4<f32>) -> vec4<f32> { return x * qs; }  // x . q_k for k = 0..3
fn scores4(t: vec4<f32>, mem_aux: f32, qaux: vec4<f32>) -> vec4<f32> {
  return BETA * vec4<f32>(finish_score(t.x, mem_aux, qaux.x), finish_score(t.y, mem_aux, qaux.y),
                          finish_score(t.z, mem_aux, qaux.z), finish_score(t.w, mem_aux, qaux.w));
}
// Counter-based RNG; bit-identical to src/parts/rng.ts (change both together).
fn lowbias32(x0: u32) -> u32 {
  var x = x0;
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}

fn hash3(seed: u32, a: u32, b: u32) -> u32 {
  var h = lowbias32(seed + 0x9e3779b9u);
  h = lowbias32(h ^ a);
  return lowbias32(h ^ b);
}

fn uniform01(seed: u32, a: u32, b: u32) -> f32 {
  return f32(hash3(seed, a, b) >> 8u) * 5.9604644775390625e-8;
}
// Random mask: keep memory i of query b iff hash3(7, b, i) < 0.5 * 2^32; a query whose hashes keep none keeps its fallback.
const MASK_SEED: u32 = 7u;
const KEEP_BELOW: u32 = 2147483648u;   // keep * 2^32
fn is_kept(query: u32, i: u32, fallback: u32) -> bool {
  return hash3(MASK_SEED, query, i) < KEEP_BELOW || i == fallback;
}
// normalizer: p = softmax(s)

var<workgroup> red: array<f32, WGR>;
var<workgroup> redu: array<u32, WGR>;
var<workgroup> flag: f32;
var<workgroup> o: array<vec4<f32>, D4>;      // a readout before the post-transform
var<workgroup> state: array<vec4<f32>, D4>;  // a query's state
// Tree reductions; the result comes back through workgroupUniformLoad, so decisions taken on it
// are uniform and later barriers stay legal.
fn reduce_sum(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WGR / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let r = workgroupUniformLoad(&red[0]);
  return r;
}
fn reduce_max(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WGR / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = workgroupUniformLoad(&red[0]);
  return r;
}
fn reduce_min(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WGR / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { red[lid] = min(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = workgroupUniformLoad(&red[0]);
  return r;
}
fn reduce_sum_u(lid: u32, v: u32) -> u32 {
  redu[lid] = v;
  workgroupBarrier();
  for (var s = WGR / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { redu[lid] = redu[lid] + redu[lid + s]; }
    workgroupBarrier();
  }
  let r = workgroupUniformLoad(&redu[0]);
  return r;
}
fn reduce_min_u(lid: u32, v: u32) -> u32 {
  redu[lid] = v;
  workgroupBarrier();
  for (var s = WGR / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { redu[lid] = min(redu[lid], redu[lid + s]); }
    workgroupBarrier();
  }
  let r = workgroupUniformLoad(&redu[0]);
  return r;
}

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

// Real dimensions of chunk ch are 1, padding is 0 (padding must stay exactly 0).
fn valid_lanes(ch: u32) -> vec4<f32> {
  let d = vec4<u32>(4u * ch, 4u * ch + 1u, 4u * ch + 2u, 4u * ch + 3u);
  return select(vec4<f32>(0.0), vec4<f32>(1.0), d < vec4<u32>(shape.D));
}

// state <- post(o). q = z. With flag 4 (clamp, src/extras.ts) the dims whose mask is 1
// (queries rows B + q) keep the given query's values (queries row q), so the change returned,
// |new state - old state|^2, counts the free dims only.
fn post_transform(lid: u32, q: u32) -> f32 {
  var moved = 0.0;
  for (var ch = lid; ch < D4; ch = ch + WGR) {
    let v = o[ch];
    let valid = valid_lanes(ch);
    var next = v;
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

// The similarity's number of the state (and, at load, of each memory row): none needed.
fn state_aux(lid: u32) -> f32 {
  var part = 0.0;
  for (var ch = lid; ch < D4; ch = ch + WGR) { part = part + dot(state[ch], state[ch]); }
  let total = reduce_sum(lid, part);
  return total;
}

var<private> qs: array<mat4x4<f32>, D4>;   // the thread's 4 states (column k = query k), when private
var<private> acc: array<mat4x4<f32>, D4>;  // the thread's 4 readout partials (column k = query k)


// Chunk d of query q's state (zero past the slice: those columns are never written).
fn state_chunk(q: u32, d: u32) -> vec4<f32> {
  if (q < shape.q0 + shape.nq) { return states[q * D4 + d]; }
  return vec4<f32>(0.0);
}
fn states4(q: u32, d: u32) -> mat4x4<f32> {
  return mat4x4<f32>(state_chunk(q, d), state_chunk(q + 1u, d), state_chunk(q + 2u, d), state_chunk(q + 3u, d));
}
// Which of the thread's 4 queries exist in this slice and still run (stopped ones keep their state).
fn live4(q: u32) -> vec4<bool> {
  var live = vec4<bool>(false);
  for (var k = 0u; k < 4u; k = k + 1u) {
    live[k] = q + k < shape.q0 + shape.nq && qinfo[(q + k) * QINFO + DONE] == 0.0;
  }
  return live;
}
fn qaux4(q: u32) -> vec4<f32> {
  var a = vec4<f32>(0.0);
  for (var k = 0u; k < 4u; k = k + 1u) {
    if (q + k < shape.q0 + shape.nq) { a[k] = qinfo[(q + k) * QINFO + AUX]; }
  }
  return a;
}
fn fallback4(q: u32) -> vec4<u32> {
  var f = vec4<u32>(0xffffffffu);
  for (var k = 0u; k < 4u; k = k + 1u) {
    if (q + k < shape.q0 + shape.nq) { f[k] = bitcast<u32>(qinfo[(q + k) * QINFO + FALLBACK]); }
  }
  return f;
}
fn mask_kept4(q: u32, i: u32, fb: vec4<u32>, live: vec4<bool>) -> vec4<bool> {
  return vec4<bool>(live.x && is_kept(q, i, fb.x), live.y && is_kept(q + 1u, i, fb.y),
                    live.z && is_kept(q + 2u, i, fb.z), live.w && is_kept(q + 3u, i, fb.w));
}

// Queries of this slice: state = q, its similarity number, counters reset.
@compute @workgroup_size(WGR)
fn prepare_queries(@builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>) {
  let local = wid.x + wid.y * grid.x;
  if (local >= shape.nq) { return; }  // uniform: the same for the whole workgroup
  let q = shape.q0 + local;
  for (var ch = lid; ch < D4; ch = ch + WGR) { o[ch] = queries[q * D4 + ch]; state[ch] = vec4<f32>(0.0); }
  workgroupBarrier();
  for (var ch = lid; ch < D4; ch = ch + WGR) { state[ch] = o[ch]; }
  workgroupBarrier();
  for (var ch = lid; ch < D4; ch = ch + WGR) { states[q * D4 + ch] = state[ch]; }
  let aux = state_aux(lid);
  if (lid == 0u) {
    qinfo[q * QINFO + AUX] = aux;
    qinfo[q * QINFO + DONE] = 0.0;
    qinfo[q * QINFO + STEPS] = 0.0;
    qinfo[q * QINFO + FALLBACK] = bitcast<f32>(NO_FALLBACK);
    qinfo[q * QINFO + OVERFLOW] = 0.0;
  }
}

// Memory rows at load (queries = raw rows, states = prepared rows, weights = their norms).
@compute @workgroup_size(WGR)
fn prepare_memories(@builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>) {
  let local = wid.x + wid.y * grid.x;
  if (local >= shape.nq) { return; }  // uniform: the same for the whole workgroup
  let q = shape.q0 + local;
  for (var ch = lid; ch < D4; ch = ch + WGR) { o[ch] = queries[q * D4 + ch]; state[ch] = vec4<f32>(0.0); }
  workgroupBarrier();
  for (var ch = lid; ch < D4; ch = ch + WGR) { state[ch] = o[ch]; }
  workgroupBarrier();
  for (var ch = lid; ch < D4; ch = ch + WGR) { states[q * D4 + ch] = state[ch]; }
  let aux = state_aux(lid);
  if (lid == 0u) { weights[q] = aux; }
}

@compute @workgroup_size(WGR)
fn choose_fallback(@builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>) {
  let local = wid.x + wid.y * grid.x;
  if (local >= shape.nq) { return; }  // uniform: the same for the whole workgroup
  let q = shape.q0 + local;
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

// Scores of rows [r0, r1) of this chunk for the thread's 8 queries (2 mat4x4 of
// states, read from storage once per chunk of D for all 1 rows), into their score rows.
@compute @workgroup_size(WG)
fn score_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>) {
  let g = gid.x + gid.y * grid.x * WG;
  if (g >= shape.qgroups * shape.chunk_splits) { return; }
  let group = g % shape.qgroups;
  let split = g / shape.qgroups;
  let q = shape.q0 + 8u * group;
  let live0 = live4(q + 0u);
  let qaux0 = qaux4(q + 0u);
  let fb0 = fallback4(q + 0u);
  let live1 = live4(q + 4u);
  let qaux1 = qaux4(q + 4u);
  let fb1 = fallback4(q + 4u);
  if (!(any(live0) || any(live1))) { return; }
  let r0 = split * shape.rows_per_split;
  let r1 = min(shape.rows, r0 + shape.rows_per_split);
  for (var i = r0; i < r1; i = i + 1u) {
    let i0 = min(i + 0u, r1 - 1u);
    let xa0 = 0.0;
    let kept0_0 = mask_kept4(q + 0u, shape.row0 + i0, fb0, live0) & vec4<bool>(i + 0u < r1);
    var t0_0 = vec4<f32>(0.0);
    let kept0_1 = mask_kept4(q + 4u, shape.row0 + i0, fb1, live1) & vec4<bool>(i + 0u < r1);
    var t0_1 = vec4<f32>(0.0);
    if (any(kept0_0) || any(kept0_1)) {
      for (var d = 0u; d < shape.d4; d = d + 1u) {
        let q0d = states4(q + 0u, d);
        let q1d = states4(q + 4u, d);
        let x0 = memories[i0 * D4 + d];
        t0_0 = t0_0 + accumulate4(x0, q0d, xa0, qaux0);
        t0_1 = t0_1 + accumulate4(x0, q1d, xa0, qaux1);
      }
    }
    let s0_0 = select(vec4<f32>(MASKED), scores4(t0_0, xa0, qaux0), kept0_0);
    for (var k = 0u; k < 4u; k = k + 1u) {
      if (live0[k] && i + 0u < r1) { scratch[(q + 0u + k - shape.q0) * shape.M + shape.row0 + i0] = s0_0[k]; }
    }
    let s0_1 = select(vec4<f32>(MASKED), scores4(t0_1, xa0, qaux1), kept0_1);
    for (var k = 0u; k < 4u; k = k + 1u) {
      if (live1[k] && i + 0u < r1) { scratch[(q + 4u + k - shape.q0) * shape.M + shape.row0 + i0] = s0_1[k]; }
    }
  }
}


// p_i = exp(s_i - shift) / sum with shift the row max; masked entries exactly 0. Every unmasked entry gets weight, so nothing is compacted.
@compute @workgroup_size(WGR)
fn row_weights(@builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>) {
  let local = wid.x + wid.y * grid.x;
  if (local >= shape.nq) { return; }  // uniform: the same for the whole workgroup
  let q = shape.q0 + local;
  if (query_done(lid, q)) { return; }
  let base = local * shape.M;
  var part_max = NO_MAX;
  for (var i = lid; i < shape.M; i = i + WGR) { part_max = max(part_max, scratch[base + i]); }
  let shift = reduce_max(lid, part_max);
  var part_w = 0.0;
  for (var i = lid; i < shape.M; i = i + WGR) {
    let s = scratch[base + i];
    let w = select(0.0, exp(s - shift), s > MASKED);
    scratch[base + i] = w;
    part_w = part_w + w;
  }
  let total = reduce_sum(lid, part_w);
  let write_weights = (shape.flags & 1u) != 0u;
  for (var i = lid; i < shape.M; i = i + WGR) {
    let p = scratch[base + i] / total;
    scratch[base + i] = p;
    if (write_weights) { weights[q * shape.M + i] = p; }
  }
}

// Weight of query q (in this slice) on memory row i of the chunk; 0 for a query past the slice.
fn weight_of(q: u32, i: u32) -> f32 {
  if (q < shape.q0 + shape.nq) { return scratch[(q - shape.q0) * shape.M + shape.row0 + i]; }
  return 0.0;
}
fn weights4(q: u32, i: u32) -> vec4<f32> {
  return vec4<f32>(weight_of(q, i), weight_of(q + 1u, i), weight_of(q + 2u, i), weight_of(q + 3u, i));
}
// Chunk d of memory row i, or 0 past the state (the slice's last chunks may not exist).
fn memory_chunk(i: u32, d: u32) -> vec4<f32> {
  if (d < shape.d4) { return memories[i * D4 + d]; }
  return vec4<f32>(0.0);
}

// Readout partials sum_i p_i x_i over rows [r0, r1) of this chunk, chunks d0 .. d0 + DS - 1 of D,
// for the thread's 8 queries, accumulated in registers (a mat4x4 per chunk and group of 4
// queries, column k = query k). Rows whose weights are all exactly 0 are never loaded.
@compute @workgroup_size(WG)
fn readout_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>) {
  let g = gid.x + gid.y * grid.x * WG;
  if (g >= shape.qgroups * shape.chunk_splits * shape.dslices) { return; }
  let group = g % shape.qgroups;
  let slice = (g / shape.qgroups) % shape.dslices;
  let split = g / (shape.qgroups * shape.dslices);
  let q = shape.q0 + 8u * group;
  if (q >= shape.q0 + shape.nq) { return; }
  let d0 = slice * DS;
  var a0_0 = mat4x4<f32>();
  var a0_1 = mat4x4<f32>();
  var a1_0 = mat4x4<f32>();
  var a1_1 = mat4x4<f32>();
  var a2_0 = mat4x4<f32>();
  var a2_1 = mat4x4<f32>();
  var a3_0 = mat4x4<f32>();
  var a3_1 = mat4x4<f32>();
  let r0 = split * shape.rows_per_split;
  let r1 = min(shape.rows, r0 + shape.rows_per_split);
  for (var i = r0; i < r1; i = i + 1u) {
    let i0 = min(i + 0u, r1 - 1u);
    let w0_0 = select(vec4<f32>(0.0), weights4(q + 0u, i0), i + 0u < r1);
    let w0_1 = select(vec4<f32>(0.0), weights4(q + 4u, i0), i + 0u < r1);
    if (!(any(w0_0 != vec4<f32>(0.0)) || any(w0_1 != vec4<f32>(0.0)))) { continue; }
    {
      let y0 = memory_chunk(i0, d0 + 0u);
      a0_0 = a0_0 + mat4x4<f32>(y0 * w0_0.x,
          y0 * w0_0.y,
          y0 * w0_0.z,
          y0 * w0_0.w);
      a0_1 = a0_1 + mat4x4<f32>(y0 * w0_1.x,
          y0 * w0_1.y,
          y0 * w0_1.z,
          y0 * w0_1.w);
    }
    {
      let y0 = memory_chunk(i0, d0 + 1u);
      a1_0 = a1_0 + mat4x4<f32>(y0 * w0_0.x,
          y0 * w0_0.y,
          y0 * w0_0.z,
          y0 * w0_0.w);
      a1_1 = a1_1 + mat4x4<f32>(y0 * w0_1.x,
          y0 * w0_1.y,
          y0 * w0_1.z,
          y0 * w0_1.w);
    }
    {
      let y0 = memory_chunk(i0, d0 + 2u);
      a2_0 = a2_0 + mat4x4<f32>(y0 * w0_0.x,
          y0 * w0_0.y,
          y0 * w0_0.z,
          y0 * w0_0.w);
      a2_1 = a2_1 + mat4x4<f32>(y0 * w0_1.x,
          y0 * w0_1.y,
          y0 * w0_1.z,
          y0 * w0_1.w);
    }
    {
      let y0 = memory_chunk(i0, d0 + 3u);
      a3_0 = a3_0 + mat4x4<f32>(y0 * w0_0.x,
          y0 * w0_0.y,
          y0 * w0_0.z,
          y0 * w0_0.w);
      a3_1 = a3_1 + mat4x4<f32>(y0 * w0_1.x,
          y0 * w0_1.y,
          y0 * w0_1.z,
          y0 * w0_1.w);
    }
  }
  let slot = shape.split0 + split;
  for (var k = 0u; k < 4u; k = k + 1u) {
    let qk = q + 0u + k;
    if (qk >= shape.q0 + shape.nq) { break; }
    let base = (slot * shape.nq + (qk - shape.q0)) * (D4 + 1u) + d0;
    if (d0 + 0u < shape.d4) { partials[base + 0u] = a0_0[k]; }
    if (d0 + 1u < shape.d4) { partials[base + 1u] = a1_0[k]; }
    if (d0 + 2u < shape.d4) { partials[base + 2u] = a2_0[k]; }
    if (d0 + 3u < shape.d4) { partials[base + 3u] = a3_0[k]; }
  }
  for (var k = 0u; k < 4u; k = k + 1u) {
    let qk = q + 4u + k;
    if (qk >= shape.q0 + shape.nq) { break; }
    let base = (slot * shape.nq + (qk - shape.q0)) * (D4 + 1u) + d0;
    if (d0 + 0u < shape.d4) { partials[base + 0u] = a0_1[k]; }
    if (d0 + 1u < shape.d4) { partials[base + 1u] = a1_1[k]; }
    if (d0 + 2u < shape.d4) { partials[base + 2u] = a2_1[k]; }
    if (d0 + 3u < shape.d4) { partials[base + 3u] = a3_1[k]; }
  }
}

// The new state of each query: o = merge of the split partials (their sum), q = post(o).
@compute @workgroup_size(WGR)
fn finish(@builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>) {
  let local = wid.x + wid.y * grid.x;
  if (local >= shape.nq) { return; }  // uniform: the same for the whole workgroup
  let q = shape.q0 + local;
  if (query_done(lid, q)) { return; }
  for (var ch = lid; ch < D4; ch = ch + WGR) { state[ch] = states[q * D4 + ch]; }
  for (var ch = lid; ch < D4; ch = ch + WGR) {
    var total = vec4<f32>(0.0);
    for (var s = 0u; s < shape.splits; s = s + 1u) { total = total + partials[(s * shape.nq + local) * (D4 + 1u) + ch]; }
    o[ch] = total;
  }
  workgroupBarrier();
  let moved = post_transform(lid, q);
  for (var ch = lid; ch < D4; ch = ch + WGR) { states[q * D4 + ch] = state[ch]; }
  let aux = state_aux(lid);
  if (lid == 0u) {
    qinfo[q * QINFO + AUX] = aux;
    qinfo[q * QINFO + STEPS] = qinfo[q * QINFO + STEPS] + 1.0;
    _ = moved;
  }
}
