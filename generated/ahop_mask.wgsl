// hopc retrieval kernels for model `ahop_mask` (examples/learned.hop): query-blocked plan
//
//   scores  = beta * similarity(X, q)     beta = 8; s_i = a sum_r u_(r) Omega_r + b sum_r v_(r) Omega_r, sorted per pair in workgroup memory
//             by the footprint pass: one workgroup per (query, memory row) sorts the pair's
//             u_d = -(x_d - q_d)^2 and v_d = x_d q_d in workgroup memory (bitonic), then
//             s = a sum_r u_(r) Omega_r + b sum_r v_(r) Omega_r, Omega the suffix sums of the
//             footprint weights w (host aux, from the fit at load)
//   weights = p = softmax(s)
//   q       = post(X^T weights)           q = z
//   steps   = 1
//
// plan (rule): three passes per step: scores into a row per query, the normalizer on that row, the readout of the support.
// A thread owns 8 queries (2 mat4x4 of states, column k = query k) and scores 8 row(s)
// of X per iteration, so each loaded element of X feeds the scores of all of them.
// Every invocation stays within 60000 loop iterations (llvmpipe silently ends every loop
// past 65535 per invocation; GPU watchdogs bound a dispatch the same way): M is split across
// invocations and the splits are merged exactly by the finish pass.

const D4: u32 = 16u;             // vec4 chunks of a state (D zero-padded to 4 * D4)
const WG: u32 = 64u;             // threads of a blocked pass's workgroup
const WGR: u32 = 32u;            // threads of a per-query pass's workgroup
const DS: u32 = 4u;             // vec4 chunks one readout thread accumulates
const BETA: f32 = 8.0;
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

// similarity: s_i = a sum_r u_(r) Omega_r + b sum_r v_(r) Omega_r, sorted per pair in workgroup memory
fn finish_score(acc: f32, mem_aux: f32, query_aux: f32) -> f32 { return acc; }
fn accumulate(x: vec4<f32>, q: vec4<f32>, xa: f32, qa: f32) -> f32 { return 0.0; }
// The similarity of one memory chunk x (aux xa) with the thread's 4 queries (columns of qs, aux qa).
fn accumulate4(x: vec4<f32>, qs: mat4x4<f32>, xa: f32, qa: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(accumulate(x, qs[0], xa, qa.x), accumulate(x, qs[1], xa, qa.y),
                   accumulate(x, qs[2], xa, qa.z), accumulate(x, qs[3], xa, qa.w));
}
fn scores4(t: vec4<f32>, mem_aux: f32, qaux: vec4<f32>) -> vec4<f32> {
  return BETA * vec4<f32>(finish_score(t.x, mem_aux, qaux.x), finish_score(t.y, mem_aux, qaux.y),
                          finish_score(t.z, mem_aux, qaux.z), finish_score(t.w, mem_aux, qaux.w));
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

// A-Hop footprint scores (see src/runtime/blocked/wgsl_footprint.ts): one workgroup per
// (query of the slice, row of the chunk); beta * s into the query's score row.
const FP_P: u32 = 64u;     // D padded to a power of two
const FP_WG: u32 = 32u;    // threads of a footprint workgroup
const FP_LOWEST: f32 = -3.4028234663852886e38; // padding: sorts last, meets Omega = 0
var<workgroup> fp_distance: array<f32, 64>;  // -(x_d - q_d)^2, sorted descending in place
var<workgroup> fp_product: array<f32, 64>;   // x_d q_d, sorted descending in place
var<workgroup> fp_partial_d: array<f32, 32>;
var<workgroup> fp_partial_p: array<f32, 32>;

fn fp_entry(v: vec4<f32>, c: u32) -> f32 {
  return v[c];
}

@compute @workgroup_size(32)
fn footprint_rows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let pair = wg.x + wg.y * grid.x;
  if (pair >= shape.rows * shape.nq) { return; }   // uniform: the grid's last workgroups
  let i = pair % shape.rows;                        // the row of this chunk
  let q = shape.q0 + pair / shape.rows;             // the query
  // A stopped query keeps its score row; its workgroup still meets every barrier.
  let live = qinfo[q * QINFO + DONE] == 0.0;
  let dims = shape.D;
  for (var d = lid; d < FP_P; d += FP_WG) {
    var u = FP_LOWEST;
    var v = FP_LOWEST;
    if (live && d < dims) {
      let m = fp_entry(memories[i * D4 + d / 4u], d % 4u);
      let x = fp_entry(states[q * D4 + d / 4u], d % 4u);
      u = -(m - x) * (m - x);
      v = m * x;
    }
    fp_distance[d] = u;
    fp_product[d] = v;
  }
  workgroupBarrier();
  // Bitonic sort, descending: stage (k, j) compares i with i + j for the P / 2 pairs.
  for (var k = 2u; k <= FP_P; k <<= 1u) {
    for (var j = k >> 1u; j > 0u; j >>= 1u) {
      for (var t = lid; t < FP_P / 2u; t += FP_WG) {
        let lo = ((t / j) * 2u * j) + (t % j);
        let hi = lo + j;
        let descending = (lo & k) == 0u;
        let du = fp_distance[lo];
        let dv = fp_distance[hi];
        if ((du < dv) == descending) {
          fp_distance[lo] = dv;
          fp_distance[hi] = du;
        }
        let pu = fp_product[lo];
        let pv = fp_product[hi];
        if ((pu < pv) == descending) {
          fp_product[lo] = pv;
          fp_product[hi] = pu;
        }
      }
      workgroupBarrier();
    }
  }
  // sum_r u_(r) Omega_r and sum_r v_(r) Omega_r over this thread's ranks, then a tree.
  var sd = 0.0;
  var sp = 0.0;
  for (var r = lid; r < dims; r += FP_WG) {
    let omega = memory_aux[r];
    sd += fp_distance[r] * omega;
    sp += fp_product[r] * omega;
  }
  fp_partial_d[lid] = sd;
  fp_partial_p[lid] = sp;
  workgroupBarrier();
  for (var half = FP_WG >> 1u; half > 0u; half >>= 1u) {
    if (lid < half) {
      fp_partial_d[lid] += fp_partial_d[lid + half];
      fp_partial_p[lid] += fp_partial_p[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u && live) {
    let s = memory_aux[dims] * fp_partial_d[0] + memory_aux[dims + 1u] * fp_partial_p[0];
    scratch[(q - shape.q0) * shape.M + shape.row0 + i] = BETA * s;
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
  for (var i = r0; i < r1; i = i + 8u) {
    let i0 = min(i + 0u, r1 - 1u);
    let w0_0 = select(vec4<f32>(0.0), weights4(q + 0u, i0), i + 0u < r1);
    let w0_1 = select(vec4<f32>(0.0), weights4(q + 4u, i0), i + 0u < r1);
    let i1 = min(i + 1u, r1 - 1u);
    let w1_0 = select(vec4<f32>(0.0), weights4(q + 0u, i1), i + 1u < r1);
    let w1_1 = select(vec4<f32>(0.0), weights4(q + 4u, i1), i + 1u < r1);
    let i2 = min(i + 2u, r1 - 1u);
    let w2_0 = select(vec4<f32>(0.0), weights4(q + 0u, i2), i + 2u < r1);
    let w2_1 = select(vec4<f32>(0.0), weights4(q + 4u, i2), i + 2u < r1);
    let i3 = min(i + 3u, r1 - 1u);
    let w3_0 = select(vec4<f32>(0.0), weights4(q + 0u, i3), i + 3u < r1);
    let w3_1 = select(vec4<f32>(0.0), weights4(q + 4u, i3), i + 3u < r1);
    let i4 = min(i + 4u, r1 - 1u);
    let w4_0 = select(vec4<f32>(0.0), weights4(q + 0u, i4), i + 4u < r1);
    let w4_1 = select(vec4<f32>(0.0), weights4(q + 4u, i4), i + 4u < r1);
    let i5 = min(i + 5u, r1 - 1u);
    let w5_0 = select(vec4<f32>(0.0), weights4(q + 0u, i5), i + 5u < r1);
    let w5_1 = select(vec4<f32>(0.0), weights4(q + 4u, i5), i + 5u < r1);
    let i6 = min(i + 6u, r1 - 1u);
    let w6_0 = select(vec4<f32>(0.0), weights4(q + 0u, i6), i + 6u < r1);
    let w6_1 = select(vec4<f32>(0.0), weights4(q + 4u, i6), i + 6u < r1);
    let i7 = min(i + 7u, r1 - 1u);
    let w7_0 = select(vec4<f32>(0.0), weights4(q + 0u, i7), i + 7u < r1);
    let w7_1 = select(vec4<f32>(0.0), weights4(q + 4u, i7), i + 7u < r1);
    if (!(any(w0_0 != vec4<f32>(0.0)) || any(w0_1 != vec4<f32>(0.0)) || any(w1_0 != vec4<f32>(0.0)) || any(w1_1 != vec4<f32>(0.0)) || any(w2_0 != vec4<f32>(0.0)) || any(w2_1 != vec4<f32>(0.0)) || any(w3_0 != vec4<f32>(0.0)) || any(w3_1 != vec4<f32>(0.0)) || any(w4_0 != vec4<f32>(0.0)) || any(w4_1 != vec4<f32>(0.0)) || any(w5_0 != vec4<f32>(0.0)) || any(w5_1 != vec4<f32>(0.0)) || any(w6_0 != vec4<f32>(0.0)) || any(w6_1 != vec4<f32>(0.0)) || any(w7_0 != vec4<f32>(0.0)) || any(w7_1 != vec4<f32>(0.0)))) { continue; }
    {
      let y0 = memory_chunk(i0, d0 + 0u);
      let y1 = memory_chunk(i1, d0 + 0u);
      let y2 = memory_chunk(i2, d0 + 0u);
      let y3 = memory_chunk(i3, d0 + 0u);
      let y4 = memory_chunk(i4, d0 + 0u);
      let y5 = memory_chunk(i5, d0 + 0u);
      let y6 = memory_chunk(i6, d0 + 0u);
      let y7 = memory_chunk(i7, d0 + 0u);
      a0_0 = a0_0 + mat4x4<f32>(y0 * w0_0.x + y1 * w1_0.x + y2 * w2_0.x + y3 * w3_0.x + y4 * w4_0.x + y5 * w5_0.x + y6 * w6_0.x + y7 * w7_0.x,
          y0 * w0_0.y + y1 * w1_0.y + y2 * w2_0.y + y3 * w3_0.y + y4 * w4_0.y + y5 * w5_0.y + y6 * w6_0.y + y7 * w7_0.y,
          y0 * w0_0.z + y1 * w1_0.z + y2 * w2_0.z + y3 * w3_0.z + y4 * w4_0.z + y5 * w5_0.z + y6 * w6_0.z + y7 * w7_0.z,
          y0 * w0_0.w + y1 * w1_0.w + y2 * w2_0.w + y3 * w3_0.w + y4 * w4_0.w + y5 * w5_0.w + y6 * w6_0.w + y7 * w7_0.w);
      a0_1 = a0_1 + mat4x4<f32>(y0 * w0_1.x + y1 * w1_1.x + y2 * w2_1.x + y3 * w3_1.x + y4 * w4_1.x + y5 * w5_1.x + y6 * w6_1.x + y7 * w7_1.x,
          y0 * w0_1.y + y1 * w1_1.y + y2 * w2_1.y + y3 * w3_1.y + y4 * w4_1.y + y5 * w5_1.y + y6 * w6_1.y + y7 * w7_1.y,
          y0 * w0_1.z + y1 * w1_1.z + y2 * w2_1.z + y3 * w3_1.z + y4 * w4_1.z + y5 * w5_1.z + y6 * w6_1.z + y7 * w7_1.z,
          y0 * w0_1.w + y1 * w1_1.w + y2 * w2_1.w + y3 * w3_1.w + y4 * w4_1.w + y5 * w5_1.w + y6 * w6_1.w + y7 * w7_1.w);
    }
    {
      let y0 = memory_chunk(i0, d0 + 1u);
      let y1 = memory_chunk(i1, d0 + 1u);
      let y2 = memory_chunk(i2, d0 + 1u);
      let y3 = memory_chunk(i3, d0 + 1u);
      let y4 = memory_chunk(i4, d0 + 1u);
      let y5 = memory_chunk(i5, d0 + 1u);
      let y6 = memory_chunk(i6, d0 + 1u);
      let y7 = memory_chunk(i7, d0 + 1u);
      a1_0 = a1_0 + mat4x4<f32>(y0 * w0_0.x + y1 * w1_0.x + y2 * w2_0.x + y3 * w3_0.x + y4 * w4_0.x + y5 * w5_0.x + y6 * w6_0.x + y7 * w7_0.x,
          y0 * w0_0.y + y1 * w1_0.y + y2 * w2_0.y + y3 * w3_0.y + y4 * w4_0.y + y5 * w5_0.y + y6 * w6_0.y + y7 * w7_0.y,
          y0 * w0_0.z + y1 * w1_0.z + y2 * w2_0.z + y3 * w3_0.z + y4 * w4_0.z + y5 * w5_0.z + y6 * w6_0.z + y7 * w7_0.z,
          y0 * w0_0.w + y1 * w1_0.w + y2 * w2_0.w + y3 * w3_0.w + y4 * w4_0.w + y5 * w5_0.w + y6 * w6_0.w + y7 * w7_0.w);
      a1_1 = a1_1 + mat4x4<f32>(y0 * w0_1.x + y1 * w1_1.x + y2 * w2_1.x + y3 * w3_1.x + y4 * w4_1.x + y5 * w5_1.x + y6 * w6_1.x + y7 * w7_1.x,
          y0 * w0_1.y + y1 * w1_1.y + y2 * w2_1.y + y3 * w3_1.y + y4 * w4_1.y + y5 * w5_1.y + y6 * w6_1.y + y7 * w7_1.y,
          y0 * w0_1.z + y1 * w1_1.z + y2 * w2_1.z + y3 * w3_1.z + y4 * w4_1.z + y5 * w5_1.z + y6 * w6_1.z + y7 * w7_1.z,
          y0 * w0_1.w + y1 * w1_1.w + y2 * w2_1.w + y3 * w3_1.w + y4 * w4_1.w + y5 * w5_1.w + y6 * w6_1.w + y7 * w7_1.w);
    }
    {
      let y0 = memory_chunk(i0, d0 + 2u);
      let y1 = memory_chunk(i1, d0 + 2u);
      let y2 = memory_chunk(i2, d0 + 2u);
      let y3 = memory_chunk(i3, d0 + 2u);
      let y4 = memory_chunk(i4, d0 + 2u);
      let y5 = memory_chunk(i5, d0 + 2u);
      let y6 = memory_chunk(i6, d0 + 2u);
      let y7 = memory_chunk(i7, d0 + 2u);
      a2_0 = a2_0 + mat4x4<f32>(y0 * w0_0.x + y1 * w1_0.x + y2 * w2_0.x + y3 * w3_0.x + y4 * w4_0.x + y5 * w5_0.x + y6 * w6_0.x + y7 * w7_0.x,
          y0 * w0_0.y + y1 * w1_0.y + y2 * w2_0.y + y3 * w3_0.y + y4 * w4_0.y + y5 * w5_0.y + y6 * w6_0.y + y7 * w7_0.y,
          y0 * w0_0.z + y1 * w1_0.z + y2 * w2_0.z + y3 * w3_0.z + y4 * w4_0.z + y5 * w5_0.z + y6 * w6_0.z + y7 * w7_0.z,
          y0 * w0_0.w + y1 * w1_0.w + y2 * w2_0.w + y3 * w3_0.w + y4 * w4_0.w + y5 * w5_0.w + y6 * w6_0.w + y7 * w7_0.w);
      a2_1 = a2_1 + mat4x4<f32>(y0 * w0_1.x + y1 * w1_1.x + y2 * w2_1.x + y3 * w3_1.x + y4 * w4_1.x + y5 * w5_1.x + y6 * w6_1.x + y7 * w7_1.x,
          y0 * w0_1.y + y1 * w1_1.y + y2 * w2_1.y + y3 * w3_1.y + y4 * w4_1.y + y5 * w5_1.y + y6 * w6_1.y + y7 * w7_1.y,
          y0 * w0_1.z + y1 * w1_1.z + y2 * w2_1.z + y3 * w3_1.z + y4 * w4_1.z + y5 * w5_1.z + y6 * w6_1.z + y7 * w7_1.z,
          y0 * w0_1.w + y1 * w1_1.w + y2 * w2_1.w + y3 * w3_1.w + y4 * w4_1.w + y5 * w5_1.w + y6 * w6_1.w + y7 * w7_1.w);
    }
    {
      let y0 = memory_chunk(i0, d0 + 3u);
      let y1 = memory_chunk(i1, d0 + 3u);
      let y2 = memory_chunk(i2, d0 + 3u);
      let y3 = memory_chunk(i3, d0 + 3u);
      let y4 = memory_chunk(i4, d0 + 3u);
      let y5 = memory_chunk(i5, d0 + 3u);
      let y6 = memory_chunk(i6, d0 + 3u);
      let y7 = memory_chunk(i7, d0 + 3u);
      a3_0 = a3_0 + mat4x4<f32>(y0 * w0_0.x + y1 * w1_0.x + y2 * w2_0.x + y3 * w3_0.x + y4 * w4_0.x + y5 * w5_0.x + y6 * w6_0.x + y7 * w7_0.x,
          y0 * w0_0.y + y1 * w1_0.y + y2 * w2_0.y + y3 * w3_0.y + y4 * w4_0.y + y5 * w5_0.y + y6 * w6_0.y + y7 * w7_0.y,
          y0 * w0_0.z + y1 * w1_0.z + y2 * w2_0.z + y3 * w3_0.z + y4 * w4_0.z + y5 * w5_0.z + y6 * w6_0.z + y7 * w7_0.z,
          y0 * w0_0.w + y1 * w1_0.w + y2 * w2_0.w + y3 * w3_0.w + y4 * w4_0.w + y5 * w5_0.w + y6 * w6_0.w + y7 * w7_0.w);
      a3_1 = a3_1 + mat4x4<f32>(y0 * w0_1.x + y1 * w1_1.x + y2 * w2_1.x + y3 * w3_1.x + y4 * w4_1.x + y5 * w5_1.x + y6 * w6_1.x + y7 * w7_1.x,
          y0 * w0_1.y + y1 * w1_1.y + y2 * w2_1.y + y3 * w3_1.y + y4 * w4_1.y + y5 * w5_1.y + y6 * w6_1.y + y7 * w7_1.y,
          y0 * w0_1.z + y1 * w1_1.z + y2 * w2_1.z + y3 * w3_1.z + y4 * w4_1.z + y5 * w5_1.z + y6 * w6_1.z + y7 * w7_1.z,
          y0 * w0_1.w + y1 * w1_1.w + y2 * w2_1.w + y3 * w3_1.w + y4 * w4_1.w + y5 * w5_1.w + y6 * w6_1.w + y7 * w7_1.w);
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
