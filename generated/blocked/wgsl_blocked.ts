// Copied by hopc from src/runtime/blocked/wgsl_blocked.ts. Do not edit.
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
fn mask_kept4(q: u32, i: u32, fb: vec4<u32>, live: vec4<bool>) -> vec4<bool> {
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
        random ? `mask_kept4(q, shape.row0 + i${r}, fb, live)` : "live"
      } & vec4<bool>(i + ${r}u < r1);
    let xa${r} = ${memAux ? `memory_aux[i${r}]` : "0.0"};
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
        ? `      if (any(kept${r})) { let x = memories[i${r} * D4 + d]; x${r}[d] = x; t${r} = t${r} + accumulate4(x, qd, xa${r}, qaux); }`
        : `      let x${r}_d = memories[i${r} * D4 + d];
      x${r}[d] = x${r}_d;
      t${r} = t${r} + accumulate4(x${r}_d, qd, xa${r}, qaux);`
    ).join("\n")
  }
    }
${
    rows.map((r) =>
      `    let s${r} = select(vec4<f32>(MASKED), scores4(t${r}, xa${r}, qaux), kept${r});`
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
  const groups = range(plan.queriesPerThread / 4);
  const random = parts.mask.kind === "random";
  const memAux = parts.sim.memoryAux !== "none";
  const each = (f: (g: number) => string, sep = "\n") => groups.map(f).join(sep);
  const cells = (f: (r: number, g: number) => string, sep = "\n") =>
    rows.flatMap((r) => groups.map((g) => f(r, g))).join(sep);
  return `// Scores of rows [r0, r1) of this chunk for the thread's ${plan.queriesPerThread} queries (${groups.length} mat4x4 of
// states, read from storage once per chunk of D for all ${plan.rowBlock} rows), into their score rows.
@compute @workgroup_size(WG)
fn score_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>) {
${invocation()}
  let split = g / shape.qgroups;
  let q = shape.q0 + ${plan.queriesPerThread}u * group;
${
    each((g) =>
      `  let live${g} = live4(q + ${4 * g}u);
  let qaux${g} = qaux4(q + ${4 * g}u);${
        random
          ? `
  let fb${g} = fallback4(q + ${4 * g}u);`
          : ""
      }`
    )
  }
  if (!(${each((g) => `any(live${g})`, " || ")})) { return; }
  let r0 = split * shape.rows_per_split;
  let r1 = min(shape.rows, r0 + shape.rows_per_split);
  for (var i = r0; i < r1; i = i + ${plan.rowBlock}u) {
${
    rows.map((r) =>
      `    let i${r} = min(i + ${r}u, r1 - 1u);
    let xa${r} = ${memAux ? `memory_aux[i${r}]` : "0.0"};`
    ).join("\n")
  }
${
    cells((r, g) =>
      `    let kept${r}_${g} = ${
        random ? `mask_kept4(q + ${4 * g}u, shape.row0 + i${r}, fb${g}, live${g})` : `live${g}`
      } & vec4<bool>(i + ${r}u < r1);
    var t${r}_${g} = vec4<f32>(0.0);`
    )
  }
    if (${cells((r, g) => `any(kept${r}_${g})`, " || ")}) {
      for (var d = 0u; d < shape.d4; d = d + 1u) {
${each((g) => `        let q${g}d = states4(q + ${4 * g}u, d);`)}
${
    rows.map((r) =>
      `        let x${r} = memories[i${r} * D4 + d];\n` +
      groups.map((g) =>
        `        t${r}_${g} = t${r}_${g} + accumulate4(x${r}, q${g}d, xa${r}, qaux${g});`
      ).join("\n")
    ).join("\n")
  }
      }
    }
${
    cells((r, g) =>
      `    let s${r}_${g} = select(vec4<f32>(MASKED), scores4(t${r}_${g}, xa${r}, qaux${g}), kept${r}_${g});
    for (var k = 0u; k < 4u; k = k + 1u) {
      if (live${g}[k] && i + ${r}u < r1) { scratch[(q + ${
        4 * g
      }u + k - shape.q0) * shape.M + shape.row0 + i${r}] = s${r}_${g}[k]; }
    }`
    )
  }
  }
}
`;
}

/** Readout pass of the three-pass schedule: X^T p over the support, one slice of D per thread. */
export function readoutPass(
  plan: BlockedPlan,
  separateValues: false | "M" | "rows" = false,
): string {
  const rows = range(plan.rowBlock);
  const slice = range(plan.readoutSlice);
  const comps = ["x", "y", "z", "w"];
  const groups = range(plan.queriesPerThread / 4);
  return `// Weight of query q (in this slice) on memory row i of the chunk; 0 for a query past the slice.
fn weight_of(q: u32, i: u32) -> f32 {
  if (q < shape.q0 + shape.nq) { return scratch[(q - shape.q0) * shape.M + shape.row0 + i]; }
  return 0.0;
}
fn weights4(q: u32, i: u32) -> vec4<f32> {
  return vec4<f32>(weight_of(q, i), weight_of(q + 1u, i), weight_of(q + 2u, i), weight_of(q + 3u, i));
}
// Chunk d of ${
    separateValues === "M"
      ? "value row i (the values follow the M key rows)"
      : separateValues === "rows"
      ? "readout row i (the chunk's readout rows follow its key rows)"
      : "memory row i"
  }, or 0 past the state (the slice's last chunks may not exist).
fn memory_chunk(i: u32, d: u32) -> vec4<f32> {
  if (d < shape.d4) { return memories[${
    separateValues === "M" ? "(shape.M + i)" : separateValues === "rows" ? "(shape.rows + i)" : "i"
  } * D4 + d]; }
  return vec4<f32>(0.0);
}

// Readout partials sum_i p_i x_i over rows [r0, r1) of this chunk, chunks d0 .. d0 + DS - 1 of D,
// for the thread's ${plan.queriesPerThread} queries, accumulated in registers (a mat4x4 per chunk and group of 4
// queries, column k = query k). Rows whose weights are all exactly 0 are never loaded.
@compute @workgroup_size(WG)
fn readout_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) grid: vec3<u32>) {
${invocation(" * shape.dslices")}
  let slice = (g / shape.qgroups) % shape.dslices;
  let split = g / (shape.qgroups * shape.dslices);
  let q = shape.q0 + ${plan.queriesPerThread}u * group;
  if (q >= shape.q0 + shape.nq) { return; }
  let d0 = slice * DS;
${slice.map((j) => groups.map((g) => `  var a${j}_${g} = mat4x4<f32>();`).join("\n")).join("\n")}
  let r0 = split * shape.rows_per_split;
  let r1 = min(shape.rows, r0 + shape.rows_per_split);
  for (var i = r0; i < r1; i = i + ${plan.rowBlock}u) {
${
    rows.map((r) =>
      `    let i${r} = min(i + ${r}u, r1 - 1u);\n` +
      groups.map((g) =>
        `    let w${r}_${g} = select(vec4<f32>(0.0), weights4(q + ${
          4 * g
        }u, i${r}), i + ${r}u < r1);`
      ).join("\n")
    ).join("\n")
  }
    if (!(${
    rows.flatMap((r) => groups.map((g) => `any(w${r}_${g} != vec4<f32>(0.0))`)).join(" || ")
  })) { continue; }
${
    slice.map((j) =>
      `    {
${rows.map((r) => `      let y${r} = memory_chunk(i${r}, d0 + ${j}u);`).join("\n")}
${
        groups.map((g) =>
          `      a${j}_${g} = a${j}_${g} + mat4x4<f32>(${
            comps.map((c) => rows.map((r) => `y${r} * w${r}_${g}.${c}`).join(" + ")).join(
              ",\n          ",
            )
          });`
        ).join("\n")
      }
    }`
    ).join("\n")
  }
  }
  let slot = shape.split0 + split;
${
    groups.map((g) =>
      `  for (var k = 0u; k < 4u; k = k + 1u) {
    let qk = q + ${4 * g}u + k;
    if (qk >= shape.q0 + shape.nq) { break; }
    let base = (slot * shape.nq + (qk - shape.q0)) * (D4 + 1u) + d0;
${
        slice.map((j) =>
          `    if (d0 + ${j}u < shape.d4) { partials[base + ${j}u] = a${j}_${g}[k]; }`
        ).join("\n")
      }
  }`
    ).join("\n")
  }
}
`;
}
