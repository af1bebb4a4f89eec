import { describeReliabilityInput } from './reliability-input.suite.js';

describeReliabilityInput('postgres');
