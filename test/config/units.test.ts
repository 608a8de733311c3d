import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  MAX_TIMER_MS,
  duration,
  durationSchema,
  formatDuration,
  formatSize,
  parseDuration,
  parseSize,
  size,
  sizeSchema,
} from '../../src/config/units.js';

const GOOD_SIZES: Array<[string | number, number]> = [
  [0, 0],
  [1024, 1024],
  ['512B', 512],
  ['512b', 512],
  ['1024', 1024],
  ['64KiB', 65_536],
  ['64kib', 65_536],
  ['64KIB', 65_536],
  ['1KB', 1000],
  ['1kb', 1000],
  ['1MB', 1_000_000],
  ['1MiB', 1_048_576],
  ['10GiB', 10_737_418_240],
  ['1GB', 1_000_000_000],
  ['2TiB', 2 * 2 ** 40],
  ['1.5GiB', 1_610_612_736],
  ['1.1KiB', 1126],
  [' 16 KiB ', 16_384],
];

const BAD_SIZES: unknown[] = ['', 'KiB', '10XB', '1.5.5MiB', '-1KiB', '1 K', '64KiBs', 'ten', -1, 1.5, Number.NaN, true, null, [], {}, '99999999999TiB'];

const GOOD_DURATIONS: Array<[string | number, number]> = [
  [0, 0],
  [250, 250],
  ['500ms', 500],
  ['500MS', 500],
  ['30s', 30_000],
  ['5m', 300_000],
  ['72h', 259_200_000],
  ['7d', 604_800_000],
  ['1h30m', 5_400_000],
  ['1m30s', 90_000],
  ['1s500ms', 1500],
  ['1.5h', 5_400_000],
  ['0.5s', 500],
  ['2H', 7_200_000],
  [' 1h 30m ', 5_400_000],
];

const BAD_DURATIONS: unknown[] = ['', '30', 's', '5 minutes', '1w', '1h30', '-5s', '1.s', 'ms30', -1, 2.5, true, null, [], {}];

test('parseSize: binary and decimal units, any case, decimals round down', () => {
  for (const [input, bytes] of GOOD_SIZES) {
    if (typeof input === 'string') assert.equal(parseSize(input), bytes, input);
  }
  for (const input of BAD_SIZES) {
    if (typeof input === 'string') assert.equal(parseSize(input), undefined, input);
  }
});

test('parseDuration: single, compound and decimal durations; a unit is required', () => {
  for (const [input, ms] of GOOD_DURATIONS) {
    if (typeof input === 'string') assert.equal(parseDuration(input), ms, input);
  }
  for (const input of BAD_DURATIONS) {
    if (typeof input === 'string') assert.equal(parseDuration(input), undefined, input);
  }
});

test('sizeSchema accepts numbers and strings and outputs bytes', () => {
  for (const [input, bytes] of GOOD_SIZES) assert.equal(sizeSchema.parse(input), bytes, String(input));
});

test('sizeSchema rejects every bad input with the size message', () => {
  for (const input of BAD_SIZES) {
    const r = sizeSchema.safeParse(input);
    assert.equal(r.success, false, `${JSON.stringify(input)} must be rejected`);
    assert.deepEqual(
      r.error.issues.map((i) => i.message),
      ['expected a size like "64KiB" or a number of bytes'],
      JSON.stringify(input),
    );
  }
});

test('durationSchema accepts numbers and strings and outputs milliseconds', () => {
  for (const [input, ms] of GOOD_DURATIONS) assert.equal(durationSchema.parse(input), ms, String(input));
});

test('durationSchema rejects every bad input with the duration message', () => {
  for (const input of BAD_DURATIONS) {
    const r = durationSchema.safeParse(input);
    assert.equal(r.success, false, `${JSON.stringify(input)} must be rejected`);
    assert.deepEqual(
      r.error.issues.map((i) => i.message),
      ['expected a duration like "30s" or a number of milliseconds'],
      JSON.stringify(input),
    );
  }
});

test('bounds are enforced after parsing and named in the message; the example follows the field', () => {
  const flush = duration({ example: '100ms', min: 1, max: 10_000 });
  assert.equal(flush.parse('10s'), 10_000);
  assert.equal(flush.safeParse('11s').error?.issues[0]?.message, 'expected a duration of at most "10s"');
  assert.equal(flush.safeParse(0).error?.issues[0]?.message, 'expected a duration of at least "1ms"');
  assert.equal(flush.safeParse('soon').error?.issues[0]?.message, 'expected a duration like "100ms" or a number of milliseconds');

  const header = size({ example: '16KiB', min: 1024 });
  assert.equal(header.parse('1KiB'), 1024);
  assert.equal(header.safeParse(1023).error?.issues[0]?.message, 'expected a size of at least "1KiB"');
  assert.equal(header.safeParse('10XB').error?.issues[0]?.message, 'expected a size like "16KiB" or a number of bytes');

  const timer = duration({ max: MAX_TIMER_MS });
  assert.equal(timer.parse('24d'), MAX_TIMER_MS);
  assert.equal(timer.safeParse('25d').error?.issues[0]?.message, 'expected a duration of at most "24d"');
});

test('formatSize and formatDuration render round units and round-trip through the parsers', () => {
  assert.equal(formatSize(16_384), '16KiB');
  assert.equal(formatSize(10 * 2 ** 30), '10GiB');
  assert.equal(formatSize(1000), '1000B');
  assert.equal(formatDuration(5_400_000), '1h30m');
  assert.equal(formatDuration(1500), '1s500ms');
  assert.equal(formatDuration(0), '0ms');
  for (const bytes of [0, 1, 1023, 1024, 65_536, 3 * 2 ** 40]) assert.equal(parseSize(formatSize(bytes)), bytes);
  for (const ms of [0, 1, 999, 60_000, 86_400_001, MAX_TIMER_MS]) assert.equal(parseDuration(formatDuration(ms)), ms);
});
