import type { AppProtocol } from '../recording/model.js';
import { MysqlSplitter } from './mysql/splitter.js';
import { describeMysql } from './mysql/describe.js';
import { PostgresSplitter } from './postgres/splitter.js';
import { describePostgres } from './postgres/describe.js';
import { RedisSplitter } from './redis/splitter.js';
import { describeRedis } from './redis/describe.js';
import type { ProtocolModule } from './types.js';

const MODULES: Record<AppProtocol, ProtocolModule> = {
  postgres: { name: 'postgres', splitter: () => new PostgresSplitter(), describe: describePostgres },
  redis: { name: 'redis', splitter: () => new RedisSplitter(), describe: describeRedis },
  mysql: { name: 'mysql', splitter: () => new MysqlSplitter(), describe: describeMysql },
};

/** The reader of one application protocol. */
export function protocolModule(protocol: AppProtocol): ProtocolModule {
  return MODULES[protocol];
}
