/**
 * docs/configuration.md, generated from the same JSON Schema as config.schema.json so the
 * reference in the docs cannot drift from what the loader accepts.
 */
import { z } from 'zod';
import { ENV_OVERRIDES } from './env.js';
import { configSchema } from './schema.js';

interface Node {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, Node>;
  anyOf?: Node[];
  items?: Node;
  required?: string[];
}

function typeOf(n: Node): string {
  if (n.enum) return n.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  if (n.anyOf) return [...new Set(n.anyOf.map(typeOf))].join(' \\| ');
  if (n.type === 'array') return `${n.items ? typeOf(n.items) : 'any'}[]`;
  return Array.isArray(n.type) ? n.type.join(' \\| ') : (n.type ?? 'any');
}

function objectBody(n: Node): Node | undefined {
  if (n.properties) return n;
  return n.anyOf?.find((a) => a.properties);
}

function rows(n: Node, prefix: string, out: string[]): void {
  const required = new Set(n.required ?? []);
  for (const [key, child] of Object.entries(n.properties ?? {})) {
    if (key === '$schema') continue;
    const path = prefix + key;
    const body = objectBody(child);
    const desc = (child.description ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');
    const type = body && !child.anyOf ? 'object' : typeOf(child);
    out.push(`| \`${path}\` | ${type} | ${required.has(key) ? 'yes' : ''} | ${desc} |`);
    if (body) rows(body, `${path}.`, out);
    // A list of objects: the keys of each item, as `list[].key`.
    const item = child.type === 'array' && child.items ? objectBody(child.items) : undefined;
    if (item) rows(item, `${path}[].`, out);
  }
}

export function renderConfigReference(): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input' }) as Node;
  const out = [
    '# Configuration reference',
    '',
    '<!-- Generated from the config schema by `npm run schema`; do not edit by hand. -->',
    '',
    'QProxy reads `config.json` in the working directory, or the file named by `CONFIG_PATH`, or the file',
    'given with `--config`. Unknown keys are errors. Sizes are numbers of bytes or strings such as',
    '`"64KiB"`, `"10GiB"`; durations are numbers of milliseconds or strings such as `"500ms"`, `"30s"`,',
    '`"72h"`. Relative file paths are resolved against the config file\'s folder. `qproxy check-config FILE`',
    'validates a file without starting anything, with the checks a starting node makes: every certificate,',
    'key, CA bundle and NATS creds file the config names must be readable and hold what its key needs (a',
    'key must belong to the certificate next to it), whether or not the node\'s mode uses that section.',
    'Editors complete and check the file when it starts with `"$schema": "./config.schema.json"`.',
    '',
    `Secrets and the log level can come from the environment instead of the file: ${ENV_OVERRIDES.map((o) => `\`${o.env}\` (${o.path.join('.')})`).join(', ')}.`,
    'The `peer.*` and `nats.*` ones apply only when the file has that section.',
    '',
    '| key | type | required | meaning and default |',
    '| --- | --- | --- | --- |',
  ];
  rows(schema, '', out);
  return `${out.join('\n')}\n`;
}
