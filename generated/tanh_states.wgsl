// hopc retrieval kernel for model `tanh_states` (examples/posts.hop)
//
//   scores  = beta * similarity(X, q)     beta = 0.5; s_i = x_i . q
//   weights = p = softmax(s)
//   q       = post(X^T weights)           q = tanh(beta z), beta = 0.5
//   steps   = 2
//
// plan: online softmax: one pass over X tiles per step computes scores and accumulates the readout
// One workgroup per query runs every step: no host round trip, no global synchronization.
// Shapes arrive as override constants (planned at load by hopc_runtime.ts planShapes) and
// uniforms (M, D, B), so one text serves every shape. Memories and queries are vec4<f32> rows
// zero-padded to 4 * D4.

override WG: u32 = 64u;                // threads per workgroup
override D4: u32 = 1u;                 // vec4 chunks per state
override TILE: u32 = 1u;               // rows of X staged in workgroup memory at a time
override LANES: u32 = 64u;             // threads that share one row's dot product
override CH: u32 = 1u;                 // chunks one row group covers in the readout
override GROUPS: u32 = 64u;            // row groups that split the readout's rows
const BETA: f32 = 0.5;
const MAX_STEPS: u32 = 2u;
const MASKED: f32 = -1.0e30;   // score of a memory the normalizer must not see (finite on purpose)
const NO_MAX: f32 = -3.0e38;   // below every score, even masked ones

struct Shape {
  M: u32,              // memories
  D: u32,              // true dimension (<= 4 * D4)
  B: u32,              // queries
  write_weights: u32,  // 1: store the final weights of every query
  first_query: u32,    // index in the batch of this dispatch's first query
  rows_in_scratch: u32, // queries this dispatch covers (its slice of scratch)
  raw_queries: u32,    // 1: queries still need the input post-transform (0 when resuming a trace)
}
@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> memories: array<vec4<f32>>;   // [M, D4]
@group(0) @binding(2) var<storage, read> memory_aux: array<f32>;      // [M] (unused)
@group(0) @binding(3) var<storage, read> queries: array<vec4<f32>>;     // [B, D4]
@group(0) @binding(4) var<storage, read_write> states: array<vec4<f32>>; // [B, D4]
@group(0) @binding(5) var<storage, read_write> weights: array<f32>;     // [B, M] when write_weights
@group(0) @binding(6) var<storage, read_write> scratch: array<f32>;     // (unused)
@group(0) @binding(7) var<storage, read_write> steps_run: array<u32>;  // [B]

var<workgroup> state: array<vec4<f32>, D4>;         // the query's current state q
var<workgroup> o: array<vec4<f32>, D4>;             // readout X^T p before the post-transform
var<workgroup> acc: array<vec4<f32>, GROUPS * D4>;  // readout partials per (row group, chunk)
var<workgroup> xt: array<vec4<f32>, TILE * D4>;     // TILE rows of X
var<workgroup> ts: array<f32, TILE>;                // scores of the tile's rows
var<workgroup> ps: array<f32, WG>;                  // partial dot products
var<workgroup> red: array<f32, WG>;                 // reductions
var<workgroup> group_max: array<f32, GROUPS>;       // running max of each row group
var<workgroup> group_sum: array<f32, GROUPS>;       // running sum of each row group
var<workgroup> softmax_max_sum: vec2<f32>;          // (max, sum) of the step
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

// state <- post(o). q = tanh(beta z), beta = 0.5. Returns |new state - old state|^2.
fn post_transform(lid: u32) -> f32 {
  var moved = 0.0;
  for (var ch = lid; ch < D4; ch = ch + WG) {
    let v = o[ch];
    let valid = valid_lanes(ch);
    let next = select(tanh((0.5 * v)), (0.5 * v) * (1.0 + (0.5 * v) * (0.5 * v) * (-0.33333334 + (0.5 * v) * (0.5 * v) * (0.13333334 - 0.053968254 * (0.5 * v) * (0.5 * v)))), abs((0.5 * v)) < vec4<f32>(0.125));
    state[ch] = next;
  }
  workgroupBarrier();
  return moved;
}

// Stage rows [tile0, tile0 + rows) of X and score them; ts[r] = beta * s(x_{tile0 + r}, q).
fn score_tile(lid: u32, tile0: u32, rows: u32, query_aux: f32) {
  for (var e = lid; e < rows * D4; e = e + WG) {
    xt[e] = memories[tile0 * D4 + e];
  }
  workgroupBarrier();
  let r = lid / LANES;
  let lane = lid % LANES;
  var partial = 0.0;
  if (r < rows) {
    for (var ch = lane; ch < D4; ch = ch + LANES) {
      let x = xt[r * D4 + ch];
      let q = state[ch];
      partial = partial + dot(x, q);
    }
  }
  ps[lid] = partial;
  workgroupBarrier();
  if (lid < rows) {
    var total = 0.0;
    for (var l = 0u; l < LANES; l = l + 1u) { total = total + ps[lid * LANES + l]; }
    let acc = total;
    ts[lid] = BETA * (acc);
  }
  workgroupBarrier();
}

// Readout X^T p: thread lid accumulates chunks (lid % CH) + k CH of row group lid / CH into
// its own slots of acc; row groups split the rows, so small D still keeps every thread busy.
fn clear_partials(lid: u32) {
  let row_group = lid / CH;
  if (row_group < GROUPS) {
    for (var ch = lid % CH; ch < D4; ch = ch + CH) { acc[row_group * D4 + ch] = vec4<f32>(0.0); }
  }
}

fn scale_partials(lid: u32, factor: f32) {
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
      let scale = exp(group_max[g] - final_max);
      total = total + scale * acc[g * D4 + ch];
    }
    o[ch] = total / divide;
  }
  workgroupBarrier();
}

// One step of online softmax retrieval (MATH.md 3.1): each row group keeps a running max and
// sum over its rows and rescales its readout partials whenever the max grows; the groups are then
// rescaled to the common max (as in split-K flash decoding).
fn retrieval_step(lid: u32) {
  let query_aux = 0.0;
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
  for (var g = 0u; g < GROUPS; g = g + 1u) { final_max = max(final_max, group_max[g]); }
  var final_sum = 0.0;
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
