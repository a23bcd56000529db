// Copied by hopc from src/runtime/blocked/wgsl_footprint.ts. Do not edit.
// A-Hop's footprint score pass (issue 12 item 3; the math in src/fit/ahop.ts): it replaces the
// three-pass schedule's score_rows for `similarity ahop`. One workgroup per (query of the slice,
// memory row of the chunk) loads the pair's u_d = -(x_d - q_d)^2 and v_d = x_d q_d into workgroup
// memory (D padded to P, a power of two, with -F32_MAX entries that sort last and meet Omega = 0),
// sorts both rows descending with a bitonic network (log2 P (log2 P + 1) / 2 stages, one barrier
// each), and reduces s = a sum_r u_(r) Omega_r + b sum_r v_(r) Omega_r over the workgroup. Omega
// (the suffix sums of the footprint weights w) and a, b come from the host aux: memory_aux[0..D)
// = Omega, memory_aux[D] = a, memory_aux[D + 1] = b, the same numbers in every chunk. The score
// row entry is beta * s (or MASKED), exactly where score_rows writes it, so every later pass
// (row_select, the threshold search, row_weights, readout_rows, finish) runs unchanged.
// The pairs form a grid folded under maxComputeWorkgroupsPerDimension (x + y * grid.x).
// Self-contained (see ./types.ts).
import type { BlockedParts, BlockedPlan } from "./types.ts";

export function footprintPass(parts: BlockedParts, plan: BlockedPlan): string {
  const fp = plan.footprint!;
  const { P, workgroupSize: W } = fp;
  const random = parts.mask.kind === "random";
  return `// A-Hop footprint scores (see src/runtime/blocked/wgsl_footprint.ts): one workgroup per
// (query of the slice, row of the chunk); beta * s into the query's score row.
const FP_P: u32 = ${P}u;     // D padded to a power of two
const FP_WG: u32 = ${W}u;    // threads of a footprint workgroup
const FP_LOWEST: f32 = -3.4028234663852886e38; // padding: sorts last, meets Omega = 0
var<workgroup> fp_distance: array<f32, ${P}>;  // -(x_d - q_d)^2, sorted descending in place
var<workgroup> fp_product: array<f32, ${P}>;   // x_d q_d, sorted descending in place
var<workgroup> fp_partial_d: array<f32, ${W}>;
var<workgroup> fp_partial_p: array<f32, ${W}>;

fn fp_entry(v: vec4<f32>, c: u32) -> f32 {
  return v[c];
}

@compute @workgroup_size(${W})
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
${
    random
      ? `    let kept = is_kept(q, shape.row0 + i, bitcast<u32>(qinfo[q * QINFO + FALLBACK]));
    scratch[(q - shape.q0) * shape.M + shape.row0 + i] = select(MASKED, BETA * s, kept);`
      : `    scratch[(q - shape.q0) * shape.M + shape.row0 + i] = BETA * s;`
  }
  }
}
`;
}
