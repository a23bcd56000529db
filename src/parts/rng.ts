// Counter-based random numbers shared bit-for-bit by the float64 reference and the WGSL kernels.
//
// There is no generator state: every draw is a pure function of (seed, a, b), so the random mask
// of MATH.md §3.10 (memory i of query b) and the random-feature matrix of §5.2 (row r, column j)
// come out identical on the CPU and the GPU, in any order and in parallel.
//
//   lowbias32(x)       Chris Wellons' 32-bit integer hash ("hash prospector", lowbias32:
//                      x ^= x>>16; x *= 0x7feb352d; x ^= x>>15; x *= 0x846ca68b; x ^= x>>16)
//   hash3(seed, a, b)  h = lowbias32(seed + 0x9e3779b9); h = lowbias32(h ^ a); lowbias32(h ^ b)
//                      (the golden-ratio offset keeps hash3(0, 0, 0) away from lowbias32's fixed
//                      point 0; each stage is a bijection of u32, so for a fixed seed and a, the
//                      map b -> hash3 is a bijection too)
//   uniform01          (hash3 >>> 8) * 2^-24, in [0, 1) on a grid of 2^-24 (exact in f32 as well)
//   gaussian           Box–Muller, cosine branch: sqrt(-2 ln(1 - u1)) cos(2π u2) with
//                      u1 = uniform01(seed, a, 2b), u2 = uniform01(seed, a, 2b + 1) (u32 wrap)
//
// Only u32 operations are used (xor, logical shifts, wrapping multiply): in TypeScript that is
// Math.imul and `>>> 0`, in WGSL plain u32 arithmetic, which wraps.
//
// !! The TypeScript functions and RNG_WGSL below must change together: the GPU path relies on
// !! hash3 being bit-identical on both sides (tests pin known answers of the TypeScript side).

// The TypeScript generator lives in the runtime's host preparation (self-contained, so generated
// modules carry it); the WGSL below must stay bit-identical to it.
export { gaussian, hash3, lowbias32, uniform01 } from "../runtime/hopc_host.ts";

/**
 * WGSL source of the same generator (lowbias32, hash3 and uniform01). Must stay bit-identical to
 * the TypeScript above: change both together.
 */
export const RNG_WGSL =
  `// Counter-based RNG; bit-identical to src/parts/rng.ts (change both together).
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
`;
