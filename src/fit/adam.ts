// Adam (Kingma & Ba 2015) over a list of parameter arrays, updated in place: the optimizer of the
// kernelized Hopfield fit (./fit.ts) and of A-Hop's (./ahop.ts), with torch.optim.Adam's defaults
// beta1 0.9, beta2 0.999, eps 1e-8 and its bias correction.
export class Adam {
  readonly #first: Float64Array[];
  readonly #second: Float64Array[];
  #t = 0;

  constructor(
    readonly params: Float64Array[],
    readonly lr: number,
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    readonly eps = 1e-8,
  ) {
    this.#first = params.map((p) => new Float64Array(p.length));
    this.#second = params.map((p) => new Float64Array(p.length));
  }

  /** One step with the gradients of the parameters (same shapes, same order). */
  step(grads: ArrayLike<number>[]): void {
    const { beta1: b1, beta2: b2, eps, lr } = this;
    this.#t++;
    const c1 = 1 - b1 ** this.#t;
    const c2 = 1 - b2 ** this.#t;
    this.params.forEach((p, k) => {
      const [g, m1, m2] = [grads[k], this.#first[k], this.#second[k]];
      for (let i = 0; i < p.length; i++) {
        m1[i] = b1 * m1[i] + (1 - b1) * g[i];
        m2[i] = b2 * m2[i] + (1 - b2) * g[i] * g[i];
        p[i] -= (lr * (m1[i] / c1)) / (Math.sqrt(m2[i] / c2) + eps);
      }
    });
  }
}
