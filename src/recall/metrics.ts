// The recall protocol's metrics (MATH.md 2.7 E2; deep-spin/HFYN scripts/memory_retrieval_modeling.py).
//
//   unique memory ratio     |set(recalled)| / N            (N = number of memories)
//   Levenshtein coefficient 1 - lev(recalled, target) / |recalled|
//
// The authors' target for sequential recall from x_0 is [1, 2, ..., N] (1-based, as their code
// builds it): a perfect chain recalls x_1, ..., x_{N-1} and then has nowhere to go, so the best
// coefficient is 1 - 1/N. `sequenceTarget` builds that target from any start index.

/** Levenshtein distance (unit insert, delete, substitute) between two integer sequences. */
export function levenshtein(a: readonly number[], b: readonly number[]): number {
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  let prev = new Array<number>(b.length + 1);
  let cur = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const sub = prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur[j] = Math.min(sub, prev[j] + 1, cur[j - 1] + 1);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length];
}

/** 1 - lev(recalled, target) / |recalled| (the authors divide by the recalled length). */
export function levenshteinCoefficient(recalled: readonly number[], target: readonly number[]) {
  if (recalled.length === 0) return target.length === 0 ? 1 : 0;
  return 1 - levenshtein(recalled, target) / recalled.length;
}

/** The sequence sequential recall should produce from `start`: start+1, ..., start+length. */
export function sequenceTarget(start: number, length: number): number[] {
  return Array.from({ length }, (_, j) => start + 1 + j);
}

/** |set(recalled)| / memories: the fraction of the memories recalled at least once. */
export function uniqueMemoryRatio(recalled: readonly number[], memories: number): number {
  if (memories < 1) throw new RangeError("uniqueMemoryRatio: no memories");
  return new Set(recalled).size / memories;
}
