import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { CONFIG_SCHEMA_ID, renderSchema } from '../../src/config/json-schema.js';

interface SchemaNode {
  [key: string]: unknown;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: unknown;
  description?: string;
}

/** Every object schema in the document, with its JSON pointer. */
function objectNodes(node: unknown, pointer = '#'): Array<[string, SchemaNode]> {
  if (typeof node !== 'object' || node === null) return [];
  const found: Array<[string, SchemaNode]> = [];
  const n = node as SchemaNode;
  if (n.properties) found.push([pointer, n]);
  for (const [key, child] of Object.entries(n)) found.push(...objectNodes(child, `${pointer}/${key}`));
  return found;
}

test('config.schema.json on disk is exactly what renderSchema() produces (regenerate with npm run schema)', async () => {
  const onDisk = await readFile(new URL('../../config.schema.json', import.meta.url), 'utf8');
  assert.equal(onDisk, renderSchema());
});

test('the schema is a 2020-12 document with an id, a title and mode required', () => {
  const doc = JSON.parse(renderSchema()) as SchemaNode & { required: string[] };
  assert.equal(doc.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.equal(doc.$id, CONFIG_SCHEMA_ID);
  assert.equal(doc.title, 'QProxy configuration');
  assert.deepEqual(doc.required, ['mode']);
  assert.ok(renderSchema().endsWith('}\n'));
});

test('every object forbids unknown keys and every property has a description', () => {
  const nodes = objectNodes(JSON.parse(renderSchema()));
  assert.ok(nodes.length >= 15, `found ${nodes.length} objects`);
  for (const [pointer, node] of nodes) {
    assert.equal(node.additionalProperties, false, `${pointer} must set additionalProperties: false`);
    for (const [key, prop] of Object.entries(node.properties!)) {
      assert.ok(typeof prop.description === 'string' && prop.description.length > 10, `${pointer}/properties/${key} needs a description`);
    }
  }
});

test('the input side is published: sizes and durations accept strings, defaults are shown as written', () => {
  const doc = JSON.parse(renderSchema()) as { properties: Record<string, SchemaNode> };
  const storage = doc.properties.storage!.properties!;
  const maxSize = storage.max_size!;
  assert.equal(maxSize.default, '10GiB');
  const forms = (maxSize.anyOf as Array<{ type: string; pattern?: string }>).map((f) => f.type).sort();
  assert.deepEqual(forms, ['integer', 'string']);
  const pattern = new RegExp((maxSize.anyOf as Array<{ pattern?: string }>).find((f) => f.pattern)!.pattern!);
  assert.ok(pattern.test('64KiB') && pattern.test('1.5gb') && !pattern.test('10XB'), 'the size pattern works without regex flags');
  assert.equal(storage.retention!.default, '72h');
  assert.match(storage.retention!.description!, /Default "72h"/);
  assert.equal(doc.properties.http!.properties!.port!.type, 'integer');
});

test('docs/configuration.md is generated from the schema and up to date', async () => {
  const { renderConfigReference } = await import('../../src/config/reference-doc.js');
  const { readFileSync } = await import('node:fs');
  const onDisk = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  assert.equal(onDisk, renderConfigReference(), 'run `npm run schema` to regenerate docs/configuration.md');
  assert.match(onDisk, /\| `storage\.max_body` \|/);
});
