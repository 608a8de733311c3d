// Import boundaries between QProxy's components (eslint-plugin-boundaries). Each folder under src/
// is a component; src/core is the base layer every component may use and that uses none. A
// component may import another only in the direction listed under `uses`, and only through that
// component's public files (`entry`, paths inside its folder): its index.ts, or, for components
// without one, the files named here. Everything else in a folder is that component's own.
import path from 'node:path';
import boundaries from 'eslint-plugin-boundaries';

/**
 * A `uses` item is a component type, or [type, entry] where that pair may import more than the
 * component's public files (the parts of one component, e.g. sync's transports and its shared files).
 * @type {Record<string, { uses: Array<string | [string, string[]]>, entry: string[] }>}
 */
const components = {
  core: { uses: [], entry: ['**'] },
  recording: { uses: [], entry: ['model.ts', 'capture.ts', 'sink.ts', 'recorder.ts', 'tcp-recorder.ts', 'tcp-capture.ts', 'ws-recorder.ts', 'selector.ts', 'redaction.ts', 'redaction-digest.ts'] },
  config: { uses: [], entry: ['schema.ts', 'schema-playback.ts', 'load.ts', 'env.ts', 'files.ts', 'fields.ts', 'units.ts', 'addresses.ts'] },
  net: { uses: [], entry: ['connection-gate.ts', 'fd-guard.ts', 'refusal-log.ts', 'http-server-timeouts.ts'] },
  tls: { uses: [], entry: ['index.ts'] },
  discovery: { uses: [], entry: ['index.ts'] },
  protocols: { uses: ['recording'], entry: ['types.ts', 'registry.ts', 'conversation.ts'] },
  store: { uses: ['recording'], entry: ['index.ts'] },
  // Sync: a link skeleton (link/) and two transports on it (peer/, nats/) that know nothing of each
  // other; the skeleton knows no transport; the shared files in src/sync (wire format, compression,
  // the store port, the receiver's writer and ledger) know neither. Only index.ts names the transports.
  'sync-link': { uses: [['sync', ['**']], 'recording'], entry: ['**'] },
  'sync-peer': { uses: [['sync', ['**']], 'sync-link', 'recording', 'net'], entry: ['sender.ts', 'receiver.ts', 'sender-state.ts'] },
  'sync-nats': { uses: [['sync', ['**']], 'sync-link', 'recording', 'config'], entry: ['publisher.ts', 'consumer.ts', 'publisher-state.ts', 'options.ts'] },
  sync: {
    uses: ['sync-link', 'sync-peer', 'sync-nats', 'store', 'recording', 'net', 'config'],
    // index.ts is what the node builds links from; observer.ts is the port metrics implements.
    entry: ['index.ts', 'observer.ts'],
  },
  'proxy-http': { uses: ['discovery', 'recording', 'net'], entry: ['index.ts'] },
  'proxy-tcp': { uses: ['discovery', 'recording'], entry: ['index.ts'] },
  'proxy-forward': { uses: ['proxy-http', 'proxy-tcp', 'discovery', 'recording', 'tls'], entry: ['index.ts'] },
  playback: { uses: ['recording', 'protocols', 'net'], entry: ['index.ts'] },
  metrics: { uses: ['recording', 'playback', 'sync', 'store', 'net'], entry: ['metrics.ts'] },
  har: { uses: ['recording'], entry: ['export.ts', 'export-stream.ts', 'import.ts'] },
  api: { uses: ['recording', 'playback', 'protocols', 'har', 'config', 'net'], entry: ['api-server.ts'] },
  ui: { uses: ['api'], entry: ['index.ts'] },
  commands: { uses: ['recording', 'tls'], entry: ['index.ts', 'ca.ts'] },
  node: {
    uses: ['api', 'config', 'discovery', 'metrics', 'net', 'playback', 'proxy-http', 'proxy-tcp', 'proxy-forward', 'recording', 'store', 'sync', 'tls', 'ui'],
    entry: ['node.ts'],
  },
  demo: { uses: ['node', 'config'], entry: ['command.ts'] },
  cli: { uses: ['commands', 'config', 'demo', 'node'], entry: [] },
};

const folderOf = (type) => {
  const [top, sub] = type.split('-');
  return top === 'proxy' ? `src/proxy/${sub}` : sub ? `src/${top}/${sub}` : `src/${type}`;
};

const elements = Object.keys(components).map((type) =>
  type === 'cli' ? { type, pattern: 'src/cli.ts', mode: 'file' } : { type, pattern: folderOf(type) },
);

// The base imports nothing of QProxy's (its own files aside, which are always allowed).
const policies = Object.entries(components)
  .filter(([from]) => from !== 'core')
  .map(([from, c]) => ({
    from: { element: { type: from } },
    allow: {
      to: [
        { element: { type: 'core' } },
        ...c.uses.map((use) => {
          const [to, entry] = Array.isArray(use) ? use : [use, components[use].entry];
          return { element: { type: to, fileInternalPath: entry } };
        }),
      ],
    },
  }));

export default [
  {
    files: ['src/**/*.ts'],
    // The web UI's browser code is its own build; it reads core/documents.ts only.
    ignores: ['src/ui/app/**'],
    plugins: { boundaries },
    settings: {
      'import/resolver': { [path.join(import.meta.dirname, 'scripts/eslint-resolver.cjs')]: {} },
      'boundaries/elements': elements,
      'boundaries/legacy-warnings': false,
    },
    rules: {
      'boundaries/dependencies': ['error', { default: 'disallow', policies }],
      'boundaries/no-unknown-files': 'error',
    },
  },
];
