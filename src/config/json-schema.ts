/**
 * The published JSON Schema of the config file (`config.schema.json`), generated from the zod schema
 * so the two cannot drift. The input side is used: editors must accept `"64KiB"` and `"30s"`, and
 * sections with defaults are optional.
 */
import { z } from 'zod';
import { configSchema } from './schema.js';

/** Stable identifier of the schema document (a URN: it names the schema, it is not fetched). */
export const CONFIG_SCHEMA_ID = 'urn:qproxy:config-schema';

/** The schema document as written to config.schema.json: pretty-printed, with a trailing newline. */
export function renderSchema(): string {
  const { $schema, ...rest } = z.toJSONSchema(configSchema, { io: 'input' });
  const doc = { $schema, $id: CONFIG_SCHEMA_ID, title: 'QProxy configuration', ...rest };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
