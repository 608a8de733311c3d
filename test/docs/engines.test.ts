/**
 * package.json promises a Node version range; every package a user installs with QProxy must run on
 * all of it. A dependency that wants a newer Node makes `npm install` warn EBADENGINE (as
 * @nats-io/nuid 3, pulled in by @nats-io/* 3.4, did with Node ≥ 22) and may fail at run time.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import semver from 'semver';

interface LockEntry {
  version?: string;
  dev?: boolean;
  engines?: { node?: string } | string[];
}

const read = (name: string): unknown => JSON.parse(readFileSync(new URL(`../../${name}`, import.meta.url), 'utf8'));

test('every runtime dependency in the lockfile supports the oldest Node that package.json declares', () => {
  const declared = (read('package.json') as { engines: { node: string } }).engines.node;
  const oldest = semver.minVersion(declared);
  assert.ok(oldest, `package.json engines.node ${declared} has a lowest version`);
  const lock = read('package-lock.json') as { packages: Record<string, LockEntry> };
  const runtime = Object.entries(lock.packages).filter(([path, e]) => path !== '' && e.dev !== true);
  assert.ok(runtime.some(([path]) => path === 'node_modules/@nats-io/nuid'), 'the NATS client is among them');
  const unsupported = runtime.flatMap(([path, e]) => {
    const range = !Array.isArray(e.engines) ? e.engines?.node : undefined;
    return range !== undefined && !semver.satisfies(oldest, range) ? [`${path.replace(/^.*node_modules\//, '')}@${e.version} wants node ${range}`] : [];
  });
  assert.deepEqual(unsupported, [], `package.json declares node ${declared}`);
});
