import { addressList } from '../config/addresses.js';
import type { QProxyConfig } from '../config/schema.js';
import { RecordingSelector, type SampleKey, type SelectionObserver, type SelectionRule } from '../recording/selector.js';

type RuleConfig = QProxyConfig['recording']['include'][number];

/**
 * The node's recording selector (recording.include / exclude / sample), or null when the config
 * selects everything. Every recorder of the node gets its own from the same config; they count
 * their skips into the same observer.
 */
export function createRecordingSelector(config: QProxyConfig, observer: SelectionObserver): RecordingSelector | null {
  const { include, exclude, sample } = config.recording;
  return RecordingSelector.create({
    include: include.map(ruleOf),
    exclude: exclude.map(ruleOf),
    sample: { rate: sample.rate, key: sampleKey(sample) },
    observer,
  });
}

function ruleOf(r: RuleConfig): SelectionRule {
  return {
    ...(r.protocol !== undefined && { protocol: r.protocol }),
    ...(r.methods !== undefined && { methods: r.methods }),
    ...(r.hosts !== undefined && { hosts: r.hosts }),
    ...(r.paths !== undefined && { paths: r.paths }),
    ...(r.headers !== undefined && { headers: r.headers }),
    ...(r.clients !== undefined && { clients: addressList(r.clients) }),
    ...(r.sni !== undefined && { sni: r.sni }),
  };
}

function sampleKey(s: QProxyConfig['recording']['sample']): SampleKey | null {
  if (s.header !== undefined) return { kind: 'header', name: s.header };
  if (s.cookie !== undefined) return { kind: 'cookie', name: s.cookie };
  if (s.client_address === true) return { kind: 'client_address' };
  return null;
}
