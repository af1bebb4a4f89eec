import { describeReliabilityStorage } from './reliability-storage.suite.js';

describeReliabilityStorage('postgres');
