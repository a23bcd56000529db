// WGSL of the blocked passes over X: the fused online step (scores, running max/sum and readout
// in one pass), the score pass and the readout pass of the three-pass schedule. A thread owns 4
// queries (a mat4x4 of state chunks, column k = query k) and `rowBlock` rows per iteration, so one
// loaded element of X feeds the 4 queries' scores (and, fused, their readouts), and each loaded
// state chunk feeds `rowBlock` rows. The row block is written out (registers, not arrays).
// Self-contained (see ./types.ts).
import type { BlockedParts, BlockedPlan } from "./types.ts";

const range = (n: number) => [...Array(n).keys()];

/** Declarations and helpers of the blocked passes. */
export function blockedHelpers(parts: BlockedParts, plan: BlockedPlan): string {
  const rows = range(plan.rowBlock);
  const random = parts.mask.kind === "random";
  return `var<private> qs: array<mat4x4<f32>, D4>;   // the thread's 4 states (column k = query k), when private
var<private> acc: array<mat4x4<f32>, D4>;  // the thread's 4 readout partials (column k = query k)
var<private> racc: array<mat4x4<f32>, DS>; // the same for one slice of D (three-pass readout)
${
    plan.schedule === "fused"
      ? rows.map((r) =>
        `var<private> x${r}: array<vec4<f32>, D4>;   // row ${r} of the block, kept for the readout`
      )
        .join("\n")
      : ""
  }

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
${
    random
      ? `fn fallback4(q: u32) -> vec4<u32> {
  var f = vec4<u32>(0xffffffffu);
  for (var k = 0u; k < 4u; k = k + 1u) {
    if (q + k < shape.q0 + shape.nq) { f[k] = bitcast<u32>(qinfo[(q + k) * QINFO + FALLBACK]); }
  }
  return f;
}
fn kept4(q: u32, i: u32, fb: vec4<u32>, live: vec4<bool>) -> vec4<bool> {
  return vec4<bool>(live.x && is_kept(q, i, fb.x), live.y && is_kept(q + 1u, i, fb.y),
                    live.z && is_kept(q + 2u, i, fb.z), live.w && is_kept(q + 3u, i, fb.w));
}
`
      : ""
  }`;
}

/** The invocation's (query group, split) from its global index; returns early past the grid. */
function invocation(extra = ""): string {
  return `  let g = gid.x + gid.y * grid.x * WG;
  if (g >= shape.qgroups * shape.chunk_splits${extra}) { return; }
  let group = g % shape.qgroups;`;
}

/** The fused online-softmax step over one split of one chunk of X. */
export function fusedPass(parts: BlockedParts, plan: BlockedPlan): string {
  const rows = range(plan.rowBlock);
  const random = parts.mask.kind === "random";
  const zeroScores = parts.ent.kind === "exp" && parts.ent.zeroMemory;
  const memAux = parts.sim.memoryAux !== "none";
  const comps = ["x", "y", "z", "w"];
  return `// One step of online softmax over rows [r0, r1) of this chunk for 4 queries: each row's 4
// scores come from one load of the row, the running max/sum rescale the readout partials, and the
// same loaded row is added to the 4 readouts. Partials go to slot split0 + split.
@compute @workgroup_size(WG)
fn fused_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>) {
${invocation()}
  let split = g / shape.qgroups;
  let q = shape.q0 + 4u * group;     // the thread's first query
  let live = live4(q);
  if (!any(live)) { return; }
  let qaux = qaux4(q);
${random ? "  let fb = fallback4(q);\n" : ""}  let write_weights = (shape.flags & 1u) != 0u;
  for (var d = 0u; d < shape.d4; d = d + 1u) {
    qs[d] = states4(q, d);
    acc[d] = mat4x4<f32>();
  }
  var run_max = vec4<f32>(NO_MAX);
  var run_sum = vec4<f32>(0.0);
  let r0 = split * shape.rows_per_split;
  let r1 = min(shape.rows, r0 + shape.rows_per_split);
  for (var i = r0; i < r1; i = i + ${plan.rowBlock}u) {
${
    rows.map((r) =>
      `    let i${r} = min(i + ${r}u, r1 - 1u);
    let kept${r} = ${
        random ? `kept4(q, shape.row0 + i${r}, fb, live)` : "live"
      } & vec4<bool>(i + ${r}u < r1);
    var t${r} = vec4<f32>(0.0);`
    ).join("\n")
  }
    // Rows no query of the thread keeps are never loaded.
    let loaded = ${rows.map((r) => `any(kept${r})`).join(" || ")};
    for (var d = 0u; d < select(0u, shape.d4, loaded); d = d + 1u) {
      let qd = qs[d];
${
    rows.map((r) =>
      random
        ? `      if (any(kept${r})) { let x = memories[i${r} * D4 + d]; x${r}[d] = x; t${r} = t${r} + accumulate4(x, qd); }`
        : `      let x${r}_d = memories[i${r} * D4 + d];
      x${r}[d] = x${r}_d;
      t${r} = t${r} + accumulate4(x${r}_d, qd);`
    ).join("\n")
  }
    }
${
    rows.map((r) =>
      `    let s${r} = select(vec4<f32>(MASKED), scores4(t${r}, ${
        memAux ? `memory_aux[i${r}]` : "0.0"
      }, qaux), kept${r});`
    ).join("\n")
  }
    let m = max(run_max, ${
    rows.map((r) => `select(vec4<f32>(NO_MAX), s${r}, kept${r})`).reduce((a, b) =>
      `max(${a}, ${b})`
    )
  });
    let rescale = exp(run_max - m);
${rows.map((r) => `    let e${r} = select(vec4<f32>(0.0), exp(s${r} - m), kept${r});`).join("\n")}
    run_sum = run_sum * rescale + ${rows.map((r) => `e${r}`).join(" + ")};
    run_max = m;
    if (write_weights) {
${
    rows.map((r) =>
      `      for (var k = 0u; k < 4u; k = k + 1u) {
        if (live[k] && i + ${r}u < r1) { weights[(q + k) * shape.M + shape.row0 + i${r}] = s${r}[k]; }
      }`
    ).join("\n")
  }
    }
    for (var d = 0u; d < select(0u, shape.d4, loaded); d = d + 1u) {
      let a = acc[d];
${rows.map((r) => `      let y${r} = x${r}[d];`).join("\n")}
      acc[d] = mat4x4<f32>(${
    comps.map((c, k) =>
      `a[${k}] * rescale.${c} + ` + rows.map((r) => `y${r} * e${r}.${c}`).join(" + ")
    ).join(",\n                           ")
  });
    }
  }
  // Partials of this split: readout columns, then (running max, running sum).${
    zeroScores ? " softmax1's zero memory is added once, in the finish pass." : ""
  }
  let slot = shape.split0 + split;
  for (var k = 0u; k < 4u; k = k + 1u) {
    if (q + k >= shape.q0 + shape.nq) { break; }
    let base = (slot * shape.nq + (q + k - shape.q0)) * (D4 + 1u);
    for (var d = 0u; d < shape.d4; d = d + 1u) { partials[base + d] = acc[d][k]; }
    partials[base + D4] = vec4<f32>(run_max[k], run_sum[k], 0.0, 0.0);
  }
}
`;
}

/** Score pass of the three-pass schedule: beta * s(x_i, q) into each query's row of scratch. */
export function scorePass(parts: BlockedParts, plan: BlockedPlan): string {
  const rows = range(plan.rowBlock);
  const random = parts.mask.kind === "random";
  const memAux = parts.sim.memoryAux !== "none";
  return `// Scores of rows [r0, r1) of this chunk for the thread's 4 queries, into their score rows.
@compute @workgroup_size(WG)
fn score_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>) {
${invocation()}
  let split = g / shape.qgroups;
  let q = shape.q0 + 4u * group;
  let live = live4(q);
  if (!any(live)) { return; }
  let qaux = qaux4(q);
${random ? "  let fb = fallback4(q);\n" : ""}${
    plan.queriesPrivate
      ? "  for (var d = 0u; d < shape.d4; d = d + 1u) { qs[d] = states4(q, d); }\n"
      : ""
  }  let r0 = split * shape.rows_per_split;
  let r1 = min(shape.rows, r0 + shape.rows_per_split);
  for (var i = r0; i < r1; i = i + ${plan.rowBlock}u) {
${
    rows.map((r) =>
      `    let i${r} = min(i + ${r}u, r1 - 1u);
    let kept${r} = ${
        random ? `kept4(q, shape.row0 + i${r}, fb, live)` : "live"
      } & vec4<bool>(i + ${r}u < r1);
    var t${r} = vec4<f32>(0.0);`
    ).join("\n")
  }
    if (${rows.map((r) => `any(kept${r})`).join(" || ")}) {
      for (var d = 0u; d < shape.d4; d = d + 1u) {
        let qd = ${plan.queriesPrivate ? "qs[d]" : "states4(q, d)"};
${rows.map((r) => `        t${r} = t${r} + accumulate4(memories[i${r} * D4 + d], qd);`).join("\n")}
      }
    }
${
    rows.map((r) =>
      `    let s${r} = select(vec4<f32>(MASKED), scores4(t${r}, ${
        memAux ? `memory_aux[i${r}]` : "0.0"
      }, qaux), kept${r});
    for (var k = 0u; k < 4u; k = k + 1u) {
      if (live[k] && i + ${r}u < r1) { scratch[(q + k - shape.q0) * shape.M + shape.row0 + i${r}] = s${r}[k]; }
    }`
    ).join("\n")
  }
  }
}
`;
}

/** Readout pass of the three-pass schedule: X^T p over the support, one slice of D per thread. */
export function readoutPass(plan: BlockedPlan): string {
  const rows = range(plan.rowBlock);
  const comps = ["x", "y", "z", "w"];
  return `// Weight of query q (in this slice) on memory row i of the chunk; 0 for a query past the slice.
fn weight_of(q: u32, i: u32) -> f32 {
  if (q < shape.q0 + shape.nq) { return scratch[(q - shape.q0) * shape.M + shape.row0 + i]; }
  return 0.0;
}
fn weights4(q: u32, i: u32) -> vec4<f32> {
  return vec4<f32>(weight_of(q, i), weight_of(q + 1u, i), weight_of(q + 2u, i), weight_of(q + 3u, i));
}

// Readout partials sum_i p_i x_i over rows [r0, r1) of this chunk, chunks [d0, d1) of D, for the
// thread's 4 queries. Rows whose weights are all exactly 0 are never loaded.
@compute @workgroup_size(WG)
fn readout_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>) {
${invocation(" * shape.dslices")}
  let slice = (g / shape.qgroups) % shape.dslices;
  let split = g / (shape.qgroups * shape.dslices);
  let q = shape.q0 + 4u * group;
  let live = live4(q);
  if (!any(live)) { return; }
  let d0 = slice * DS;
  let d1 = min(shape.d4, d0 + DS);
  for (var d = d0; d < d1; d = d + 1u) { racc[d - d0] = mat4x4<f32>(); }
  let r0 = split * shape.rows_per_split;
  let r1 = min(shape.rows, r0 + shape.rows_per_split);
  for (var i = r0; i < r1; i = i + ${plan.rowBlock}u) {
${
    rows.map((r) =>
      `    let i${r} = min(i + ${r}u, r1 - 1u);
    let w${r} = select(vec4<f32>(0.0), weights4(q, i${r}), i + ${r}u < r1);`
    ).join("\n")
  }
    if (!(${rows.map((r) => `any(w${r} != vec4<f32>(0.0))`).join(" || ")})) { continue; }
    for (var d = d0; d < d1; d = d + 1u) {
${rows.map((r) => `      let y${r} = memories[i${r} * D4 + d];`).join("\n")}
      let a = racc[d - d0];
      racc[d - d0] = mat4x4<f32>(${
    comps.map((c, k) => `a[${k}] + ` + rows.map((r) => `y${r} * w${r}.${c}`).join(" + ")).join(
      ",\n                                ",
    )
  });
    }
  }
  let slot = shape.split0 + split;
  for (var k = 0u; k < 4u; k = k + 1u) {
    if (q + k >= shape.q0 + shape.nq) { break; }
    let base = (slot * shape.nq + (q + k - shape.q0)) * (D4 + 1u);
    for (var d = d0; d < d1; d = d + 1u) { partials[base + d] = racc[d - d0][k]; }
  }
}
`;
}
