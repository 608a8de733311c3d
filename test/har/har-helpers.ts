import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { importHar, parseHarText } from '../../src/har/import.js';
import type { HttpRecord } from '../../src/recording/model.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');

/** A fixture's text. */
export function fixtureText(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8');
}

/** A fixture imported with default options. */
export function importFixture(name: string): HttpRecord[] {
  return importHar(parseHarText(fixtureText(name)));
}

/** A JSON round trip: what goes over the API or into a file. */
export function viaJson<T>(value: T): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}
