// What the parity tests (Chromium's and Firefox's) share: the jobs, and the engine's binary
// model file (crates/engine/src/model_io.rs) decoded, to compare a model the page made with
// one the native CLI wrote, bit for bit.

import assert from 'node:assert/strict';

/** The jobs compared: the page's form values and the same job as `affinity fit` flags. */
export const JOBS = [
  {
    name: 'explicit with biases (the page default)',
    form: { rank: '8', iters: '10', reg: '0.1', split: '80', seed: '42', biases: true },
    flags: ['--rank', '8', '--max-iter', '10', '--reg-param', '0.1', '--split', '0.8', '--seed', '42', '--biases'],
  },
  {
    name: "Spark's explicit ALS, rank 40",
    form: { rank: '40', iters: '10', reg: '0.05', split: '75', seed: '7', biases: false },
    flags: ['--rank', '40', '--max-iter', '10', '--reg-param', '0.05', '--split', '0.75', '--seed', '7'],
  },
  {
    name: 'implicit feedback',
    form: { rank: '12', iters: '8', reg: '0.1', split: '80', seed: '3', biases: false, implicit: true, alpha: '10' },
    flags: ['--rank', '12', '--max-iter', '8', '--reg-param', '0.1', '--split', '0.8', '--seed', '3', '--implicit', '--alpha', '10'],
  },
  {
    name: 'non-negative factors (NNLS) with biases',
    form: { rank: '6', iters: '10', reg: '0.1', split: '80', seed: '11', biases: true, nonnegative: true },
    flags: ['--rank', '6', '--max-iter', '10', '--reg-param', '0.1', '--split', '0.8', '--seed', '11', '--biases', '--nonnegative'],
  },
  {
    name: 'conjugate-gradient solver with biases',
    form: { rank: '16', iters: '10', reg: '0.1', split: '70', seed: '5', biases: true, cg: true },
    flags: ['--rank', '16', '--max-iter', '10', '--reg-param', '0.1', '--split', '0.7', '--seed', '5', '--biases', '--solver', 'cg'],
  },
];

/**
 * Decodes a binary model file (format version 1 or 2, see crates/engine/src/model_io.rs) into
 * { rank, users, items, globalMean } where users and items map each id to
 * { fitted, factors: [u32 bit patterns], bias: u32 bit pattern or null }.
 */
export function decodeModel(bytes) {
  const b = Buffer.from(bytes);
  let o = 0;
  const magic = b.toString('latin1', 0, 4);
  assert.equal(magic, 'AFFM', 'model file magic');
  o = 4;
  const version = b.readUInt16LE(o);
  o += 2;
  assert.ok(version === 1 || version === 2, `format version ${version}`);
  const rank = b.readUInt32LE(o);
  const nUsers = b.readUInt32LE(o + 4);
  const nItems = b.readUInt32LE(o + 8);
  o += 12;
  const ids = [];
  for (let k = 0; k < nUsers + nItems; k++) {
    const len = b.readUInt32LE(o);
    ids.push(b.toString('utf8', o + 4, o + 4 + len));
    o += 4 + len;
  }
  const fitted = [...b.subarray(o, o + nUsers + nItems)].map((v) => v === 1);
  o += nUsers + nItems;
  const factors = [];
  for (let k = 0; k < nUsers + nItems; k++) {
    const row = [];
    for (let c = 0; c < rank; c++, o += 4) row.push(b.readUInt32LE(o));
    factors.push(row);
  }
  let biases = null;
  let globalMean = null;
  if (version >= 2 && b[o++] === 1) {
    globalMean = b.readUInt32LE(o);
    o += 4;
    biases = [];
    for (let k = 0; k < nUsers + nItems; k++, o += 4) biases.push(b.readUInt32LE(o));
  }
  assert.equal(o + 8, b.length, 'the file ends with its 8-byte checksum');
  const side = (from, to) =>
    new Map(ids.slice(from, to).map((id, j) => [id, { fitted: fitted[from + j], factors: factors[from + j], bias: biases ? biases[from + j] : null }]));
  return { rank, users: side(0, nUsers), items: side(nUsers, nUsers + nItems), globalMean };
}

const bitsToFloat = (u) => new Float32Array(new Uint32Array([u]).buffer)[0];

/** Every difference between two decoded models, keyed by id (at most `limit` listed). */
export function differences(a, b, limit = 8) {
  const out = [];
  if (a.rank !== b.rank) out.push(`rank ${a.rank} vs ${b.rank}`);
  if (a.globalMean !== b.globalMean) out.push(`global mean ${a.globalMean} vs ${b.globalMean}`);
  for (const sideName of ['users', 'items']) {
    const [x, y] = [a[sideName], b[sideName]];
    if (x.size !== y.size) out.push(`${sideName}: ${x.size} vs ${y.size}`);
    for (const [id, row] of x) {
      const other = y.get(id);
      if (!other) {
        out.push(`${sideName} ${id} missing natively`);
        continue;
      }
      if (row.fitted !== other.fitted) out.push(`${sideName} ${id}: fitted ${row.fitted} vs ${other.fitted}`);
      if (row.bias !== other.bias) out.push(`${sideName} ${id}: bias ${bitsToFloat(row.bias)} vs ${bitsToFloat(other.bias)}`);
      row.factors.forEach((v, c) => {
        if (v !== other.factors[c]) out.push(`${sideName} ${id} factor ${c}: ${bitsToFloat(v)} vs ${bitsToFloat(other.factors[c])}`);
      });
    }
  }
  return { count: out.length, listed: out.slice(0, limit) };
}
