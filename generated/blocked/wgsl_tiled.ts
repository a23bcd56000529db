// Copied by hopc from src/runtime/blocked/wgsl_tiled.ts. Do not edit.
// WGSL of the score pass with X staged through workgroup memory (plan.tile = "workgroup"): the
// design for GPUs, where a tile the workgroup loads once together and every thread then reads
// from shared memory replaces each thread's own loads of the same rows. A workgroup owns WG
// consecutive query groups (each thread 4 or 8 queries, as in ./wgsl_blocked.ts) and one split of
// M, so all its threads score the same rows: per block of rowBlock rows, the tile holds TC vec4
// chunks of D of each row at a time. Control flow around the barriers depends only on the
// workgroup (its split) and the uniforms, never on the thread. Self-contained (see ./types.ts).
import type { BlockedParts, BlockedPlan } from "./types.ts";

const range = (n: number) => [...Array(n).keys()];

export function scorePassTiled(parts: BlockedParts, plan: BlockedPlan): string {
  const rows = range(plan.rowBlock);
  const groups = range(plan.queriesPerThread / 4);
  const random = parts.mask.kind === "random";
  const memAux = parts.sim.memoryAux !== "none";
  const each = (f: (g: number) => string, sep = "\n") => groups.map(f).join(sep);
  const cells = (f: (r: number, g: number) => string, sep = "\n") =>
    rows.flatMap((r) => groups.map((g) => f(r, g))).join(sep);
  const RB = plan.rowBlock;
  return `const TC: u32 = ${plan.tileChunks}u;   // vec4 chunks of D per row in a workgroup tile
var<workgroup> xt: array<vec4<f32>, ${RB * plan.tileChunks}>;   // [${RB} rows, TC chunks] of X

// Scores of rows [r0, r1) of this chunk for ${plan.queriesPerThread} queries per thread (${groups.length} mat4x4 of states), X read
// through workgroup tiles. Workgroup w: split w / qblocks, query groups (w % qblocks) * WG + lid.
@compute @workgroup_size(WG)
fn score_rows(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
              @builtin(num_workgroups) grid: vec3<u32>) {
  let w = wid.x + wid.y * grid.x;
  let qblocks = (shape.qgroups + WG - 1u) / WG;
  if (w >= qblocks * shape.chunk_splits) { return; }  // uniform: the same for the whole workgroup
  let split = w / qblocks;
  let group = (w % qblocks) * WG + lid;
  let has_group = group < shape.qgroups;   // threads past the last group load tiles, score nothing
  let q = shape.q0 + ${plan.queriesPerThread}u * min(group, shape.qgroups - 1u);
${
    each((g) =>
      `  let live${g} = live4(q + ${4 * g}u) & vec4<bool>(has_group);
  let qaux${g} = qaux4(q + ${4 * g}u);${
        random
          ? `
  let fb${g} = fallback4(q + ${4 * g}u);`
          : ""
      }`
    )
  }
  let r0 = split * shape.rows_per_split;
  let r1 = min(shape.rows, r0 + shape.rows_per_split);
  for (var i = r0; i < r1; i = i + ${RB}u) {
${rows.map((r) => `    let i${r} = min(i + ${r}u, r1 - 1u);`).join("\n")}
${rows.map((r) => `    let xa${r} = ${memAux ? `memory_aux[i${r}]` : "0.0"};`).join("\n")}
${cells((r, g) => `    var t${r}_${g} = vec4<f32>(0.0);`)}
    for (var d0 = 0u; d0 < shape.d4; d0 = d0 + TC) {
      workgroupBarrier();   // every thread is done with the previous tile
      for (var e = lid; e < ${RB}u * TC; e = e + WG) {
        let row = min(i + e / TC, r1 - 1u);
        let d = d0 + e % TC;
        xt[e] = select(vec4<f32>(0.0), memories[row * D4 + min(d, shape.d4 - 1u)], d < shape.d4);
      }
      workgroupBarrier();
      let chunks = min(TC, shape.d4 - d0);
      for (var c = 0u; c < chunks; c = c + 1u) {
${each((g) => `        let q${g}d = states4(q + ${4 * g}u, d0 + c);`)}
${
    rows.map((r) =>
      `        let x${r} = xt[${r}u * TC + c];\n` +
      groups.map((g) =>
        `        t${r}_${g} = t${r}_${g} + accumulate4(x${r}, q${g}d, xa${r}, qaux${g});`
      ).join("\n")
    ).join("\n")
  }
      }
    }
${
    cells((r, g) =>
      `    let kept${r}_${g} = ${
        random ? `mask_kept4(q + ${4 * g}u, shape.row0 + i${r}, fb${g}, live${g})` : `live${g}`
      } & vec4<bool>(i + ${r}u < r1);
    let s${r}_${g} = select(vec4<f32>(MASKED), scores4(t${r}_${g}, xa${r}, qaux${g}), kept${r}_${g});
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
