// Smooth image sequences ("videos") for the continuous-time memory experiment.
//
// A continuous-time Hopfield network (as in CHM-Net) stores a sequence of L frames and recalls
// any point in between, so the frames must come from a smooth trajectory: frame l is one image
// rotated by 2π·turns·l/L and slid sideways by shift·sin(2πl/L). Sampling uses bilinear
// interpolation because it is continuous in the sampling position: a small change in the angle
// gives a small change in every pixel, so adjacent frames become nearly equal as L grows.
// Nearest-neighbour sampling would jump pixel by pixel and make the sequence rough. Outside the
// source image the value is 0, which bilinear sampling also reaches continuously.
//
// Images are rows of side*side floats (row-major, row 0 at the top), several stacked in one
// Float64Array.

/** Bilinear sample of a side x side image at (x = column, y = row); zero outside the image. */
function sample(image: Float64Array, side: number, x: number, y: number): number {
  const x0 = Math.floor(x), y0 = Math.floor(y);
  const fx = x - x0, fy = y - y0;
  const at = (r: number, c: number) =>
    r >= 0 && r < side && c >= 0 && c < side ? image[r * side + c] : 0;
  return (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)) +
    fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
}

/**
 * L frames of `image` (side x side): frame l is the image rotated about its centre by
 * 2π·turns·l/L (clockwise on screen, since rows go down) and then moved right by
 * shift·sin(2πl/L) source pixels. The output grid of outSide x outSide pixels covers the same
 * square as the source, so outSide ≠ side resamples the image; outSide = side (the default) is
 * pixel for pixel, and frame 0 then equals the input.
 */
export function rotatedSequence(
  image: Float64Array,
  side: number,
  L: number,
  opts: { turns?: number; shift?: number; outSide?: number } = {},
): Float64Array {
  if (image.length !== side * side) {
    throw new Error(`image has ${image.length} values, expected ${side}x${side}`);
  }
  const { turns = 1, shift = 0, outSide = side } = opts;
  const n = outSide * outSide;
  const frames = new Float64Array(L * n);
  const scale = side / outSide; // source pixels per output pixel
  const cIn = (side - 1) / 2, cOut = (outSide - 1) / 2;
  for (let l = 0; l < L; l++) {
    const theta = (2 * Math.PI * turns * l) / L;
    const cos = Math.cos(theta), sin = Math.sin(theta);
    const dx = shift * Math.sin((2 * Math.PI * l) / L);
    for (let i = 0; i < outSide; i++) {
      for (let j = 0; j < outSide; j++) {
        // Undo the move, then the rotation: source = R(-θ)·(target - centre - shift).
        const u = (j - cOut) * scale - dx, v = (i - cOut) * scale;
        const x = cIn + cos * u + sin * v, y = cIn - sin * u + cos * v;
        frames[l * n + i * outSide + j] = sample(image, side, x, y);
      }
    }
  }
  return frames;
}

/**
 * A copy of `count` frames (side x side) in which rows floor(side·(1 − fraction)) to side − 1
 * are 0: the CHM-Net recall protocol, which hides the bottom of each frame and asks the network
 * to fill it in.
 */
export function maskBottomHalf(
  frames: Float64Array,
  count: number,
  side: number,
  fraction = 0.5,
): Float64Array {
  if (frames.length !== count * side * side) {
    throw new Error(`frames has ${frames.length} values, expected ${count}x${side}x${side}`);
  }
  if (!(fraction >= 0 && fraction <= 1)) throw new Error(`fraction ${fraction} not in [0, 1]`);
  const out = frames.slice();
  const first = Math.floor(side * (1 - fraction));
  for (let f = 0; f < count; f++) {
    out.fill(0, (f * side + first) * side, (f + 1) * side * side);
  }
  return out;
}

/** Maps values in [0, 1] to [-1, 1] (2x − 1), the range of bipolar Hopfield states. */
export function toSigned(frames: Float64Array): Float64Array {
  return frames.map((x) => 2 * x - 1);
}
