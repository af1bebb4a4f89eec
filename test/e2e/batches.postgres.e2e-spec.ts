import { describeBatches } from './batches.suite.js';

describeBatches('postgres', 300);
