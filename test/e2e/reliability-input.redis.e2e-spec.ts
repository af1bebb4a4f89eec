import { describeReliabilityInput } from './reliability-input.suite.js';

describeReliabilityInput('redis');
