import { httpRecord } from './test/sync/helpers.ts';
import { encodeBatch, decodeBatch } from './src/sync/wire-format.ts';
const recs = Array.from({ length: 256 }, (_, i) => httpRecord(i));
const one = recs.map((r, i) => encodeBatch('a', [{ seq: i + 1, record: r }]));
for (let round = 0; round < 5; round++) {
  let t = process.hrtime.bigint();
  for (let k = 0; k < 40; k++) for (const b of one) decodeBatch(b);
  const per1 = Number(process.hrtime.bigint() - t) / 1000 / (40 * 256);
  t = process.hrtime.bigint();
  for (let k = 0; k < 40; k++) for (const b of one) JSON.parse(b.toString('utf8', 8, 8 + b.readUInt32BE(4)));
  const perJ = Number(process.hrtime.bigint() - t) / 1000 / (40 * 256);
  console.log(per1.toFixed(1), perJ.toFixed(1));
}
