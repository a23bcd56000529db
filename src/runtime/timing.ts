// Timing calls the same way everywhere (`hopc bench`, `hopc tune`, bench/): one warm-up call that
// compiles pipelines and is not counted, then calls until a minimum count and time; the median is
// the figure reported, since a shared machine's outliers are one-sided (late, never early).

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

export interface Timing {
  /** Median of the timed calls, ms. */
  ms: number;
  min: number;
  max: number;
  /** Timed calls (after one warm-up). */
  n: number;
  warmupMs: number;
}

/**
 * Times `fn`: one warm-up call (whose result is returned, so it is not wasted), then calls until at
 * least 3 were timed and about `minTime` seconds went by (at most 1000); the median is the figure
 * reported. `onCall` hears after each timed call how many ran and how many ms they took.
 */
export async function timeCalls<T>(
  fn: () => Promise<T>,
  minTime: number,
  onCall?: (calls: number, elapsedMs: number) => void,
): Promise<{ first: T; timing: Timing }> {
  let t = performance.now();
  const first = await fn();
  const warmupMs = performance.now() - t;
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 3 || (performance.now() - start < minTime * 1000 && times.length < 1000)) {
    t = performance.now();
    await fn();
    times.push(performance.now() - t);
    onCall?.(times.length, performance.now() - start);
  }
  return {
    first,
    timing: {
      ms: median(times),
      min: Math.min(...times),
      max: Math.max(...times),
      n: times.length,
      warmupMs,
    },
  };
}

/** max |a - b| / max |b| over the first n entries (all of b by default). */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>, n = b.length): number {
  let err = 0, scale = 0;
  for (let i = 0; i < n; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale > 0 ? err / scale : err;
}
