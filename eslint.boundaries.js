// Import boundaries between QProxy's components (eslint-plugin-boundaries). Each folder under src/
// is a component; src/core is the base layer every component may use and that uses none. A
// component may import another only in the direction listed under `uses`, and only through that
// component's public files (`entry`, paths inside its folder): its index.ts, or, for components
// without one, the files named here. Everything else in a folder is that component's own.
import path from 'node:path';
import boundaries from 'eslint-plugin-boundaries';

/** @type {Record<string, { uses: string[], entry: string[] }>} */
const components = {
  core: { uses: [], entry: ['**'] },
  recording: { uses: [], entry: ['model.ts', 'capture.ts', 'sink.ts', 'recorder.ts', 'tcp-recorder.ts', 'selector.ts', 'redaction.ts', 'redaction-digest.ts'] },
  config: { uses: [], entry: ['schema.ts', 'schema-playback.ts', 'load.ts', 'env.ts', 'files.ts', 'fields.ts', 'units.ts', 'addresses.ts'] },
  net: { uses: [], entry: ['connection-gate.ts', 'fd-guard.ts', 'refusal-log.ts', 'http-server-timeouts.ts'] },
  tls: { uses: [], entry: ['index.ts'] },
  discovery: { uses: [], entry: ['index.ts'] },
  protocols: { uses: ['recording'], entry: ['types.ts', 'registry.ts', 'conversation.ts'] },
  store: { uses: ['recording'], entry: ['index.ts'] },
  sync: {
    uses: ['store', 'recording', 'net', 'config'],
    // observer.ts is the port metrics implements. The rest is temporary: the composition root
    // builds the peer and NATS links from their own files until the sync link skeleton (issue 16,
    // after the storage rewrite) gives sync one entry.
    entry: [
      'observer.ts',
      'peer/receiver.ts',
      'peer/sender.ts',
      'peer/sender-state.ts',
      'peer/sender-status.ts',
      'store-port.ts',
      'nats/consumer.ts',
      'nats/options.ts',
      'nats/publisher.ts',
      'nats/publisher-state.ts',
    ],
  },
  'proxy-http': { uses: ['discovery', 'recording', 'net'], entry: ['index.ts'] },
  'proxy-tcp': { uses: ['discovery', 'recording'], entry: ['index.ts'] },
  'proxy-forward': { uses: ['proxy-http', 'proxy-tcp', 'discovery', 'recording', 'tls'], entry: ['index.ts'] },
  playback: { uses: ['recording', 'protocols', 'net'], entry: ['index.ts'] },
  metrics: { uses: ['recording', 'playback', 'sync', 'store', 'net'], entry: ['metrics.ts'] },
  har: { uses: ['recording'], entry: ['export.ts', 'import.ts'] },
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

const folderOf = (type) => (type.startsWith('proxy-') ? `src/proxy/${type.slice('proxy-'.length)}` : `src/${type}`);

const elements = Object.keys(components).map((type) =>
  type === 'cli' ? { type, pattern: 'src/cli.ts', mode: 'file' } : { type, pattern: folderOf(type) },
);

// The base imports nothing of QProxy's (its own files aside, which are always allowed).
const policies = Object.entries(components)
  .filter(([from]) => from !== 'core')
  .map(([from, c]) => ({
    from: { element: { type: from } },
    allow: {
      to: [{ element: { type: 'core' } }, ...c.uses.map((to) => ({ element: { type: to, fileInternalPath: components[to].entry } }))],
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
