// hopc retrieval kernel for model `continuous_gaussian_trapezoid` (examples/continuous.hop)
//
//   continuous memory (MATH.md 4): 6 gaussian basis functions of width 0.2, coefficients B (N x D)
//   r       = B q;  s_j = beta * similarity(x(t_j), q) at t_j = j / 199   s_i = x_i . q
//   density = p = [(alpha - 1) s - tau]_+^(1/(alpha - 1)), sum p = 1, alpha = 2   (over t, trapezoid rule)
//   q       = post(B^T E_p[psi])                                  q = z
//   steps   = 1
//
// plan: one workgroup per query runs every step. r and the points' masses w_j p_j live in the
// query's scratch row (N + P floats); psi_n(t_j) is computed where it is needed, only for the
// basis functions within 9 widths of t_j (the rest are < 2.6e-18).
// The coefficients B are fitted once per load on the host (float64 ridge regression).
override WG: u32 = 64u;                // threads per workgroup
override D4: u32 = 1u;                 // vec4 chunks per state
override CH: u32 = 1u;                 // chunks one row group covers in the readout
override GROUPS: u32 = 64u;            // row groups that split the readout's rows
const BETA: f32 = 2.0;
const MAX_STEPS: u32 = 1u;
const N: u32 = 6u;               // basis functions (rows of the memory buffer)
const P: u32 = 200u;               // sample points t_j = j / (P - 1)
const ROW_EXTRA: u32 = P;        // scratch row: r or E[psi] (N), then the points' masses (P)
const H: f32 = 0.005025125574320555;    // spacing of the points
const WIDTH: f32 = 0.20000000298023224;
const REACH: f32 = 1.7999999523162842;   // 9 widths

struct Shape {
  M: u32,              // rows of the memory buffer
  D: u32,              // true dimension (<= 4 * D4)
  B: u32,              // queries
  write_weights: u32,  // 1: store the final weights of every query
  first_query: u32,    // index in the batch of this dispatch's first query
  rows_in_scratch: u32, // queries this dispatch covers (its slice of scratch)
  raw_queries: u32,    // 1: queries still need the input post-transform (0 when resuming a trace)
}
@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> memories: array<vec4<f32>>;   // [M, D4]
@group(0) @binding(2) var<storage, read> memory_aux: array<f32>;      // (unused)
@group(0) @binding(3) var<storage, read> queries: array<vec4<f32>>;     // [B, D4]
@group(0) @binding(4) var<storage, read_write> states: array<vec4<f32>>; // [B, D4]
@group(0) @binding(5) var<storage, read_write> weights: array<f32>;     // [B, N] when write_weights
@group(0) @binding(6) var<storage, read_write> scratch: array<f32>;     // [B, N + P] each query's r = B q (then E[psi]) and its points' masses
@group(0) @binding(7) var<storage, read_write> steps_run: array<u32>;  // [B]

var<workgroup> state: array<vec4<f32>, D4>;         // the query's current state q
var<workgroup> o: array<vec4<f32>, D4>;             // readout X^T p before the post-transform
var<workgroup> acc: array<vec4<f32>, GROUPS * D4>;  // readout partials per (row group, chunk)
var<workgroup> red: array<f32, WG>;                 // reductions
var<private> query: u32;

fn reduce_sum(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let r = workgroupUniformLoad(&red[0]);
  workgroupBarrier();
  return r;
}
fn reduce_max(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = workgroupUniformLoad(&red[0]);
  workgroupBarrier();
  return r;
}
fn reduce_min(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) { red[lid] = min(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = workgroupUniformLoad(&red[0]);
  workgroupBarrier();
  return r;
}

// Real dimensions of chunk ch are 1, padding is 0 (padding must stay exactly 0).
fn valid_lanes(ch: u32) -> vec4<f32> {
  let d = vec4<u32>(4u * ch, 4u * ch + 1u, 4u * ch + 2u, 4u * ch + 3u);
  return select(vec4<f32>(0.0), vec4<f32>(1.0), d < vec4<u32>(shape.D));
}

// state <- post(o). q = z. Returns |new state - old state|^2.
fn post_transform(lid: u32) -> f32 {
  var moved = 0.0;
  for (var ch = lid; ch < D4; ch = ch + WG) {
    let v = o[ch];
    let valid = valid_lanes(ch);
    let next = v;
    state[ch] = next;
  }
  workgroupBarrier();
  return moved;
}


// Readout X^T p: thread lid accumulates chunks (lid % CH) + k CH of row group lid / CH into
// its own slots of acc; row groups split the rows, so small D still keeps every thread busy.
fn clear_partials(lid: u32) {
  let row_group = lid / CH;
  if (row_group < GROUPS) {
    for (var ch = lid % CH; ch < D4; ch = ch + CH) { acc[row_group * D4 + ch] = vec4<f32>(0.0); }
  }
}


// Memory i, read from storage, added with a weight.
fn add_memory_row(lid: u32, weight: f32, i: u32) {
  let row_group = lid / CH;
  for (var ch = lid % CH; ch < D4; ch = ch + CH) {
    acc[row_group * D4 + ch] = acc[row_group * D4 + ch] + weight * memories[i * D4 + ch];
  }
}

// o = sum over row groups of scale(group) * partials, divided by `divide`.
fn combine_partials(lid: u32, final_max: f32, divide: f32) {
  workgroupBarrier();
  for (var ch = lid; ch < D4; ch = ch + WG) {
    var total = vec4<f32>(0.0);
    for (var g = 0u; g < GROUPS; g = g + 1u) {
      let scale = 1.0;
      total = total + scale * acc[g * D4 + ch];
    }
    o[ch] = total / divide;
  }
  workgroupBarrier();
}

// Entry j of this query's row in the scratch buffer.
fn slot(j: u32) -> u32 {
  return (query - shape.first_query) * (shape.M + ROW_EXTRA) + j;
}

fn sync_scratch() {
  storageBarrier();
  workgroupBarrier();
}

// (row . q) for memory row i: the state is in workgroup memory.
fn project(i: u32) -> f32 {
  var total = 0.0;
  for (var ch = 0u; ch < D4; ch = ch + 1u) { total = total + dot(memories[i * D4 + ch], state[ch]); }
  return total;
}

// The state's entry d (a scalar out of its vec4 chunks).
fn state_entry(d: u32) -> f32 {
  return state[d / 4u][d % 4u];
}

// psi_n(t_j): a gaussian bump of peak 1 centred at (n + 1/2) / N.
fn basis(n: u32, j: u32) -> f32 {
  let d = (f32(j) * H - (f32(n) + 0.5) / f32(N)) / WIDTH;
  return exp(-0.5 * d * d);
}
// The basis functions that reach point j: n in [first, last].
fn first_basis(j: u32) -> u32 { return u32(max(ceil((f32(j) * H - REACH) * f32(N) - 0.5), 0.0)); }
fn last_basis(j: u32) -> u32 { return min(N - 1u, u32(max(floor((f32(j) * H + REACH) * f32(N) - 0.5), 0.0))); }
// The points that basis function n reaches: j in [first, last].
fn first_point(n: u32) -> u32 { return u32(max(ceil(((f32(n) + 0.5) / f32(N) - REACH) / H), 0.0)); }
fn last_point(n: u32) -> u32 { return min(P - 1u, u32(max(floor(((f32(n) + 0.5) / f32(N) + REACH) / H), 0.0))); }
// Trapezoid weight of point j.
fn trapezoid(j: u32) -> f32 { return select(H, 0.5 * H, j == 0u || j == P - 1u); }
// p = [(alpha - 1) s - tau]_+^(1/(alpha - 1)), sum p = 1, alpha = 2
fn shifted(s: f32, m: f32) -> f32 { return 1.0 * (s - m); }
fn summand(x: f32, tau: f32) -> f32 { return max(x - tau, 0.0); }
fn weight(x: f32, tau: f32) -> f32 { return max(x - tau, 0.0); }

// One step: r = B q, scores at the points, density, E[psi], readout B^T E[psi].
fn retrieval_step(lid: u32) {
  sync_scratch();   // the previous step's readout has read every row before they are rewritten
  let query_aux = 0.0;
  for (var n = lid; n < N; n = n + WG) { scratch[slot(n)] = project(n); }
  sync_scratch();
  // Scores at the points: the signal x(t_j) = B^T psi(t_j), so x(t_j) . q = psi(t_j) . r.
  var part_max = -3.0e38;
  for (var j = lid; j < P; j = j + WG) {
    var acc_j = 0.0;
    for (var n = first_basis(j); n <= last_basis(j); n = n + 1u) { acc_j = acc_j + basis(n, j) * scratch[slot(n)]; }
    let acc = acc_j;
    let s = BETA * (acc);
    scratch[slot(N + j)] = s;
    part_max = max(part_max, s);
  }
  let m = reduce_max(lid, part_max);
  sync_scratch();
  // Continuous entmax density (MATH.md 4.2 item 3): p_j = [x_j - tau]_+^(1/(alpha-1)) with
  // x_j = (alpha - 1)(s_j - m), tau by bisection on sum_j w_j p_j = 1; keep the mass w_j p_j.
  for (var j = lid; j < P; j = j + WG) {
    scratch[slot(N + j)] = shifted(scratch[slot(N + j)], m);
  }
  sync_scratch();
  var lo = -398.0;   // -(1 / w_min)^(alpha - 1), w_min = H / 2
  var hi = 0.0;
  for (var it = 0u; it < 40u; it = it + 1u) {
    let tau = 0.5 * (lo + hi);
    var part_f = 0.0;
    for (var j = lid; j < P; j = j + WG) { part_f = part_f + trapezoid(j) * summand(scratch[slot(N + j)], tau); }
    if (reduce_sum(lid, part_f) >= 1.0) { lo = tau; } else { hi = tau; }
  }
  let tau = lo;   // mass >= 1 here, so the support is never empty
  var part_total = 0.0;
  for (var j = lid; j < P; j = j + WG) {
    let p = weight(scratch[slot(N + j)], tau);
    scratch[slot(N + j)] = p;
    part_total = part_total + trapezoid(j) * p;
  }
  let total = reduce_sum(lid, part_total);
  for (var j = lid; j < P; j = j + WG) { scratch[slot(N + j)] = trapezoid(j) * scratch[slot(N + j)] / total; }
  sync_scratch();
  // E_p[psi_n] = sum_j w_j p_j psi_n(t_j), over the points basis function n reaches.
  for (var n = lid; n < N; n = n + WG) {
    var e = 0.0;
    for (var j = first_point(n); j <= last_point(n); j = j + 1u) { e = e + scratch[slot(N + j)] * basis(n, j); }
    scratch[slot(n)] = e;
    if (shape.write_weights == 1u) { weights[query * N + n] = e; }
  }
  sync_scratch();
  let row_group = lid / CH;
  clear_partials(lid);
  if (row_group < GROUPS) {
    for (var n = row_group; n < N; n = n + GROUPS) {
      let e = scratch[slot(n)];
      if (e != 0.0) { add_memory_row(lid, e, n); }   // exact zeros of a sparse density are skipped
    }
  }
  combine_partials(lid, 0.0, 1.0);
}

// Retrieval: workgroup (wid.x, wid.y) runs every step of one query.
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32,
        @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) grid: vec3<u32>) {
  // Tested on a let, not on the private `query`: uniformity analysis (Tint) takes every read of a
  // private variable as non-uniform, which would make each later barrier non-uniform.
  let index = shape.first_query + wid.y * grid.x + wid.x;
  if (index >= shape.B || index - shape.first_query >= shape.rows_in_scratch) { return; }  // uniform
  query = index;
  for (var ch = lid; ch < D4; ch = ch + WG) { o[ch] = queries[query * D4 + ch]; }
  workgroupBarrier();
  for (var ch = lid; ch < D4; ch = ch + WG) { state[ch] = o[ch]; }
  workgroupBarrier();
  var steps_taken = 0u;
  for (var t = 0u; t < MAX_STEPS; t = t + 1u) {
    retrieval_step(lid);
    _ = post_transform(lid);
    steps_taken = t + 1u;
  }
  for (var ch = lid; ch < D4; ch = ch + WG) { states[query * D4 + ch] = state[ch]; }
  if (lid == 0u) { steps_run[query] = steps_taken; }
}

// Load-time preparation of the memories, run once per load with queries = raw memories:
// states[i] = x_i.
@compute @workgroup_size(WG)
fn prepare(@builtin(local_invocation_index) lid: u32,
           @builtin(workgroup_id) wid: vec3<u32>,
           @builtin(num_workgroups) grid: vec3<u32>) {
  let index = wid.y * grid.x + wid.x;
  if (index >= shape.B) { return; }  // uniform (see main)
  query = index;
  for (var ch = lid; ch < D4; ch = ch + WG) { o[ch] = queries[query * D4 + ch]; }
  workgroupBarrier();
  for (var ch = lid; ch < D4; ch = ch + WG) { state[ch] = o[ch]; }
  workgroupBarrier();
  var part_sq = 0.0;
  for (var ch = lid; ch < D4; ch = ch + WG) {
    states[query * D4 + ch] = state[ch];
    part_sq = part_sq + dot(state[ch], state[ch]);
  }
  let sq = reduce_sum(lid, part_sq);
  if (lid == 0u) { weights[query] = sq; }
}
