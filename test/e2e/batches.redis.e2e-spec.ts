import { describeBatches } from './batches.suite.js';

describeBatches('redis', 1000);
