// hopc retrieval kernel for model `elu_features` (examples/features.hop)
//
//   features retrieval (MATH.md 5.2), map = elu, F = D (no random matrix)
//   q       = post( KV^T phi(q) / (ksum^T phi(q) + 1e-6) )     q = z
//   steps   = 1
//
// plan: the memory buffer holds KV (D rows), and memory_aux holds ksum (F) and the
// keys' shift c_k, all built once per load on the host. A step costs O(F D) per query and never
// reads the memories themselves. One workgroup per query runs every step.
// Positive features are stabilized exactly: phi(q) is divided by e^{c_q} with c_q its largest
// exponent, and the 1e-6 is rescaled by e^{-(c_k + c_q)} to match (see features.ts).
override WG: u32 = 64u;                // threads per workgroup
override D4: u32 = 1u;                 // vec4 chunks per state
override CH: u32 = 1u;                 // chunks one row group covers in the readout
override GROUPS: u32 = 64u;            // row groups that split the readout's rows
const BETA: f32 = 1.0;
const MAX_STEPS: u32 = 1u;
const ROW_EXTRA: u32 = 0u;
const SQRT_BETA: f32 = 1.0;
const LOG_EPS: f32 = -13.815510749816895;   // log(1e-6), the denominator's epsilon
const RELU_FLOOR: f32 = 0.0010000000474974513;

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
@group(0) @binding(2) var<storage, read> memory_aux: array<f32>;      // [F + 1] ksum, then the keys' shift c_k (from the host)
@group(0) @binding(3) var<storage, read> queries: array<vec4<f32>>;     // [B, D4]
@group(0) @binding(4) var<storage, read_write> states: array<vec4<f32>>; // [B, D4]
@group(0) @binding(5) var<storage, read_write> weights: array<f32>;     // [B, M] when write_weights
@group(0) @binding(6) var<storage, read_write> scratch: array<f32>;     // [B, F] each query's features phi(q)
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

// One step of kernel retrieval: phi(q) into the scratch row, then KV^T phi / (ksum^T phi + eps).
fn retrieval_step(lid: u32) {
  sync_scratch();   // the previous step's readout has read every row before they are rewritten
  let F = shape.D;
  // phi_d = elu(sqrt(beta) q_d) + 1.
  var part_den = 0.0;
  for (var f = lid; f < F; f = f + WG) {
    let t = SQRT_BETA * state_entry(f);
    let phi = select(exp(t), t + 1.0, t > 0.0);
    scratch[slot(f)] = phi;
    part_den = part_den + phi * memory_aux[f];
  }
  let eps = exp(LOG_EPS);
  let denominator = reduce_sum(lid, part_den) + eps;
  sync_scratch();
  let row_group = lid / CH;
  clear_partials(lid);
  if (row_group < GROUPS) {
    for (var f = row_group; f < F; f = f + GROUPS) { add_memory_row(lid, scratch[slot(f)], 0u + f); }
  }
  combine_partials(lid, 0.0, denominator);
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
