// Deterministic test data and a brute-force oracle for the JS client tests.
// A helper, not a test file.

/** A small seeded PRNG (mulberry32), so every run uses the same data. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const CATS = ['a', 'b', 'c', 'd'];
export const COLOURS = ['red', 'green', 'blue'];

/**
 * `n` points of dimension `dim`: { id, vector, payload } with payload
 * { seq, cat, num, price, tags, meta: { level } }. Prices are quarter steps,
 * exact in binary, so JSON cannot blur them.
 */
export function makePoints(n, dim, seed) {
  const next = rng(seed);
  const pick = (xs) => xs[Math.floor(next() * xs.length)];
  const points = [];
  for (let i = 0; i < n; i++) {
    const tags = [];
    const ntags = Math.floor(next() * 3);
    for (let k = 0; k < ntags; k++) {
      const t = pick(COLOURS);
      if (!tags.includes(t)) tags.push(t);
    }
    // Vectors with exactly representable components (multiples of 1/64).
    const vector = Array.from({ length: dim }, () => Math.round((next() * 2 - 1) * 64) / 64 || 1 / 64);
    points.push({
      id: i + 1,
      vector,
      payload: {
        seq: i,
        cat: pick(CATS),
        num: Math.floor(next() * 100),
        price: Math.floor(next() * 80) / 4,
        tags,
        meta: { level: Math.floor(next() * 10) },
      },
    });
  }
  return points;
}

export const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
export const normalize = (v) => {
  const n = norm(v);
  return v.map((x) => x / n);
};
export const dot = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
export const cosine = (a, b) => dot(a, b) / (norm(a) * norm(b));
export const euclid = (a, b) => Math.sqrt(a.reduce((s, x, i) => s + (x - b[i]) ** 2, 0));

/** Values at a dotted path, Qdrant style: arrays match element by element. */
export function values(payload, key) {
  let cur = [payload];
  for (const part of key.split('.')) {
    cur = cur.filter((c) => c && typeof c === 'object' && !Array.isArray(c) && part in c).map((c) => c[part]);
  }
  return cur.flatMap((v) => (Array.isArray(v) ? v : [v]));
}

/**
 * The oracle's ranking: every candidate with its score, best first.
 * `higherIsBetter` is true for Cosine/Dot, false for Euclid/Manhattan.
 */
export function rank(candidates, score, higherIsBetter = true) {
  return candidates
    .map((p) => ({ id: p.id, score: score(p) }))
    .sort((x, y) => (higherIsBetter ? y.score - x.score : x.score - y.score));
}
