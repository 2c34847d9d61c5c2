import { salesFlowSuite } from './support/sales-flow-suite';

// The embedded default: nothing set, module data in SQLite files under the data dir.
salesFlowSuite({
  name: 'SQLite',
  async setUp() {
    return {};
  },
  tearDown() {},
});
